"""A rank whose peer is gone: how a failed collective is recognised (imported by qdcore.events, so it imports no store)."""

from __future__ import annotations

import os
from typing import Any

QUIET_RANKS = "QD_LAUNCHER"  # set by qdcore.train.torchrun.launch(), which reports a lost rank itself, once

# What Gloo and NCCL say when the rank at the other end of a collective is gone.
PEER_GONE = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "Connection refused",
             "Socket Timeout", "Timed out", "timed out", "remote process exited", "NCCL communicator was aborted")


def peer_lost(e: BaseException) -> Any:
    """A RankLost when `e` is a collective failing because another rank ended (None for any other error)."""
    import torch.distributed as dist  # here: qd's CLI imports this module (through torchrun) without torch

    from qdcore.errors import QDError, RankLost

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1) or isinstance(e, QDError):
        return None
    text = str(e)
    dist_error = getattr(dist, "DistError", ())
    if not (isinstance(e, dist_error) or (isinstance(e, RuntimeError) and any(w in text for w in PEER_GONE))):
        return None
    detail = next((w for w in PEER_GONE if w in text), type(e).__name__)
    return RankLost(f"rank {dist.get_rank()}: another rank of this run ended or stopped answering ({detail.lower()});"
                    " the run is interrupted at its last checkpoint", quiet=bool(os.environ.get(QUIET_RANKS)))
