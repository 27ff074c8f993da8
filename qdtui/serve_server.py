"""The web server behind `qdtui serve`: textual-serve behind a Host allow-list, same-origin WebSockets, a token,
a session limit and an idle timeout; each browser session is one app process that ends with the server."""

from __future__ import annotations

import asyncio
import hmac
import html
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import WSCloseCode, WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int
from yarl import URL

from qdcore.lifetime import child_options

log = logging.getLogger("textual-serve")
STOP_GRACE_S = 10.0  # an app told to quit that has not ended by then is killed
FOCUS_AFTER_BYTES = 1024  # the app's first screen has been drawn: its start-up blur is behind us


@dataclass(frozen=True)
class Guard:
    """Who may use the server: Host names, the token (None: no token), sessions at once, idle seconds."""

    hosts: frozenset[str]
    token: str | None
    max_sessions: int
    idle_s: float
    cookie: str

    def host_ok(self, host_header: str) -> bool:
        """A Host this server answers to: an address literal (never a DNS-rebinding name) or an allowed name."""
        name = _hostname(host_header)
        if not name:
            return False
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in self.hosts

    def token_ok(self, request: web.Request) -> bool:
        """The right token in the query (?token=) or in the cookie the page set."""
        if self.token is None:
            return True
        want = self.token.encode()
        return any(hmac.compare_digest(given.encode("utf-8", "replace"), want)
                   for given in (request.query.get("token"), request.cookies.get(self.cookie)) if given)

    def origin_ok(self, request: web.Request) -> bool:
        """A browser's WebSocket comes from this server's own page (no Origin: not a browser, the token decides)."""
        origin = request.headers.get("Origin")
        return origin is None or _authority(origin) == _authority(f"http://{request.host}")


def _hostname(host_header: str) -> str:
    try:
        return (URL(f"http://{host_header}").host or "").lower().strip("[]")
    except ValueError:
        return ""


def _authority(url: str) -> tuple[str, int | None]:
    try:
        u = URL(url)
    except ValueError:
        return ("", -1)
    return ((u.host or "").lower(), u.explicit_port)


def page(status: int, title: str, text: str) -> web.Response:
    """A plain page saying why (403 wrong token, 503 full, ...)."""
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>qd: {html.escape(title)}</title></head>"
            "<body style='background:#0c181f;color:#eee;font-family:monospace;padding:3em;max-width:46em'>"
            f"<h2>qd: {html.escape(title)}</h2><p>{html.escape(text)}</p></body></html>")
    return web.Response(status=status, text=body, content_type="text/html")


class Session(AppService):
    """One browser session's app process: started without a shell, ended with the server (parent-death signal),
    told of the page's focus once its first screen is up, killed if it does not quit when asked."""

    def __init__(self, argv: list[str], env: dict[str, str], **kw: Any) -> None:
        super().__init__(" ".join(argv), **kw)
        self.argv, self.extra_env = argv, env
        self.last_input = time.monotonic()
        self.page_focus: bool | None = None
        self._sent = 0

    async def _open_app_process(self, width: int = 80, height: int = 24):
        env = {**self._build_environment(width=width, height=height), **self.extra_env}
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, **child_options())
        self._stdin = process.stdin
        return process

    async def on_data(self, payload: bytes) -> None:
        before, self._sent = self._sent, self._sent + len(payload)
        await super().on_data(payload)
        # The web driver starts the app blurred (no footer keys) until the page says focus; a focus sent while the
        # app starts can arrive before that blur, so the page's state is said again once the first screen is out.
        if before < FOCUS_AFTER_BYTES <= self._sent and self.page_focus:
            await self.focus()

    async def stop(self) -> None:
        if self._task is None:
            return
        try:
            await asyncio.wait_for(super().stop(), STOP_GRACE_S)
        except asyncio.TimeoutError:
            self._task = None
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


