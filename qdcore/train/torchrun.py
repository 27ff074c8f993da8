"""`qd train --nproc N`: the same command re-run under torchrun, one process per GPU (or CPU rank)."""

from __future__ import annotations

import os
import sys

from qdcore.errors import ConfigError

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
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
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
