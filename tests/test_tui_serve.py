"""`qdtui serve` in a real headless Chromium: the home screen's text, and a gallery drawn in real pixels."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from browser import Browser, find_chromium, free_port, start_serve, wait_port

CHROMIUM = find_chromium()


def test_serve_refuses_a_busy_port(tmp_path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "qdtui", "serve", "--port", str(port)], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, QD_HOME=str(tmp_path)))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"qdtui: error: cannot listen on 127.0.0.1:{port} (in use or not this "
                                "machine's); pick another with --port N")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
def test_browser_shows_home_screen_and_a_gallery_in_pixels(tmp_path) -> None:
    port = free_port()
    server = start_serve(tmp_path / "home", port)
    browser = None
    try:
        wait_port(port, 60)
        browser = Browser(CHROMIUM, tmp_path / "profile", size=(1000, 640))
        browser.open(f"http://127.0.0.1:{port}/")
        home = browser.wait_text("No runs yet", 90)
        assert "qd — Quick, Draw! workbench" in home and "demo (synthetic)" in home
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
        os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
