"""`qd train --nproc N`: the same command re-run under torchrun, one process per GPU (or CPU rank).

`python -m qdcore.train.torchrun ARGS` is torchrun (the same arguments) whose stop ends quietly: on Ctrl-C,
SIGTERM or a dropped session torchrun stops the ranks, which finish their step, keep a checkpoint and say
so; torchrun itself would then print a traceback of its own signal handler.
"""

from __future__ import annotations

import os
import sys

from qdcore.errors import ConfigError

INTERRUPTED_EXIT = 130  # like a shell's Ctrl-C: the run is incomplete but resumable

# Flags that belong to the launcher, not to each rank's `qd train`.
LAUNCHER_FLAGS = ("--nproc", "--nnodes", "--rdzv-endpoint")


def under_torchrun() -> bool:
    """Whether this process is already one rank of a torchrun job."""
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def check(nproc: int, nnodes: int, rdzv_endpoint: str | None, device: str | None) -> None:
    """ConfigError for a world that cannot start here: too many GPUs, no NCCL, a multi-node job without an endpoint."""
    import torch

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
        import torch.distributed as dist

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
    from qdcore.lifetime import die_with_parent

    die_with_parent()


def launch(argv: list[str] | None = None) -> None:
    """torchrun's main; a stop (a signal to the launcher, or ranks that all ended interrupted) exits with
    INTERRUPTED_EXIT and no launcher traceback. Any other rank failure keeps torchrun's report."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main

    try:
        main(argv)
    except SignalException:
        # torchrun has already passed the signal to the ranks and waited for them: they reported.
        sys.exit(INTERRUPTED_EXIT)
    except ChildFailedError as e:
        if e.failures and all(f.exitcode == INTERRUPTED_EXIT for f in e.failures.values()):
            sys.exit(INTERRUPTED_EXIT)  # a stop that reached the ranks only (e.g. SIGTERM to their processes)
        raise


if __name__ == "__main__":
    launch()
