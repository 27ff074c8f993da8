"""The library imports no UI package; `qd --help` stays light."""

import subprocess
import sys


def test_qdcore_imports_no_ui():
    code = (
        "import sys, importlib, pkgutil, qdcore\n"
        "skip = ('qdcore.cli',)\n"
        "for m in pkgutil.walk_packages(qdcore.__path__, 'qdcore.'):\n"
        "    if not m.name.startswith(skip):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in ('textual', 'rich', 'typer', 'qdtui', 'click') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"qdcore pulled in UI packages: {out.stdout}"


def test_cli_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from qdcore.cli.main import app\n"
        "try:\n"
        "    app(['--help'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_tui_messages_live_in_one_module():
    """One convention: every Textual Message subclass of qdtui is declared in qdtui/messages.py."""
    import ast
    from pathlib import Path

    from textual.message import Message

    import qdtui.messages

    root = Path(__file__).resolve().parents[1] / "qdtui"
    # Message itself and every message class of messages.py (a subclass of one is a message too)
    bases = {n for n, v in vars(qdtui.messages).items() if isinstance(v, type) and issubclass(v, Message)}
    declared = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    (b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")) in bases for b in node.bases):
                declared[node.name] = path.relative_to(root).as_posix()
    assert declared and set(declared.values()) == {"messages.py"}, declared
