"""`python -m qdcore.studies.worker STUDY`: one worker process of a study (started by the study runner)."""

from __future__ import annotations

import os
import signal
import sys

from qdcore.store import Store
from qdcore.studies.runner import work


def main(argv: list[str] | None = None) -> int:
    """Claim and run trials of the study until none is left; SIGINT/SIGTERM stop after the current step."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m qdcore.studies.worker STUDY_ID", file=sys.stderr)
        return 2
    stop = {"flag": False}

    def handle(signum, frame) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    threads = os.environ.get("QD_STUDY_THREADS")
    if threads:
        import torch  # lazy: torch (~1.2 s) is loaded only when used

        torch.set_num_threads(int(threads))

    with Store(os.environ.get("QD_HOME") or None) as store:
        work(store, int(args[0]), lambda: stop["flag"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
