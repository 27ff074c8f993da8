"""The static gates of scripts/lint hold on the code, and each fails on a planted violation (in a copy of the code)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
                "--no-cache"]


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is a lint tool (pip install -e '.[lint]'); not installed here")


def _copy(tmp_path: Path) -> Path:
    """The packages and pyproject.toml (with its contracts and settings) in a folder of their own."""
    for name in ("qdcore", "qdtui"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def _plant(path: Path, code: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + code + "\n", encoding="utf-8")


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def test_the_import_contracts_hold():
    _need("importlinter")
    p = _run(LINT_IMPORTS, ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "0 broken" in p.stdout


@pytest.mark.parametrize("module, code, says", [
    # data is below train: a late import inside a function counts as much as one at the top
    ("qdcore/data/raster.py", "def _late():\n    from qdcore.train import loop", "qdcore.data.raster -> qdcore.train.loop"),
    ("qdcore/store/db.py", "import textual", "qdcore.store is not allowed to import textual"),
    ("qdcore/runs/kinds.py", "def _late():\n    from qdcore.kinds import gan", "qdcore.runs is not allowed to import qdcore.kinds"),
    # a circle inside one package (what test_import_cycles checks for qdcore, here for the TUI too)
    ("qdtui/widgets/header.py", "def _late():\n    from qdtui.screens import home", "No cycles are allowed in qdtui"),
])
def test_a_planted_import_breaks_a_contract(tmp_path, module, code, says):
    _need("importlinter")
    copy = _copy(tmp_path)
    _plant(copy / module, code)
    p = _run(LINT_IMPORTS, copy)
    assert p.returncode != 0 and says in p.stdout, p.stdout[-3000:] + p.stderr[-2000:]


def test_ruff_passes_and_fails_on_a_planted_fault(tmp_path):
    _need("ruff")
    ok = _run([sys.executable, "-m", "ruff", "check", "--no-cache", "qdcore", "qdtui"], ROOT)
    assert ok.returncode == 0, ok.stdout[-3000:]
    copy = _copy(tmp_path)
    _plant(copy / "qdcore" / "fmt.py", "def _f(xs):\n    try:\n        return [lambda: x for x in xs]\n    except:\n        pass")
    bad = _run([sys.executable, "-m", "ruff", "check", "--no-cache", "qdcore/fmt.py"], copy)
    assert bad.returncode == 1 and "E722" in bad.stdout and "B023" in bad.stdout, bad.stdout


def test_mypy_fails_on_a_planted_type_error(tmp_path):
    """The whole of qdcore is checked by scripts/lint (a minute of CPU); here one module of it, planted."""
    _need("mypy")
    copy = _copy(tmp_path)
    target = copy / "qdcore" / "fmt.py"
    cmd = [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "qdcore/fmt.py"]
    ok = _run(cmd, copy)
    assert ok.returncode == 0, ok.stdout[-3000:]
    _plant(target, "def _f(n: int | None) -> int:\n    return n + 1")
    bad = _run(cmd, copy)
    assert bad.returncode == 1 and "[operator]" in bad.stdout, bad.stdout[-3000:]
