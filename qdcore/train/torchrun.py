"""`qd train --nproc N`: the same command re-run under torchrun, one process per GPU (or CPU rank).

`python -m qdcore.train.torchrun ARGS` is torchrun (the same arguments) whose stop ends quietly: on Ctrl-C,
SIGTERM or a dropped session torchrun stops the ranks, which finish their step, keep a checkpoint and say
so; torchrun itself would then print a traceback of its own signal handler.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

from qdcore.errors import ConfigError
from qdcore.lifetime import die_with_parent
from qdcore.train.peers import QUIET_RANKS  # set by launch(), which reports a lost rank itself, once

INTERRUPTED_EXIT = 130  # like a shell's Ctrl-C: the run is incomplete but resumable

# Flags that belong to the launcher, not to each rank's `qd train`.
LAUNCHER_FLAGS = ("--nproc", "--nnodes", "--rdzv-endpoint")


def under_torchrun() -> bool:
    """Whether this process is already one rank of a torchrun job."""
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def check(nproc: int, nnodes: int, rdzv_endpoint: str | None, device: str | None) -> None:
    """ConfigError for a world that cannot start here: too many GPUs, no NCCL, a multi-node job without an endpoint."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    if nproc < 1 or nnodes < 1:
        raise ConfigError(f"--nproc {nproc} and --nnodes {nnodes} must be at least 1")
    if nnodes > 1 and not rdzv_endpoint:
        raise ConfigError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT, the same on every node")
    want = (device or "auto").lower()
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if want == "cuda" or (want == "auto" and gpus):
        if nproc > gpus:
            raise ConfigError(f"--nproc {nproc} but {gpus} CUDA GPU{'s are' if gpus != 1 else ' is'} visible here; "
                              f"use --nproc {max(gpus, 1)} or fewer (or --device cpu for Gloo ranks)")
        import torch.distributed as dist  # lazy: torch (~1.2 s) is loaded only when used

        if not dist.is_nccl_available():
            raise ConfigError("this PyTorch build has no NCCL for multi-GPU training; use --device cpu (Gloo)")


def command(argv: list[str], nproc: int, nnodes: int = 1, rdzv_endpoint: str | None = None) -> list[str]:
    """torchrun's command line running `qd` with argv (the launcher's own flags removed) on every rank."""
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in LAUNCHER_FLAGS:
            skip = "=" not in a
            continue
        rest.append(a)
    cmd = [sys.executable, "-m", "qdcore.train.torchrun", f"--nproc-per-node={nproc}"]
    if nnodes == 1 and not rdzv_endpoint:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]
    return cmd + ["-m", "qdcore.cli.main", *rest]


def exec_torchrun(argv: list[str], nproc: int, nnodes: int, rdzv_endpoint: str | None, device: str | None) -> None:
    """Replace this process by torchrun (signals then reach torchrun, which passes them to every rank)."""
    check(nproc, nnodes, rdzv_endpoint, device)
    cmd = command(argv, nproc, nnodes, rdzv_endpoint)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)


def stop_with_launcher() -> None:
    """In a rank under torchrun: be sent SIGTERM when the launcher dies (kill -9), so the rank stops after its
    step and keeps a checkpoint, as on Ctrl-C, instead of training on as an orphan (Linux; elsewhere nothing)."""
    if "TORCHELASTIC_RUN_ID" not in os.environ:
        return

    die_with_parent()


def launch(argv: list[str] | None = None) -> None:
    """torchrun's main; a stop (a signal to the launcher, or ranks that all ended interrupted) exits with
    INTERRUPTED_EXIT and no launcher traceback. A rank that died or failed is one line naming it, its signal or
    exit code, and how to continue the run; the surviving ranks stop quietly (RankLost) at the last checkpoint."""
    os.environ[QUIET_RANKS] = "1"
    # lazy: torch (~1.2 s) is loaded only when a run is launched
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    for name in list(logging.root.manager.loggerDict):  # set up on import, before LOGLEVEL could say otherwise
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    args = sys.argv[1:] if argv is None else argv
    try:
        main(args)
    except SignalException:
        # torchrun has already passed the signal to the ranks and waited for them: they reported.
        sys.exit(INTERRUPTED_EXIT)
    except ChildFailedError as e:
        if e.failures and all(f.exitcode == INTERRUPTED_EXIT for f in e.failures.values()):
            sys.exit(INTERRUPTED_EXIT)  # a stop that reached the ranks only (e.g. SIGTERM to their processes)
        print(f"qd: error: {failure_line(e.failures, args)}", file=sys.stderr, flush=True)
        sys.exit(1)


def failure_line(failures: dict, args: list[str]) -> str:
    """One line for ranks that ended badly: the first that did not stop on its own, and how to go on."""
    # torchrun ends the surviving ranks with SIGTERM: they are not the cause unless nothing else is
    term = -int(signal.SIGTERM)
    cause = [(rank, f) for rank, f in failures.items() if f.exitcode not in (INTERRUPTED_EXIT, term)] or \
        [(rank, f) for rank, f in failures.items() if f.exitcode != INTERRUPTED_EXIT] or list(failures.items())
    # torchrun stamps a signalled rank in whole seconds when it notices, so a killed rank and the peer that
    # aborted because it vanished (Gloo: "terminate called ...", SIGABRT) often tie: the abort is the echo
    abort = -int(signal.SIGABRT)
    rank, f = min(cause, key=lambda rf: (rf[1].timestamp, rf[1].exitcode == abort, rf[0]))
    how = f"was killed by {f.signal_name()}" if f.exitcode < 0 else f"exited with code {f.exitcode}"
    line = f"rank {rank} (pid {f.pid}) {how}; the other ranks stopped"
    run = _run_of({f.pid for f in failures.values()})
    if run is None:
        return line
    nproc = next((a.split("=", 1)[1] for a in args if a.startswith("--nproc-per-node=")), None)
    rest = args[args.index("qdcore.cli.main") + 1:] if "qdcore.cli.main" in args else []
    command = "qd gan train" if "train" in rest and "gan" in rest[:rest.index("train")] else "qd train"
    return (f"{line}; run {run} is interrupted at its last checkpoint: continue it with "
            f"'{command} --resume {run}{f' --nproc {nproc}' if nproc else ''}'")


def _run_of(pids: set[int]) -> int | None:
    """The run the ranks with these pids trained (rank 0 owns its row), from the store; None when unknown."""
    try:
        from qdcore.store import Store  # lazy: keeps the store out of qd --help

        with Store() as store:
            store.reap()  # a killed rank 0 left its run 'running'
            return next((r.id for r in store.list_runs(limit=50) if r.pid in pids), None)
    except Exception:  # noqa: BLE001 - no store reachable: the line goes without the run
        return None


if __name__ == "__main__":
    launch()
