"""`qdtui serve`: the same app in a browser (textual-serve), drawings as sixel images in the page's terminal.

Safe by default on a shared machine: it listens on this machine only, answers only to its own names (no DNS
rebinding), takes WebSockets only from its own page, wants the per-launch token of the address it prints (as
Jupyter does), runs at most --max-sessions app processes and ends sessions left idle."""

from __future__ import annotations

import ipaddress
import secrets
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from qdcore.options import option

WEB = Path(__file__).parent / "web"
PAGE_SCRIPTS = ("addon-image.js", "qd-cells.js", "qd-page.js")
# Where textual-serve's page builds its terminal: the image addon is loaded there, and the session
# object is left on `window` so a test (or a curious user) can read the screen's text.
_OPEN = "this.terminal.open(e),"
_OPEN_PATCHED = ("this.terminal.open(e),window.ImageAddon&&this.terminal.loadAddon("
                 "new window.ImageAddon.ImageAddon({sixelSupport:!0})),window.qdCells&&window.qdCells(this.terminal),"
                 "window.qdSession=this,")
# Hooks for qd-page.js: the terminal takes the keyboard when connected; a closed session says why.
_HOOKS = (('document.querySelector("body").classList.add("-loaded")})',
           'document.querySelector("body").classList.add("-loaded"),window.qdOpened&&window.qdOpened(this)})'),
          ('console.log("CLOSED"),', 'console.log("CLOSED"),window.qdClosed&&window.qdClosed(e),'))
# The page's font from textual-serve's own files rather than Google's servers (offline boxes, no third party).
_FONT_LINK = '<link\n      rel="stylesheet"\n      href="https://fonts.googleapis.com/css?family=Roboto%20Mono"\n    />'
_FONT_FACE = ("<style>@font-face{font-family:'Roboto Mono';font-weight:100 700;"
              "src:url('{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf') format('truetype')}</style>")


def build_web_folder(dest: Path) -> bool:
    """Copy textual-serve's templates and statics into dest with qd's additions; False if the page could not be
    patched for pixels (the browser then shows half-blocks)."""
    import textual_serve

    src = Path(textual_serve.__file__).parent
    shutil.copytree(src / "templates", dest / "templates", dirs_exist_ok=True)
    shutil.copytree(src / "static", dest / "static", dirs_exist_ok=True)
    js = dest / "static" / "js" / "textual.js"
    code = js.read_text(encoding="utf-8")
    pixels = code.count(_OPEN) == 1
    for old, new in ((_OPEN, _OPEN_PATCHED), *_HOOKS):
        if code.count(old) == 1:  # another textual-serve release: what does not match is left out
            code = code.replace(old, new)
    js.write_text(code, encoding="utf-8")
    for name in PAGE_SCRIPTS:
        shutil.copy(WEB / name, dest / "static" / "js" / name)
    page = dest / "templates" / "app_index.html"
    html = page.read_text(encoding="utf-8").replace(_FONT_LINK, _FONT_FACE)
    tag = '<script src="{{ config.static.url }}js/textual.js"></script>'
    extra = "".join(f'<script src="{{{{ config.static.url }}}}js/{name}"></script>\n    ' for name in PAGE_SCRIPTS)
    page.write_text(html.replace(tag, extra + tag), encoding="utf-8")
    return pixels


def port_free(host: str, port: int) -> bool:
    """Whether host:port can be listened on now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def is_loopback(host: str) -> bool:
    """Whether host names this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


WILDCARD = ("", "0.0.0.0", "::")


@dataclass
class ServeConfig:
    """`qdtui serve`'s options, declared once (flags, checks and --help come from here)."""

    host: str = option("127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    port: int = option(8000, help="port to listen on", min=1, max=65535)
    token: str | None = option(None, help="the token the address must carry (default: a new random one each "
                               "launch, printed in the address)", metavar="TEXT")
    no_token: bool = option(False, help="no token: only behind your own authentication (a proxy that logs "
                            "people in); the Host and Origin checks stay")
    max_sessions: int = option(4, help="browser sessions at once, each one app process; more get a page saying "
                               "so", min=1, max=256, metavar="N")
    idle_minutes: float = option(30.0, help="end a session after this many minutes without a key, click or resize",
                                 min=0.01, max=7 * 24 * 60, metavar="MIN")
    allow_host: str | None = option(None, help="more names the server answers to, comma-separated (e.g. the name "
                                    "of a proxy in front of it); addresses and this machine's names always work",
                                    metavar="NAMES")

    def hosts(self) -> frozenset[str]:
        """The Host names allowed (address literals are always allowed: DNS rebinding needs a name)."""
        names = {"localhost", "localhost.localdomain", self.host.lower()}
        if self.host in WILDCARD:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        names |= {n.strip().lower() for n in (self.allow_host or "").split(",") if n.strip()}
        return frozenset(n for n in names if n not in WILDCARD)


def app_argv(data: str | None, home: str | None, graphics: str) -> list[str]:
    """The command textual-serve runs for each browser session."""
    args = [sys.executable, "-m", "qdtui", "--graphics", graphics]
    if data:
        args += ["--data", data]
    if home:
        args += ["--home", str(Path(home).expanduser().resolve())]
    return args


def address(cfg: ServeConfig, token: str | None) -> str:
    """The address to open (with the token, as Jupyter prints it)."""
    host = socket.gethostname() if cfg.host in WILDCARD else cfg.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{cfg.port}/" + (f"?token={token}" if token else "")


def serve(cfg: ServeConfig, data: str | None, home: str | None, graphics: str) -> int:
    """Serve the app until Ctrl-C; an exit code (2 with one line on stderr when it cannot start)."""
    if not port_free(cfg.host, cfg.port):
        print(f"qdtui: error: cannot listen on {cfg.host}:{cfg.port} (in use or not this machine's); "
              "pick another with --port N", file=sys.stderr)
        return 2
    if cfg.no_token and cfg.token:
        print("qdtui: error: --token and --no-token contradict each other; give one", file=sys.stderr)
        return 2
    token = None if cfg.no_token else (cfg.token or secrets.token_urlsafe(24))
    if not is_loopback(cfg.host):
        who = "anyone who reaches it can use the app" if token is None else "anyone with the address can use the app"
        print(f"qdtui: warning: serving on {cfg.host}: {who}; the address is plain http (no TLS)", file=sys.stderr)
    from qdtui.serve_server import Guard, QdServer

    guard = Guard(cfg.hosts(), token, cfg.max_sessions, cfg.idle_minutes * 60, f"qd-token-{cfg.port}")
    with tempfile.TemporaryDirectory(prefix="qdtui-web-") as tmp:
        web = Path(tmp)
        pixels = build_web_folder(web)
        if graphics == "auto":
            graphics = "sixel" if pixels else "halfblock"
        # The page makes its cells 10x20 pixels (qd-cells.js); the app draws its images for that size.
        env = {"TEXTUAL_CELL_WIDTH": "10", "TEXTUAL_CELL_HEIGHT": "20"}
        server = QdServer(app_argv(data, home, graphics), env, guard, host=cfg.host, port=cfg.port, title="qd",
                          statics_path=web / "static", templates_path=web / "templates")
        print(f"qd is served at {address(cfg, token)} (Ctrl-C stops)", flush=True)
        server.serve()
    return 0
