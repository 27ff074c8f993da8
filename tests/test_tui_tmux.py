"""`qdtui --graphics sixel` inside a real tmux that cannot pass sixel on: half-blocks, and the app says why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

TMUX = shutil.which("tmux")


def _sixel_passes() -> bool:
    """Whether this tmux (3.4+ built with sixel) could show sixel at all: then there is nothing to warn about."""
    out = subprocess.run([TMUX, "-V"], capture_output=True, text=True).stdout.split()[-1]
    major, minor = (int("".join(c for c in p if c.isdigit()) or 0) for p in (out.split(".") + ["0"])[:2])
    return (major, minor) >= (3, 4)


@pytest.mark.skipif(TMUX is None, reason="no tmux installed (apt-get install tmux)")
def test_sixel_inside_tmux_falls_back_to_half_blocks_and_says_why(tmp_path) -> None:
    if _sixel_passes():
        pytest.skip("this tmux may pass sixel on (3.4+): the fallback is not needed")
    sock = f"qd-test-{os.getpid()}"
    cmd = f"QD_HOME={tmp_path} {sys.executable} -m qdtui --graphics sixel"
    subprocess.run([TMUX, "-L", sock, "new-session", "-d", "-x", "120", "-y", "30", cmd], check=True)
    try:
        screen, end = "", time.monotonic() + 120
        while "drawing half-blocks" not in " ".join(screen.split()) and time.monotonic() < end:
            time.sleep(0.2)
            screen = subprocess.run([TMUX, "-L", sock, "capture-pane", "-p"], capture_output=True, text=True).stdout
        text = " ".join(line.strip(" │▌╰─╯") for line in screen.splitlines())
        assert "--graphics sixel: this tmux does not pass sixel images on" in " ".join(text.split()), screen
        subprocess.run([TMUX, "-L", sock, "send-keys", "d"], check=True)  # the data browser's drawings
        end = time.monotonic() + 120
        while "▀" not in screen and "▄" not in screen and time.monotonic() < end:
            time.sleep(0.2)
            screen = subprocess.run([TMUX, "-L", sock, "capture-pane", "-p"], capture_output=True, text=True).stdout
        assert "▀" in screen or "▄" in screen, screen  # half-blocks, not an empty space where sixel went
    finally:
        subprocess.run([TMUX, "-L", sock, "kill-server"], capture_output=True)
