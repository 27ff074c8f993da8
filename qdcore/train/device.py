"""Device choice and mixed precision in a few lines (after nanoGPT)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from qdcore.errors import ConfigError
from qdcore.fmt import plural
from qdcore.runs.context import rank_info
from qdcore.train.threads import fit_threads


@dataclass(frozen=True)
class Runtime:
    """Where and how to compute: device, autocast dtype (None = fp32), whether a grad scaler is needed."""

    device: torch.device
    amp_dtype: torch.dtype | None
    scaler: bool
    rank: int = 0
    world_size: int = 1
    threads: int = 0  # CPU threads chosen for the load (cpu only; 0 elsewhere)

    @property
    def kind(self) -> str:
        return self.device.type

    def autocast(self):
        """The autocast context for forward passes (a no-op without AMP)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def describe(self) -> str:
        """'cuda:0 (NVIDIA H100, bf16)' style label for summaries and headers."""
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        prec = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.amp_dtype, "fp32") if self.amp_dtype else "fp32"
        if self.threads:
            return f"{name} {prec}, {plural(self.threads, 'thread')}"
        return f"{name} {prec}"

    def sync(self) -> None:
        """Wait for queued device work (timing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()


def _mps_ok() -> bool:
    return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()


def cpu_bf16_ok() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AVX512-BF16 / AMX), so autocast speeds it up."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve(device: str = "auto", amp: bool | None = None) -> Runtime:
    """Pick the device (auto: cuda, then mps, then cpu) and the AMP dtype."""
    rank, world, local_rank = rank_info()
    want = device.lower()
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "mps" if _mps_ok() else "cpu"
    if want == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA GPU is visible to PyTorch; use --device auto or cpu")
        dev = torch.device("cuda", local_rank % max(1, torch.cuda.device_count()))
        if amp is False:
            return Runtime(dev, None, False, rank, world)
        bf16 = torch.cuda.is_bf16_supported()
        return Runtime(dev, torch.bfloat16 if bf16 else torch.float16, not bf16, rank, world)
    if want == "mps":
        if not _mps_ok():
            raise ConfigError("--device mps: Apple's Metal backend is not available here; use --device auto or cpu")
        # fp16 autocast on MPS only when asked: support varies by macOS/PyTorch version.
        return Runtime(torch.device("mps"), torch.float16 if amp else None, False, rank, world)
    if want != "cpu":
        raise ConfigError(f"--device {device!r} must be auto, cpu, cuda or mps")
    use = cpu_bf16_ok() if amp is None else amp
    return Runtime(torch.device("cpu"), torch.bfloat16 if use else None, False, rank, world, fit_threads())
