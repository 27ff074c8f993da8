"""`qdtui serve` in a real headless Chromium and with raw WebSocket clients: the app renders and works with the
printed token; a wrong token, a foreign Origin, an unknown Host and a full server are refused; idle sessions end;
app sessions end with the server (kill -9 too)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from browser import Browser, Served, app_processes, find_chromium, wait_until
from helpers import scaled_timeout
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import drill_faults

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")


def test_serve_refuses_a_busy_port(tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "qdtui", "serve", "--port", str(port)], capture_output=True,
                           text=True, timeout=scaled_timeout(60), env=dict(os.environ, QD_HOME=str(tmp_path)))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"qdtui: error: cannot listen on 127.0.0.1:{port} (in use or not this "
                                "machine's); pick another with --port N")


@pytest.mark.parametrize("args, message", [
    (["--port", "0"], "qdtui: error: --port=0 must be a whole number >= 1 and <= 65535"),
    (["--max-sessions", "many"], "qdtui: error: --max-sessions='many' must be a whole number >= 1 and <= 256"),
    (["--token", "abc", "--no-token"], "qdtui: error: --token and --no-token contradict each other; give one"),
])
def test_bad_serve_options_are_one_line(tmp_path, args, message) -> None:
    r = subprocess.run([sys.executable, "-m", "qdtui", "serve", *args], capture_output=True, text=True, timeout=scaled_timeout(60),
                       env=dict(os.environ, QD_HOME=str(tmp_path)))
    assert (r.returncode, r.stderr.strip()) == (2, message)


@needs_chromium
def test_browser_shows_home_screen_and_a_gallery_in_pixels(tmp_path) -> None:
    server = Served(tmp_path / "home")
    browser = None
    try:
        browser = Browser(CHROMIUM, tmp_path / "profile", size=(1000, 640))
        browser.open(server.url)
        home = browser.wait_text("No runs yet", 90)
        assert "qd — Quick, Draw! workbench" in home and "demo (synthetic)" in home
        assert home.splitlines()[0].strip().startswith("◊")  # a glyph the page's fonts have (was a box)
        # the footer's keys without a first click: the page focuses its terminal and the app knows it
        footer = browser.wait_text("t Train", 60).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer
        browser.type("d")
        screen = browser.wait_text("demo:circle#", 90)
        # sixel mode: the drawings' cells hold no half-block characters, the page shows their pixels
        assert "▀" not in screen
        png = browser.screenshot(tmp_path / "gallery.png")
        shot = np.asarray(Image.open(png).convert("L"))
        lines = screen.splitlines()
        row = next(i for i, line in enumerate(lines) if "demo:circle#" in line)
        # the first drawing sits above its captions, right of the category list (cells are 10x20 pixels)
        col = lines[row].index("demo:circle#")
        box = shot[(row - 15) * 20:(row - 1) * 20, col * 10:(col + 28) * 10]
        assert (box > 200).mean() > 0.03, "no bright strokes where the first drawing should be"
    finally:
        if browser is not None:
            browser.close()
        server.close()


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Another site's page (another port is another origin) that tries to drive the app over a WebSocket."""

    target = ""

    def do_GET(self) -> None:
        page = ("<html><body><script>window.result = 'pending';"
                f"const ws = new WebSocket({self.target!r});"
                "ws.onopen = () => { window.result = 'open'; ws.send(JSON.stringify(['stdin', '\\u0010'])); };"
                "ws.onclose = () => { if (window.result === 'pending') window.result = 'refused'; };"
                "</script></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args) -> None:
        pass


@needs_chromium
def test_a_wrong_token_gets_403_and_another_sites_page_cannot_drive_the_app(tmp_path) -> None:
    server = Served(tmp_path / "home")
    browser = attacker = None
    try:
        browser = Browser(CHROMIUM, tmp_path / "profile")
        base = f"http://127.0.0.1:{server.port}/"
        browser.open(base + "?token=wrong")
        wait_until(lambda: "token needed" in (browser.evaluate("document.body && document.body.innerText") or ""),
                   60, "the 403 page")
        assert browser.evaluate("performance.getEntriesByType('navigation')[0].responseStatus") == 403
        assert app_processes(server.proc.pid) == []
        # the right token: the app runs, and the page's cookie is set (a site on another port shares it)
        browser.open(server.url)
        browser.wait_text("No runs yet", 90)
        apps = app_processes(server.proc.pid)
        assert len(apps) == 1
        _Attacker.target = f"ws://127.0.0.1:{server.port}/ws?token={server.token}"
        attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
        threading.Thread(target=attacker.serve_forever, daemon=True).start()
        browser.open(f"http://127.0.0.1:{attacker.server_address[1]}/")
        wait_until(lambda: browser.evaluate("window.result") not in (None, "pending"), 60, "the attack's outcome")
        assert browser.evaluate("window.result") == "refused"  # even with the token: not its own page
        assert app_processes(server.proc.pid) == apps  # no app was started for it
    finally:
        if attacker is not None:
            attacker.shutdown()
        if browser is not None:
            browser.close()
        server.close()


def test_raw_clients_are_refused_limited_and_reaped_and_sessions_end_with_the_server() -> None:
    # foreign Origins, DNS-rebinding Hosts, wrong/missing tokens (403), a third session (503, a page saying so),
    # idle sessions ended with the reason, the app of a kill -9'd server gone (benchmarks/drill_faults.py)
    tried, held, problems = drill_faults.serve_guard_drill(1)
    assert problems == [] and held == tried == 13
