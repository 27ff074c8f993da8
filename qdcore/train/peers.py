"""A rank whose peer is gone: how a failed collective is recognised, and how a training function's end is reported
(light: qd's CLI imports it through torchrun, so torch is imported only once a collective failed)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qdcore.errors import QDError, RankLost
from qdcore.events import RunFailed, RunFinished, Sink

QUIET_RANKS = "QD_LAUNCHER"  # set by qdcore.train.torchrun.launch(), which reports a lost rank itself, once

# What Gloo and NCCL say when the rank at the other end of a collective is gone.
PEER_GONE = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "Connection refused",
             "Socket Timeout", "Timed out", "timed out", "remote process exited", "NCCL communicator was aborted")


def peer_lost(e: BaseException) -> Any:
    """A RankLost when `e` is a collective failing because another rank ended (None for any other error)."""
    import torch.distributed as dist  # here: qd's CLI imports this module (through torchrun) without torch

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1) or isinstance(e, QDError):
        return None
    text = str(e)
    dist_error = getattr(dist, "DistError", ())
    if not (isinstance(e, dist_error) or (isinstance(e, RuntimeError) and any(w in text for w in PEER_GONE))):
        return None
    detail = next((w for w in PEER_GONE if w in text), type(e).__name__)
    return RankLost(f"rank {dist.get_rank()}: another rank of this run ended or stopped answering ({detail.lower()});"
                    " the run is interrupted at its last checkpoint", quiet=bool(os.environ.get(QUIET_RANKS)))


@contextmanager
def reported(sink: Sink) -> Iterator[None]:
    """Tell `sink` how a training function ended when it raised: interrupted (Ctrl-C) or failed, with the reason."""
    try:
        yield
    except KeyboardInterrupt:
        sink(RunFinished("interrupted", {"aborted": True}))
        raise
    except Exception as e:
        lost = _peer_lost(e)
        if lost is not None:  # another rank died: this one stops where the run's last checkpoint is
            sink(RunFinished("interrupted", {"error": str(lost)}))
            raise lost from None
        sink(RunFailed(str(e) if isinstance(e, QDError) else f"{type(e).__name__}: {e}"))
        raise


def _peer_lost(e: BaseException) -> Any:
    """A RankLost for a collective that failed because a peer rank is gone (None otherwise; torch only if loaded)."""
    if "torch.distributed" not in sys.modules:
        return None
    return peer_lost(e)
