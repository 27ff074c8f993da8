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


def test_cli_help_loads_no_heavy_package():
    """`qd --help` (and a command's) stays fast: no torch, numpy, Textual or model library is imported for it
    (benchmarks/bench_startup.py times it)."""
    heavy = ("torch", "numpy", "textual", "lightgbm", "sklearn", "scipy", "ray", "plotext", "PIL", "pandas")
    code = (
        "import sys\n"
        "from qdcore.cli.main import app\n"
        "for args in (['--help'], ['train', '--help'], ['gan', 'train', '--help'], ['study', 'run', '--help']):\n"
        "    try:\n"
        "        app(args, standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print('loaded:', ','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "loaded:"


def test_tui_messages_follow_one_convention():
    """Every Textual message of qdtui is a dataclass (toolong's style); one that a single module uses is declared
    there (beside its screen), the rest in qdtui/messages.py, which imports no screen."""
    import ast
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "qdtui"
    sources = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.rglob("*.py")}
    classes = {}  # name -> (module, base names, decorated with @dataclass)
    for rel, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                decorated = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
                classes[node.name] = (rel, bases, decorated)
    messages = {"Message"}
    while True:  # a subclass of a message is a message
        more = {n for n, (_, bases, _) in classes.items() if set(bases) & messages} - messages
        if not more:
            break
        messages |= more
    messages.discard("Message")
    assert len(messages) > 20, sorted(messages)

    def is_dataclass(name: str) -> bool:
        _, bases, decorated = classes[name]
        return decorated or any(b in messages and is_dataclass(b) for b in bases)

    assert [n for n in sorted(messages) if not is_dataclass(n)] == []
    shared = {n for n in messages if classes[n][0] == "messages.py"}
    for name in messages - shared:
        users = [rel for rel, text in sources.items() if re.search(rf"\b{name}\b", text)]
        assert users == [classes[name][0]], f"{name} is used outside {classes[name][0]}: {users} (move it to messages.py)"
    for name in shared:
        users = [rel for rel, text in sources.items() if rel != "messages.py" and re.search(rf"\b{name}\b", text)]
        family = set(classes[name][1]) & shared  # a sibling of a shared message (CellHighlighted) stays beside it
        assert name.startswith("_") or len(users) >= 2 or family, f"{name} is used only in {users}: declare it there"
    imported = [ast.unparse(n) for n in ast.walk(ast.parse(sources["messages.py"]))
                if isinstance(n, (ast.Import, ast.ImportFrom)) and "qdtui.screens" in ast.unparse(n)]
    assert imported == [], imported
