"""`qdtui serve` in a real headless Chromium and with raw WebSocket clients: the app renders and works with the
printed token; a wrong token, a foreign Origin, an unknown Host and a full server are refused; idle sessions end;
app sessions end with the server (kill -9 too)."""

from __future__ import annotations

import asyncio
import http.server
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from browser import (Browser, alive, app_processes, find_chromium, free_port, served_address, start_serve,
                     wait_port, wait_until)
from helpers import scaled_timeout

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


class Served:
    """`qdtui serve` on a free port for one test: its address (with the token), port and process."""

    def __init__(self, home, *args: str) -> None:
        self.port = free_port()
        self.proc = start_serve(home, self.port, *args)
        self.url = served_address(self.proc)
        self.token = self.url.partition("?token=")[2]
        wait_port(self.port, 60)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.communicate(timeout=scaled_timeout(60))


def _status(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def _ws(port: int, query: str = "", **headers: str):
    """A raw WebSocket to the server: the open socket, or the HTTP status it was refused with."""
    import aiohttp

    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=80&height=24{query}", headers=headers)
    except aiohttp.WSServerHandshakeError as e:
        await session.close()
        return e.status
    ws.qd_session = session
    return ws


async def _close(ws) -> None:
    await ws.close()
    await ws.qd_session.close()


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

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
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


def test_raw_clients_foreign_origin_wrong_host_and_wrong_token_are_refused(tmp_path) -> None:
    server = Served(tmp_path / "home")
    port, tok = server.port, f"&token={server.token}"
    own = f"http://127.0.0.1:{port}"
    try:
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(_ws(port, tok, Origin="http://evil.example")) == 403
        assert loop.run_until_complete(_ws(port, tok, Origin=f"http://127.0.0.1:{port + 1}")) == 403
        assert loop.run_until_complete(_ws(port, tok, Origin=own, Host=f"evil.example:{port}")) == 403
        assert loop.run_until_complete(_ws(port, "&token=wrong", Origin=own)) == 403
        assert loop.run_until_complete(_ws(port, "", Origin=own)) == 403
        status, text = _status(own + "/", {"Host": f"rebound.example:{port}"})  # DNS rebinding: a name not ours
        assert status == 403 and "does not answer to the name" in text
        assert _status(own + "/?token=wrong")[0] == 403 and _status(own + "/")[0] == 403
        assert _status(server.url)[0] == 200 and _status(f"http://localhost:{port}/?token={server.token}")[0] == 200
        ws = loop.run_until_complete(_ws(port, tok, Origin=own))
        assert not isinstance(ws, int)
        wait_until(lambda: len(app_processes(server.proc.pid)) == 1, 60, "the app's start")
        loop.run_until_complete(_close(ws))
        wait_until(lambda: app_processes(server.proc.pid) == [], 60, "the app's end")
        assert app_processes(server.proc.pid) == []
        loop.close()
    finally:
        server.close()


def test_session_limit_gives_a_clear_page_and_idle_sessions_end(tmp_path) -> None:
    server = Served(tmp_path / "home", "--max-sessions", "2", "--idle-minutes", "0.05")
    port, tok, own = server.port, f"&token={server.token}", f"http://127.0.0.1:{server.port}"
    loop = asyncio.new_event_loop()
    try:
        first, second = (loop.run_until_complete(_ws(port, tok, Origin=own)) for _ in range(2))
        assert not isinstance(first, int) and not isinstance(second, int)
        assert loop.run_until_complete(_ws(port, tok, Origin=own)) == 503
        status, text = _status(server.url)
        assert status == 503 and "2 browser sessions are open, the most this server allows (--max-sessions 2)" in text
        wait_until(lambda: len(app_processes(server.proc.pid)) == 2, 90, "two apps")
        # nobody types: after 3 s without input the server ends both sessions, saying why, and their apps
        closed = [loop.run_until_complete(_until_closed(ws)) for ws in (first, second)]
        assert all("idle for 0.05 minutes" in reason for reason in closed), closed
        wait_until(lambda: app_processes(server.proc.pid) == [], 60, "the idle apps' end")
        assert _status(server.url)[0] == 200
    finally:
        loop.close()
        server.close()


async def _until_closed(ws) -> str:
    """Read until the server closes the socket; its close reason."""
    import aiohttp

    while True:
        msg = await ws.receive()
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            await ws.qd_session.close()
            return f"{msg.extra or ''} (code {ws.close_code})"


def test_kill_9_of_the_server_ends_its_app_sessions(tmp_path) -> None:
    server = Served(tmp_path / "home")
    loop = asyncio.new_event_loop()
    try:
        ws = loop.run_until_complete(_ws(server.port, f"&token={server.token}"))
        wait_until(lambda: len(app_processes(server.proc.pid)) == 1, 90, "the app's start")
        app = app_processes(server.proc.pid)[0]
        server.proc.kill()
        server.proc.wait()
        wait_until(lambda: not alive(app), 60, "the app's end after kill -9 of its server")
        loop.run_until_complete(ws.qd_session.close())
    finally:
        loop.close()
        server.close()
