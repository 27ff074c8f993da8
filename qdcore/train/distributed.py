"""DistributedDataParallel in a few lines (after nanoGPT): join torchrun's process group, wrap, reduce, agree to stop.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `join` creates the process
group from them (NCCL on CUDA, Gloo elsewhere). Every collective here is a no-op in a single process,
so the engine calls them unconditionally.
"""

from __future__ import annotations

import datetime
import gc
import os

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from qdcore.errors import ConfigError
from qdcore.fmt import plural
from qdcore.train.torchrun import stop_with_launcher

# A rank that dies leaves the others blocked in a collective: give up after this long.
DEFAULT_TIMEOUT_S = float(os.environ.get("QD_DIST_TIMEOUT", "120"))


def active() -> bool:
    """Whether a process group with more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_note(before: int, now: int) -> tuple[str, ...]:
    """What a resume under another number of processes says (nothing when it is the same)."""
    if before == now:
        return ()
    return (f"this run was trained on {plural(before, 'process', 'processes')} and continues on "
            f"{plural(now, 'process', 'processes')}: the global batch and the steps "
            f"per epoch change with it (resume with --nproc {before} to keep {before})",)


def join(device: torch.device, world_size: int) -> None:
    """Join torchrun's process group (once) for `world_size` > 1; ConfigError when that cannot work."""
    if world_size <= 1 or (dist.is_available() and dist.is_initialized()):
        return
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed; run one process")
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT", "RANK") if v not in os.environ]
    if missing:
        raise ConfigError(f"WORLD_SIZE={world_size} but {', '.join(missing)} not set: start it with "
                          "`qd train --nproc N` or `torchrun --nproc-per-node N -m qdcore.cli.main train ...`")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and not dist.is_nccl_available():
        raise ConfigError("NCCL is not available in this PyTorch build; use --device cpu (Gloo) or a CUDA build")
    if device.type == "cuda":
        torch.cuda.set_device(device)

    stop_with_launcher()
    timeout = datetime.timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        dist.init_process_group(backend=backend, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - rendezvous failures come in many types
        raise ConfigError(f"could not join the process group ({backend}): {type(e).__name__}: {e}"
                          .splitlines()[0]) from None


def leave() -> None:
    """Leave the process group (end of training)."""
    if dist.is_available() and dist.is_initialized():
        # DDP wrappers no longer referenced but not yet collected hold the group's Gloo threads; destroyed after
        # the group, at interpreter exit, they can abort the process ("terminate called without an active
        # exception"), and torchrun then kills the other ranks. Collect them while the group still exists.
        gc.collect()
        try:
            dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - a peer already gone: nothing left to leave
            pass


def wrap(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`net` in DistributedDataParallel when a group is running (rank 0's weights broadcast to all)."""
    if not active():
        return net

    ids = [device.index] if device.type == "cuda" else None
    return DDP(net, device_ids=ids)


def all_sum(*values: torch.Tensor | float | int, device: torch.device) -> list[float]:
    """Sum of each value over all ranks, in one collective (floats; exact for counts below 2**53)."""
    t = torch.tensor([float(v) for v in values], dtype=torch.float64,
                     device=device if device.type == "cuda" else "cpu")
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_sum_array(a: np.ndarray, device: torch.device) -> np.ndarray:
    """An int64 array summed over all ranks (same shape on every rank), in one collective."""
    if not active():
        return a
    t = torch.as_tensor(np.ascontiguousarray(a, np.int64), device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def all_min(value: int, device: torch.device) -> int:
    """The smallest value over all ranks (one collective)."""
    if not active():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when `flag` is true on any rank (stops end all ranks at the same step)."""
    return any_ranks([flag], device)[0]


def any_ranks(flags: list[bool], device: torch.device) -> list[bool]:
    """Each flag OR-ed over all ranks, in one collective."""
    if not active():
        return list(flags)
    t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32,
                     device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def gather_rows(local: torch.Tensor, total: int) -> torch.Tensor:
    """Rows dealt out round-robin (row i on rank i % world) gathered back into their original order."""
    if not active():
        return local
    world = dist.get_world_size()
    per = -(-total // world)
    pad = torch.zeros((per - local.shape[0], *local.shape[1:]), dtype=local.dtype, device=local.device)
    parts = [torch.empty((per, *local.shape[1:]), dtype=local.dtype, device=local.device) for _ in range(world)]
    dist.all_gather(parts, torch.cat([local, pad]))
    # parts[r][j] is row j * world + r: interleave, then drop the padding.
    return torch.stack(parts, 1).reshape(per * world, *local.shape[1:])[:total]


def barrier() -> None:
    """Wait for every rank."""
    if active():
        dist.barrier()
