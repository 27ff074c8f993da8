"""A tiny run kind built from the real pieces (nearest class mean on the real data selection), for tests.

It trains through the loop driver (qdcore.train.loop): a step adds a batch's per-class pixel sums (exact
integers, summed over the DDP ranks), a round's end turns them into means, so it resumes exactly and two
Gloo ranks compute what one process computes. Defining it registers nothing: tests register it (and
`centroid_plugin`, named in $QD_KINDS, does so in the `qd train` children the launcher and torchrun start),
so no other test sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from qdcore.events import RunFinished, RunStarted, Samples
from qdcore.options import RunConfig, option
from qdcore.runs.kinds import Column, Panel, RunKind
from qdcore.train import distributed as dist
from qdcore.train.gpudata import DeviceData
from qdcore.train.loop import Callback, Loop, Out, Step, means, ranked


@dataclass
class CentroidConfig(RunConfig):
    """Nearest-class-mean classifier: the means are refined over `rounds` passes with a shrinkage."""

    model: str = option("centroid", help="The centroid model.", panel="Centroid", choices=("centroid",),
                        form="Model")
    rounds: int = option(2, help="Passes over the training split.", panel="Centroid", min=1, max=50,
                         form="Rounds")
    shrink: float = option(0.0, help="Shrink the means toward the grand mean.", panel="Centroid", min=0, max=1,
                           form="Shrink")
    batch: int = option(16, help="Drawings per rank and step.", panel="Centroid", min=2, max=4096)


class CentroidStep(Step):
    """Per-class pixel sums over the rounds (int64, exact on any number of ranks); means and accuracy per round."""

    def __init__(self, cfg: CentroidConfig, rt, train, val) -> None:
        self.cfg, self.rt, self.train, self.val = cfg, rt, train, val
        self.k = len(train.classes)
        self.data = DeviceData(np.asarray(train.images), train.labels, rt.device)
        self.vx = torch.as_tensor(np.asarray(val.images, np.float32).reshape(len(val), -1) / 255)
        self.vy = torch.as_tensor(np.asarray(val.labels, np.int64))
        self.epochs, self.log_every = cfg.rounds, 3
        per_rank = len(self.data) // rt.world_size
        self.steps_per_epoch = len(DeviceData.batches(torch.arange(per_rank), cfg.batch))
        self.sums = torch.zeros(self.k, 784, dtype=torch.int64)
        self.counts = torch.zeros(self.k, dtype=torch.int64)

    def batches(self, epoch: int, start: int):
        order = self.data.order(self.cfg.seed, epoch, self.rt.rank, self.rt.world_size)
        return DeviceData.batches(order, self.cfg.batch)[start:]

    def centres(self) -> torch.Tensor:
        """The class means, shrunk toward the grand mean, in [0, 1]."""
        m = self.sums.double() / (255 * self.counts.clamp(min=1).double()[:, None])
        return ((1 - self.cfg.shrink) * m + self.cfg.shrink * m.mean(0)).float()

    def step(self, idx: torch.Tensor, step: int) -> Out:
        x = self.data.images.index_select(0, idx).reshape(len(idx), -1).to(torch.int64)
        y = self.data.labels.index_select(0, idx)
        part = torch.zeros(self.k, 785, dtype=torch.int64).index_add_(0, y, torch.cat([x, torch.ones_like(y)[:, None]], 1))
        part = torch.as_tensor(dist.all_sum_array(part.numpy(), self.rt.device))  # every rank: the global batch
        self.sums += part[:, :784]
        self.counts += part[:, 784]
        loss = ((x.float() / 255 - self.centres()[y]) ** 2).sum(1).mean()
        return Out({"loss": loss * len(idx)}, len(idx), len(idx), loss)

    def epoch_end(self, loop: Loop, epoch: int, train: dict) -> dict[str, float]:
        m = self.centres()
        acc = float((torch.cdist(self.vx, m).argmin(1) == self.vy).float().mean()) if len(self.vy) else 0.0
        return {"val/acc": acc, "train/classes": float(self.k), "train/loss": means(train)["loss"]}

    def modules(self) -> dict:
        return {"centroid": {"sums": self.sums, "counts": self.counts}}

    def load(self, saved: dict, where: Path) -> None:
        self.sums, self.counts = saved["modules"]["centroid"]["sums"], saved["modules"]["centroid"]["counts"]


class MeansGrid(Callback):
    """The class means as an image grid at each round's end (a Samples artifact, as a GAN's sample grid)."""

    key = "means"

    def __init__(self, step: CentroidStep) -> None:
        self.step = step

    def on_epoch_end(self, loop: Loop, epoch: int, metrics: dict) -> None:
        grid = (self.step.centres().reshape(self.step.k, 28, 28).clamp(0, 1) * 255).to(torch.uint8).numpy()
        loop.emit(Samples(epoch, loop.st["step"], grid, list(self.step.train.classes), "means"))


def train_centroid(ctx):
    from qdcore.data.drawingset import select, split
    from qdcore.data.opener import open_source

    cfg = ctx.cfg
    s = split(select(open_source(cfg.data), cfg.categories, cfg.per_class, cfg.seed, cfg.imbalance),
              cfg.val, cfg.test, cfg.seed)

    def body(rt, emit):
        step = CentroidStep(cfg, rt, s.train, s.val)
        loop = Loop(step, rt, emit, ctx.should_stop, ctx.folder if rt.rank == 0 else None, [MeansGrid(step)])
        fp = s.fingerprint()
        loop.resume(ctx.resume, list(s.train.classes), fp, ctx.run_id)
        status = loop.run(RunStarted(ctx.run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.rounds,
                                     step.steps_per_epoch, len(s.train), fp, {"classes": step.k}))
        hist = loop.st["history"]
        summary = {"val_acc": hist["val/acc"][-1] if hist.get("val/acc") else 0.0, "classes": step.k,
                   **loop.summary()}
        if status == "interrupted":
            loop.interrupted(summary)
        else:
            emit(RunFinished("done", summary))
        return SimpleNamespace(status=status, summary=summary, means=step.centres())

    return ranked("cpu", False, ctx.sink, body)


CENTROID = RunKind(
    name="centroid", config=CentroidConfig, train=train_centroid, models=lambda: ("centroid",),
    panels=(Panel("acc", "val accuracy %", ("val/acc",), x="epoch", scale=100.0),
            Panel("means", "class means", (), artifact="means")),
    columns=(Column("acc", "acc", 6, lambda c, s: s.get("val_acc"), lambda v: "—" if v is None else f"{100 * v:.0f}%"),),
    result_line=lambda s: f"val acc {100 * s.get('val_acc', 0):.0f}%",
)
