"""Training and using stroke-sequence classifiers through the loop driver (qdcore.train.loop).

Each split's drawings are encoded once (qdcore.data.sequence) into one zero-padded tensor on the device; a step
takes its batch's rows and trims them to the batch's longest drawing, so padding is paid once per batch and
never crosses the host. The partial-drawing option cuts a share of each batch to random prefixes, drawn from
the step number (an exact resume draws the same cuts). The best epoch by validation loss is the run's model
(stroke_model.safetensors + stroke_model.json), tested on the test split as every classifier is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load, save

from qdcore.artifacts import HISTORY_FILE, PREDICTIONS_FILE, STROKE_MODEL_FILE, STROKE_MODEL_META
from qdcore.data.selection import load_splits
from qdcore.data.sequence import of_drawing, padded, time_shares
from qdcore.errors import ConfigError, DataError, StoreError
from qdcore.events import RunFinished, RunStarted
from qdcore.models.raster_cnn import RasterCNN
from qdcore.models.stroke_rnn import build_stroke_model
from qdcore.paths import atomic_write_bytes
from qdcore.stats import topk_hits
from qdcore.train import distributed as dist
from qdcore.train.device import resolve
from qdcore.train.evaluate import evaluate_with, kept_predictions
from qdcore.train.gpudata import DeviceData, _mix
from qdcore.train.loop import BestCheckpoint, EarlyStopping, Loop, Out, Step, means, ranked
from qdcore.train.strokes_config import StrokeConfig

WEIGHTS, META = STROKE_MODEL_FILE, STROKE_MODEL_META
NO_STROKES = ("its drawings are bitmaps only (.npy); a stroke model needs strokes: .ndjson files (simplified or "
              "raw), Google's .bin files or --data demo")


class StrokeData:
    """One split as model input on the device: rows x (N, L, 3), lengths (host int64), labels."""

    def __init__(self, ds: Any, max_points: int, device: torch.device, timed: bool = False) -> None:
        drawings = ds.drawings(np.arange(len(ds))) if len(ds) else []
        if drawings is None:
            raise DataError(f"{ds.origin or 'the data'}: {NO_STROKES}")
        self.unread = sum(d is None for d in drawings)  # lines the reader could not parse: one zero row each
        x, n, self.cut = model_input(drawings, max_points, timed)
        self.x = torch.as_tensor(x, device=device)
        self.lengths = torch.as_tensor(n)
        self.y = torch.as_tensor(np.asarray(ds.labels, np.int64), device=device)

    def __len__(self) -> int:
        return len(self.lengths)


def model_input(drawings: Any, max_points: int, timed: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows (N, L, 3, or 4 with each point's share of drawing time), lengths, how many drawings were cut): the
    stated cap is that a drawing longer than max_points is read up to its first max_points points, as drawn."""
    rows = [of_drawing(d) for d in drawings]
    times = [time_shares(d, max_points) for d in drawings] if timed else None
    x, n = padded([r[:max_points] for r in rows], times=times)
    return x, n, sum(len(r) > max_points for r in rows)