class QdServer(Server):
    """textual-serve's server with the guard applied to every request, and one Session per browser tab."""

    def __init__(self, argv: list[str], env: dict[str, str], guard: Guard, **kw: Any) -> None:
        super().__init__(" ".join(argv), **kw)
        self.argv, self.env, self.guard = argv, env, guard
        self.sessions: dict[web.WebSocketResponse, Session] = {}

    def initialize_logging(self) -> None:
        """Warnings only: the access log would print every request, the token in the address too."""
        logging.basicConfig(level="WARNING", format="%(message)s")

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._check)
        return app

    @web.middleware
    async def _check(self, request: web.Request, handler) -> web.StreamResponse:
        g = self.guard
        if not g.host_ok(request.host):
            return page(403, "unknown host", f"this server does not answer to the name {request.host!r}; open the "
                        "address `qdtui serve` printed (or start it with --allow-host NAME)")
        if request.path.startswith("/static/"):
            return await handler(request)
        if not g.token_ok(request):
            return page(403, "token needed", "open the address `qdtui serve` printed, with its ?token=...; the "
                        "token changes each time the server starts")
        if request.path == "/ws" and not g.origin_ok(request):
            return page(403, "other origin", "a page of another site may not drive this app")
        if request.path in ("/", "/ws") and len(self.sessions) >= g.max_sessions:
            return page(503, "all sessions in use", f"{len(self.sessions)} browser sessions are open, the most "
                        f"this server allows (--max-sessions {g.max_sessions}); close a tab that shows qd and "
                        f"reload, or wait: a session idle for {g.idle_s / 60:g} minutes ends")
        response = await handler(request)
        if g.token is not None and request.query.get("token"):
            # the page's own requests (its WebSocket, a reload without ?token=) carry it from now on
            response.set_cookie(g.cookie, g.token, httponly=True, samesite="Strict", path="/")
        return response

    async def on_startup(self, app: web.Application) -> None:
        app["reaper"] = asyncio.create_task(self._reap())

    async def on_shutdown(self, app: web.Application) -> None:
        app["reaper"].cancel()
        for ws in list(self.sessions):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"the qd server stopped")

    async def _reap(self) -> None:
        """End sessions without a key, click or resize for the idle time (their tab may be long forgotten)."""
        every = max(0.2, min(30.0, self.guard.idle_s / 4))
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for ws, session in list(self.sessions.items()):
                if now - session.last_input > self.guard.idle_s:
                    minutes = f"{self.guard.idle_s / 60:g}"
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                   message=f"idle for {minutes} minutes: reload to start again".encode())

    async def handle_index(self, request: web.Request) -> web.Response:
        """textual-serve's page with its addresses taken from the request (the Host the browser used)."""
        base = f"{request.scheme}://{request.host}"
        ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
        context = {"font_size": to_int(request.query.get("fontsize", "16"), 16), "app_websocket_url": ws,
                   "config": {"static": {"url": f"{base}/static/"}}, "application": {"name": self.title}}
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        session = Session(self.argv, self.env, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                          close=websocket.close, download_manager=self.download_manager)
        self.sessions[websocket] = session  # counted before the first await: the limit holds under a rush
        try:
            await websocket.prepare(request)
            await session.start(width, height)
            await self._messages(websocket, session)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.exception(error)
        finally:
            self.sessions.pop(websocket, None)
            await session.stop()
        return websocket

    async def _messages(self, websocket: web.WebSocketResponse, session: Session) -> None:
        """The browser's messages to the app; keys, resizes and focus changes count as activity, pings do not."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, *rest = message.json()
            except (ValueError, TypeError):
                continue
            if kind != "ping":
                session.last_input = time.monotonic()
            if kind == "stdin" and rest and isinstance(rest[0], str):
                await session.send_bytes(rest[0].encode("utf-8"))
            elif kind == "resize" and rest and isinstance(rest[0], dict):
                await session.set_terminal_size(to_int(str(rest[0].get("width")), 80),
                                                to_int(str(rest[0].get("height")), 24))
            elif kind == "ping" and rest:
                await websocket.send_json(["pong", rest[0]])
            elif kind in ("focus", "blur"):
                session.page_focus = kind == "focus"
                await (session.focus() if session.page_focus else session.blur())
