"""`qdtui serve`: the same app in a browser (textual-serve), drawings as sixel images in the page's terminal."""

from __future__ import annotations

import ipaddress
import shlex
import shutil
import socket
import sys
import tempfile
from pathlib import Path

WEB = Path(__file__).parent / "web"
# Where textual-serve's page builds its terminal: the image addon is loaded there, and the session
# object is left on `window` so a test (or a curious user) can read the screen's text.
_OPEN = "this.terminal.open(e),"
_OPEN_PATCHED = ("this.terminal.open(e),window.ImageAddon&&this.terminal.loadAddon("
                 "new window.ImageAddon.ImageAddon({sixelSupport:!0})),window.qdCells&&window.qdCells(this.terminal),"
                 "window.qdSession=this,")


def build_web_folder(dest: Path) -> bool:
    """Copy textual-serve's templates and statics into dest with the image addon added; False if the page
    could not be patched (the browser then shows half-blocks)."""
    import textual_serve

    src = Path(textual_serve.__file__).parent
    shutil.copytree(src / "templates", dest / "templates", dirs_exist_ok=True)
    shutil.copytree(src / "static", dest / "static", dirs_exist_ok=True)
    js = dest / "static" / "js" / "textual.js"
    code = js.read_text(encoding="utf-8")
    if code.count(_OPEN) != 1:
        return False
    js.write_text(code.replace(_OPEN, _OPEN_PATCHED), encoding="utf-8")
    for name in ("addon-image.js", "qd-cells.js"):
        shutil.copy(WEB / name, dest / "static" / "js" / name)
    page = dest / "templates" / "app_index.html"
    html = page.read_text(encoding="utf-8")
    tag = '<script src="{{ config.static.url }}js/textual.js"></script>'
    extra = "".join(f'<script src="{{{{ config.static.url }}}}js/{name}"></script>\n    '
                    for name in ("addon-image.js", "qd-cells.js"))
    page.write_text(html.replace(tag, extra + tag), encoding="utf-8")
    return True


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


def app_command(data: str | None, home: str | None, graphics: str) -> str:
    """The command line textual-serve runs for each browser session."""
    args = [sys.executable, "-m", "qdtui", "--graphics", graphics]
    if data:
        args += ["--data", data]
    if home:
        args += ["--home", str(Path(home).expanduser().resolve())]
    return shlex.join(args)


def serve(host: str, port: int, data: str | None, home: str | None, graphics: str) -> int:
    """Serve the app until Ctrl-C; an exit code (2 with one line on stderr when it cannot start)."""
    if not 0 < port < 65536:
        print(f"qdtui: error: port {port} is not between 1 and 65535", file=sys.stderr)
        return 2
    if not port_free(host, port):
        print(f"qdtui: error: cannot listen on {host}:{port} (in use or not this machine's); "
              "pick another with --port N", file=sys.stderr)
        return 2
    if not is_loopback(host):
        print(f"qdtui: warning: serving on {host}: anyone who reaches it can use the app (there is no login)",
              file=sys.stderr)
    from textual_serve.server import Server

    with tempfile.TemporaryDirectory(prefix="qdtui-web-") as tmp:
        web = Path(tmp)
        pixels = build_web_folder(web)
        if graphics == "auto":
            graphics = "sixel" if pixels else "halfblock"
        # The page makes its cells 10x20 pixels (qd-cells.js); the app draws its images for that size.
        command = f"env TEXTUAL_CELL_WIDTH=10 TEXTUAL_CELL_HEIGHT=20 {app_command(data, home, graphics)}"
        server = Server(command, host=host, port=port, title="qd",
                        statics_path=web / "static", templates_path=web / "templates")
        print(f"qd is served at http://{host}:{port} (Ctrl-C stops)", flush=True)
        server.serve()
    return 0