def rows_of(x: torch.Tensor, at: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The model input of rows `at`: (dx, dy, pen) rows trimmed to their longest drawing, or rasters drawn once."""
    x = x.index_select(0, at.to(x.device))
    return x[:, :int(lengths.max())] if x.dim() == 3 else x


def logits_of(model: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor, batch: int) -> torch.Tensor:
    """Logits of every row, `batch` at a time in order of length (each batch trimmed to its longest drawing, so
    little padding), returned in the rows' order (eval mode, no grad)."""
    model.eval()
    order = torch.argsort(lengths, stable=True)
    out = []
    with torch.no_grad():
        for a in range(0, len(lengths), batch):
            at = order[a:a + batch]
            n = lengths[at]
            out.append(model(rows_of(x, at, n), n).float())
    if not out:
        return torch.zeros(0, 0)
    logits = torch.cat(out)
    return logits[torch.argsort(order).to(logits.device)]


def bucketed(perm: torch.Tensor, lengths: torch.Tensor, batch: int, window: int, g: torch.Generator) -> torch.Tensor:
    """`perm` reordered into batches of similar lengths: each window of `window` batches sorted by length and cut
    into batches, the full batches shuffled (`g`), a short last batch kept last; window 0 leaves `perm` as it is.
    Each batch holds the same drawings whatever the ranks later split it into (DDP keeps one process's steps)."""
    if window <= 0 or len(perm) <= batch:
        return perm
    parts: list[torch.Tensor] = []
    for a in range(0, len(perm), batch * window):
        chunk = perm[a:a + batch * window]
        parts += list(chunk[torch.sort(lengths[chunk], stable=True).indices].split(batch))
    last = [parts.pop()] if len(parts[-1]) < batch else []
    return torch.cat([parts[i] for i in torch.randperm(len(parts), generator=g).tolist()] + last)


def prefixes(lengths: torch.Tensor, share: float, seed: int) -> torch.Tensor:
    """Lengths with about `share` of them cut to a random prefix (at least one point), drawn from `seed`."""
    g = torch.Generator().manual_seed(seed)
    cut = torch.rand(len(lengths), generator=g) < share
    keep = 1 + (torch.rand(len(lengths), generator=g) * lengths).long().clamp(max=lengths - 1)
    return torch.where(cut, keep, lengths)


class StrokeStep(Step):
    """Adam steps of a StrokeRNN over padded batches; validation loss and top-1 at each epoch's end."""

    def __init__(self, cfg: StrokeConfig, rt: Any, splits: Any) -> None:
        self.cfg, self.rt = cfg, rt
        self.timed = cfg.raster == "time"
        self.train = StrokeData(splits.train, cfg.max_points, rt.device, self.timed)
        self.val = StrokeData(splits.val, cfg.max_points, rt.device, self.timed)
        self.classes = list(splits.train.classes)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank and every run of this seed
        self.model = build_stroke_model(cfg.arch(len(self.classes))).to(rt.device)
        self.draw: Callable | None = getattr(self.model, "draw", None) if cfg.prefix == 0 else None
        if self.draw is not None:  # whole drawings every epoch (a raster CNN): draw their rasters once
            for data in (self.train, self.val):
                data.x = self.draw(data.x, data.lengths)
        self.net = dist.wrap(self.model, rt.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.epochs, self.log_every = cfg.epochs, cfg.log_every
        per_rank = len(self.train) // rt.world_size
        self.steps_per_epoch = max(1, len(DeviceData.batches(torch.arange(per_rank), cfg.batch_size)))

    def lr(self) -> float:
        return self.cfg.lr

    def batches(self, epoch: int, start: int):
        g = torch.Generator().manual_seed(_mix(self.cfg.seed, epoch, 0x5EED))
        perm = torch.randperm(len(self.train), generator=g)
        ws = self.rt.world_size
        per_rank = len(self.train) // ws  # equal step counts on every rank (DDP needs them)
        perm = bucketed(perm[:per_rank * ws], self.train.lengths, self.cfg.batch_size * ws, self.cfg.bucket, g)
        order = perm[self.rt.rank::ws]  # rank r's k-th batch: its share of the k-th global batch
        return DeviceData.batches(order, self.cfg.batch_size)[start:]

    def step(self, idx: torch.Tensor, step: int) -> Out:
        n = self.train.lengths[idx]
        if self.cfg.prefix > 0:
            n = prefixes(n, self.cfg.prefix, _mix(self.cfg.seed, step, self.rt.rank, 0x9EF1))
        at = idx.to(self.rt.device)
        x, y = rows_of(self.train.x, at, n), self.train.y.index_select(0, at)
        self.net.train()
        logits = self.net(x, n)
        loss = F.cross_entropy(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
        self.opt.step()
        d = loss.detach()
        return Out({"loss": d * len(idx), "top1": (logits.detach().argmax(1) == y).sum()}, len(idx), len(idx), d)

    def scores(self, data: StrokeData) -> tuple[float, float]:
        """(mean cross-entropy, top-1) of the model on a split (0, 0 for an empty one)."""
        if not len(data):
            return 0.0, 0.0
        logits = logits_of(self.model, data.x, data.lengths, self.cfg.eval_batch_size)
        return float(F.cross_entropy(logits, data.y)), float((logits.argmax(1) == data.y).float().mean())

    def epoch_end(self, loop: Loop, epoch: int, train: dict) -> dict[str, float]:
        vloss, vtop1 = self.scores(self.val)
        loop.check(vloss, "validation loss", epoch)
        m = means(train)
        return {"train/loss": m["loss"], "train/top1": m["top1"], "train/lr": self.cfg.lr, "val/loss": vloss,
                "val/top1": vtop1}

    def monitor(self, metrics: dict[str, float]) -> float:
        """What the best epoch and early stopping watch: the validation loss (training loss without a val split)."""
        return metrics["val/loss"] if len(self.val) else metrics["train/loss"]

    def modules(self) -> dict:
        return {"model": self.model.state_dict()}

    def optimizers(self) -> dict:
        return {"model": self.opt.state_dict()}

    def load(self, saved: dict, where: Path) -> None:  # one that does not fit: the loop driver's one-line error
        self.model.load_state_dict(saved["modules"]["model"])
        self.opt.load_state_dict(saved["optimizers"]["model"])


def save_stroke_model(folder: Path, arch: dict, classes: list[str], state: dict, meta: dict) -> Path:
    """stroke_model.safetensors + stroke_model.json, each written atomically."""
    atomic_write_bytes(folder / WEIGHTS, save({k: v.detach().cpu().contiguous() for k, v in state.items()}))
    doc = {"arch": arch, "classes": classes, **meta}
    atomic_write_bytes(folder / META, (json.dumps(doc, indent=1) + "\n").encode())
    return folder / WEIGHTS


def load_stroke_model(folder: Path, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """The run's stroke model and its description (StoreError when the files are missing or unreadable)."""
    try:
        doc = json.loads((Path(folder) / META).read_text())
        model = build_stroke_model(doc["arch"])
        model.load_state_dict(load((Path(folder) / WEIGHTS).read_bytes()))
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise StoreError(f"no usable stroke model in {folder} ({str(e).splitlines()[0]}); the run may not have "
                         "finished an epoch") from None
    return model.to(device).eval(), doc


def predict_strokes(model: torch.nn.Module, max_points: int, drawings: Any, device: torch.device,
                    batch: int = 512, timed: bool = False) -> np.ndarray:
    """Softmax probabilities (N, C) of `qdcore.data.drawings.Drawings` (their strokes; DataError for bitmaps only)."""
    strokes = drawings.strokes
    if strokes is None:
        raise DataError(f"{drawings.origin or 'these drawings'}: {NO_STROKES}")
    out = []
    for a in range(0, len(strokes), batch):
        x, n, _ = model_input(strokes[a:a + batch], max_points, timed)
        out.append(torch.softmax(logits_of(model, torch.as_tensor(x, device=device), torch.as_tensor(n), batch), 1))
    if out:
        return torch.cat(out).cpu().numpy()
    arch = cast(dict[str, Any], model.arch)  # set by the builder; Module's stubs type unknown attributes as Tensor | Module
    return np.zeros((0, arch["classes"]), np.float32)


def train_strokes(ctx: Any) -> Any:
    """Train ctx.cfg through the loop driver; the best epoch's model is tested and kept."""
    cfg: StrokeConfig = ctx.cfg
    splits = load_splits(cfg)

    def body(rt, emit):
        step = StrokeStep(cfg, rt, splits)
        folder = ctx.folder if rt.rank == 0 else None
        arch = cfg.arch(len(step.classes))
        fp = splits.fingerprint()

        def write(epoch: int, value: float, state: dict) -> Path:
            return save_stroke_model(folder, arch, step.classes, state,
                                     {"best_epoch": epoch, "val_loss": value, "run_id": ctx.run_id,
                                      "fingerprint": fp, "config": cfg.to_dict()})

        best = BestCheckpoint(step.monitor, 0.0, step.model.state_dict, write)
        loop = Loop(step, rt, emit, ctx.should_stop, folder, [best, EarlyStopping(step.monitor, 0.0, cfg.patience)])
        loop.resume(ctx.resume, step.classes, fp, ctx.run_id)
        params = sum(p.numel() for p in step.model.parameters())
        status = loop.run(RunStarted(ctx.run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.epochs,
                                     step.steps_per_epoch, len(step.train), fp,
                                     {"classes": len(step.classes), "params": params,
                                      "data_origin": splits.train.origin}, notes=_notes(splits, step, cfg)))
        loop.write_history(HISTORY_FILE)
        h = loop.st["history"]
        summary = {**loop.summary(), "model": cfg.model, "classes": len(step.classes), "params": params,
                   "best_epoch": best.best_epoch, "stopped_early": bool(loop.st["stopped_early"]),
                   "num_train": len(splits.train), "num_val": len(splits.val), "num_test": len(splits.test),
                   "unread_drawings": step.train.unread + step.val.unread,
                   "cut_drawings": step.train.cut + step.val.cut}
        if h.get("epoch"):
            b = best.best_epoch - 1 if best.best_epoch else -1
            summary.update({"train_loss": h["train/loss"][-1], "train_top1": h["train/top1"][-1],
                            "val_top1": h["val/top1"][b],
                            "best_val_loss": best.best if math.isfinite(best.best) else None})
        if status == "interrupted":
            loop.interrupted(summary)
            return SimpleNamespace(status=status, summary=summary, model=step.model)
        if best.kept is not None:
            step.model.load_state_dict(best.kept)
        if len(splits.test) and rt.rank == 0:
            summary.update(_test(step, splits.test, cfg, folder))
        emit(RunFinished("done", summary))
        return SimpleNamespace(status=status, summary=summary, model=step.model)

    return ranked(cfg.device, False, ctx.sink, body)


def _notes(splits: Any, step: StrokeStep, cfg: StrokeConfig) -> tuple[str, ...]:
    """The reader's notes (skipped malformed lines) and how many drawings the --max-points cap cut."""
    notes = tuple(getattr(splits.train, "notes", ()) or ())
    cut, n = step.train.cut + step.val.cut, len(step.train) + len(step.val)
    if cut:
        notes += ((f"{cut:,} of {n:,} training and validation drawings have more than {cfg.max_points:,} points; "
                   f"each is read up to its first {cfg.max_points:,} (--max-points)"),)
    return notes


def _test(step: StrokeStep, ds: Any, cfg: StrokeConfig, folder: Path | None) -> dict[str, float]:
    """Test loss, top-1 and top-5, and the split's predictions.npz (confusion, per class, worst drawings)."""
    data = StrokeData(ds, cfg.max_points, step.rt.device, step.timed)
    if step.draw is not None:
        data.x = step.draw(data.x, data.lengths)
    logits = logits_of(step.model, data.x, data.lengths, cfg.eval_batch_size)
    probs = torch.softmax(logits, 1).cpu().numpy()
    labels = np.asarray(ds.labels, np.int64)
    preds = kept_predictions(ds, labels, step.classes, probs, None, None)
    if folder is not None:
        preds.save(folder / PREDICTIONS_FILE)
    return {"test_loss": float(F.cross_entropy(logits, data.y)), "test_top1": float((probs.argmax(1) == labels).mean()),
            "test_top5": topk_hits(probs, labels, 5) / max(1, len(labels))}


def stroke_predictor(run_dir: Path, device: str | None = None) -> tuple[Callable, list[str]]:
    """(Drawings -> probabilities, class names) of a stroke run's model."""
    rt = resolve(device or "auto", None)
    model, doc = load_stroke_model(run_dir, rt.device)
    max_points, timed = int(doc["arch"].get("max_points", 256)), doc["arch"].get("raster") == "time"
    return (lambda drawings: predict_strokes(model, max_points, drawings, rt.device, timed=timed)), list(doc["classes"])


def raster_network(run_dir: Path, config: dict[str, Any]) -> tuple[torch.nn.Module, dict, Callable]:
    """(the zoo CNN inside a raster-<CNN> run's model, its stroke_model.json, provenances of the run's test drawings
    -> the uint8 (N, C, S, S) rasters it reads of them, drawn as in training); ConfigError for a sequence model."""
    model, doc = load_stroke_model(run_dir, torch.device("cpu"))
    arch = doc["arch"]
    if not isinstance(model, RasterCNN):
        raise ConfigError(f"this view needs a CNN over images; model {arch.get('name') or 'stroke-' + arch['cell']} "
                          "reads the strokes as (dx, dy, pen) rows, not an image")
    test = load_splits(StrokeConfig.from_dict(config, origin="the run's config"), mapped=True).test
    row_of = {test.provenance(i): i for i in range(len(test))}

    def images(provenances: list[str]) -> np.ndarray:
        missing = [p for p in provenances if p not in row_of]
        if missing:
            raise DataError(f"drawing {missing[0]} is not in the run's test split (its predictions are of other data: "
                            "evaluate it on its own test split again)")
        x, n, _ = model_input(test.drawings(np.array([row_of[p] for p in provenances], np.int64)),
                              int(arch.get("max_points", 256)), arch.get("raster") == "time")
        with torch.no_grad():
            return model.draw(torch.as_tensor(x), torch.as_tensor(n)).numpy()

    return model.cnn, doc, images


def evaluate_stroke_run(store: Any, run_id: int, data: str | None = None, *, categories: str | None = None,
                        per_class: int | None = None, seed: int = 0, imbalance: str | None = None,
                        device: str | None = "auto", strict: bool = False, **_runtime: Any):
    """A stroke run's model on its rebuilt test split (rewriting predictions.npz) or on other `data`."""
    rec = store.get_run(int(run_id))
    predict, classes = stroke_predictor(store.run_dir(rec.id, create=False), device)
    cfg = StrokeConfig.from_dict(rec.config, origin=f"run {rec.id} config")
    return evaluate_with(store, rec.id, predict, classes, cfg, data, categories=categories, per_class=per_class,
                         seed=seed, imbalance=imbalance, reads_drawings=True, strict=strict)
