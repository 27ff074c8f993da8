"""A headless Chromium driven over the DevTools protocol, for tests of `qdtui serve`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpers import scaled_timeout

# The text on the page's terminal, one line per row (xterm.js draws on a canvas, so the DOM has none).
SCREEN_TEXT = """(() => {
  const s = window.qdSession; if (!s) return "";
  const b = s.terminal.buffer.active, out = [];
  for (let i = 0; i < s.terminal.rows; i++) { const l = b.getLine(i); out.push(l ? l.translateToString(true) : ""); }
  return out.join("\\n");
})()"""


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float) -> None:
    """Wait until 127.0.0.1:port accepts connections."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def start_serve(home: Path, port: int, *args: str) -> subprocess.Popen:
    """`qdtui serve --port PORT` on 127.0.0.1 with its own store, in its own process group."""
    env = dict(os.environ, QD_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "qdtui", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def served_address(server: subprocess.Popen) -> str:
    """The address `qdtui serve` printed (with its token), read from its first line of output."""
    line = server.stdout.readline().decode(errors="replace")
    if not line.startswith("qd is served at "):
        raise RuntimeError(f"qdtui serve said {line!r}{server.stdout.read().decode(errors='replace')[-2000:]}")
    return line.split()[4]


def app_processes(server_pid: int) -> list[int]:
    """The app processes (one per browser session) that the server started."""
    try:
        children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    except OSError:
        return []
    return [int(c) for c in children if alive(int(c))]


def alive(pid: int) -> bool:
    """Whether pid is a running process (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll condition() until it holds (timeout scaled for this machine); TimeoutError naming what did not happen."""
    timeout = scaled_timeout(timeout)
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not happen in {timeout:.0f} s")
        time.sleep(0.1)


class Served:
    """`qdtui serve` on a free port with its own store: its address (with the token), port, token and process."""

    def __init__(self, home: Path, *args: str) -> None:
        self.port = free_port()
        self.proc = start_serve(home, self.port, *args)
        self.url = served_address(self.proc)
        self.token = self.url.partition("?token=")[2]
        wait_port(self.port, 60)

    def close(self) -> None:
        """Stop the server (SIGTERM to its process group) and wait for it."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.communicate(timeout=scaled_timeout(60))


def http_status(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """The status and body of a GET (an error status too)."""
    import urllib.error

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def ws_open(port: int, query: str = "", **headers: str):
    """A raw WebSocket to the server's /ws: the open socket (close it with ws_close), or the refusal's status."""
    import aiohttp

    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(f"ws://127.0.0.1:{port}/ws?width=80&height=24{query}", headers=headers)
    except aiohttp.WSServerHandshakeError as e:
        await session.close()
        return e.status
    ws.qd_session = session
    return ws


async def ws_close(ws) -> None:
    """Close a socket from ws_open and its client session."""
    await ws.close()
    await ws.qd_session.close()


async def ws_closed_reason(ws) -> str:
    """Read until the server closes the socket: its close reason and code."""
    import aiohttp

    while True:
        msg = await ws.receive()
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            await ws.qd_session.close()
            return f"{msg.extra or ''} (code {ws.close_code})"


class Browser:
    """One headless Chromium page: open a URL, read the served terminal's text, type, take screenshots."""

    def __init__(self, executable: str, profile: Path, size: tuple[int, int] = (1000, 640)) -> None:
        self.proc = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
             "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        end = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > end or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        self.ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
        self.loop = asyncio.new_event_loop()
        self._ids = 0
        self.loop.run_until_complete(self._connect())

    async def _connect(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(self.ws_url, max_msg_size=0)

    async def _call(self, method: str, **params) -> dict:
        self._ids += 1
        my = self._ids
        await self.ws.send_str(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def call(self, method: str, **params) -> dict:
        """One DevTools command and its result."""
        return self.loop.run_until_complete(self._call(method, **params))

    def open(self, url: str) -> None:
        """Navigate the page to url."""
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result", {}).get("value")

    def screen_text(self) -> str:
        """The served terminal's text now ('' before the app's first output)."""
        return self.evaluate(SCREEN_TEXT) or ""

    def wait_text(self, needle: str, timeout: float = 60.0) -> str:
        """Wait until the terminal shows needle; the screen's text."""
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = self.screen_text()
            if needle in text:
                return text
            time.sleep(0.3)
        raise TimeoutError(f"the page never showed {needle!r}; last screen:\n{text}")

    def type(self, keys: str) -> None:
        """Send keys to the app as the terminal would."""
        self.evaluate(f"window.qdSession.socket.send(JSON.stringify(['stdin', {json.dumps(keys)}]))")

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the page."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Close the page and stop Chromium."""
        if getattr(self, "session", None) is not None:
            self.loop.run_until_complete(self.ws.close())
            self.loop.run_until_complete(self.session.close())
            self.loop.close()
            self.session = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
