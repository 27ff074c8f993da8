"""The GAN training loop (DCGAN, AC-GAN, one pair per class), in the airbench style of the classifier engine.

Drawings stay on the device as uint8 and are scaled to [-1, 1] there; real batches are index tensors;
the host syncs only every `log_every` steps. One step is `d_steps` discriminator updates and one
generator update. A fixed noise batch (and for conditional/per-class runs a fixed grid of classes)
is rendered at each epoch end and every `sample_every` steps. Resume is exact, as for classifiers.
Non-finite losses stop the run as failed; the last good epoch's checkpoint and samples stay.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.errors import QDError, StoreError
from qdcore.events import Checkpoint, EpochEnd, Progress, RunFinished, RunStarted, Samples, Sink, null_sink, reported
from qdcore.paths import atomic_write_bytes
from qdcore.train import checkpoint as ckpt
from qdcore.train import gan_files as files
from qdcore.train.device import Runtime, resolve
from qdcore.train.gan_config import GanConfig
from qdcore.train.gpudata import seed_for
from qdcore.train.rng import rng_state, set_rng_state

_NOISE_STREAM, _ORDER_STREAM, _DROPOUT_STREAM = 11, 12, 13
_FIXED_NOISE, _QUALITY_NOISE = 101, 102


class Diverged(QDError):
    """The losses became NaN or infinite."""

    exit_code = 1


@dataclass
class GanResult:
    """What a GAN run returns: status, summary, per-epoch history and the trained generators."""

    status: str  # done | interrupted
    summary: dict[str, Any]
    history: dict[str, list[float]]
    pairs: list["Pair"]
    classes: list[str]
    run_dir: Path | None = None
    run_id: int | None = None


class Pair:
    """One generator/discriminator pair, its optimizers and the labels (within the run's classes) it learns."""

    def __init__(self, cfg: GanConfig, labels: list[int], num_classes: int, rt: Runtime) -> None:
        from qdcore.models import build_gan

        self.labels = labels
        self.conditional = cfg.model == "acgan"
        n = num_classes if self.conditional else 1
        self.g, self.d = build_gan(cfg.model, n, cfg.latent_dim, **cfg.model_options())
        self.g.to(rt.device)
        self.d.to(rt.device)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.scaler_g = torch.amp.GradScaler(rt.device.type) if rt.scaler else None
        self.scaler_d = torch.amp.GradScaler(rt.device.type) if rt.scaler else None
        self.index: torch.Tensor | None = None  # rows of the resident training set this pair learns from

    def generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """Images in [-1, 1] (B, 1, 28, 28)."""
        return self.g(z, y) if self.conditional else self.g(z)


def build_pairs(cfg: GanConfig, num_classes: int, rt: Runtime) -> list[Pair]:
    """One pair over all classes, or (per-class GANs) one pair per class."""
    if cfg.per_class_gans:
        return [Pair(cfg, [k], num_classes, rt) for k in range(num_classes)]
    return [Pair(cfg, list(range(num_classes)), num_classes, rt)]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 (B, 28, 28), white ink on black like Google's bitmaps."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28).cpu().numpy()


def scale_real(images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """uint8 rows of the resident set -> float (B, 1, 28, 28) in [-1, 1], on the device."""
    return images.index_select(0, idx).unsqueeze(1).to(torch.float32).div_(127.5).sub_(1.0)


def fixed_noise(cfg: GanConfig, n: int, what: int, device: torch.device) -> torch.Tensor:
    """A noise batch that is the same for every epoch of a run (and for any rerun with the seed)."""
    g = torch.Generator().manual_seed(seed_for(cfg.seed, 0, what))
    return torch.randn(n, cfg.latent_dim, generator=g).to(device)


@torch.no_grad()
def render(pairs: list[Pair], z: torch.Tensor, classes_per_row: list[int], cols: int) -> np.ndarray:
    """The sample grid uint8 (rows, cols, 28, 28): one row per class (conditional / per-class) or rows of noise."""
    rows = []
    for r, label in enumerate(classes_per_row):
        pair = next((p for p in pairs if label in p.labels), pairs[0]) if label >= 0 else pairs[0]
        zr = z[r * cols:(r + 1) * cols]
        y = torch.full((cols,), max(label, 0), dtype=torch.long, device=z.device) if pair.conditional else None
        was = pair.g.training
        pair.g.eval()
        try:
            rows.append(to_uint8(pair.generate(zr, y)))
        finally:
            pair.g.train(was)
    return np.stack(rows)


@torch.no_grad()
def generate_class(pairs: list[Pair], label: int, z: torch.Tensor) -> np.ndarray:
    """uint8 drawings (n, 28, 28) of one class (any class for a single unconditional pair)."""
    pair = next((p for p in pairs if label in p.labels), pairs[0])
    y = torch.full((z.shape[0],), label, dtype=torch.long, device=z.device) if pair.conditional else None
    was = pair.g.training
    pair.g.eval()
    try:
        out = [to_uint8(pair.generate(z[i:i + 512], None if y is None else y[i:i + 512]))
               for i in range(0, z.shape[0], 512)]
    finally:
        pair.g.train(was)
    return np.concatenate(out)


def grid_rows(cfg: GanConfig, classes: list[str]) -> tuple[list[int], list[str]]:
    """Row labels of the sample grid: one row per class where the model knows classes, else four noise rows."""
    if cfg.model == "acgan" or cfg.per_class_gans:
        return list(range(len(classes))), list(classes)
    name = " + ".join(classes) if len(classes) <= 3 else f"{len(classes)} classes"
    return [-1] * 4, [name] * 4


def train_gan(cfg: GanConfig, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
              run_dir: str | Path | None = None, resume: str | Path | None = None, *, splits=None,
              run_id: int | None = None, judge=None) -> GanResult:
    """Train a GAN as `cfg` says, emitting events to `sink`; `resume` is a run folder to continue."""
    cfg.validate()
    rt = resolve(cfg.device, cfg.amp)
    out_dir = Path(run_dir) if run_dir is not None else None
    with reported(sink):
        return _train(cfg, rt, sink, should_stop, out_dir, Path(resume) if resume else None, splits, run_id, judge)


def _modules(pairs: list[Pair]) -> dict[str, dict[str, torch.Tensor]]:
    out = {}
    for k, p in enumerate(pairs):
        out[f"g{k}"] = p.g.state_dict()
        out[f"d{k}"] = p.d.state_dict()
    return out


def _optimizers(pairs: list[Pair]) -> dict[str, dict[str, Any]]:
    out = {}
    for k, p in enumerate(pairs):
        out[f"g{k}"] = p.opt_g.state_dict()
        out[f"d{k}"] = p.opt_d.state_dict()
    return out


def _load_pairs(pairs: list[Pair], saved: dict[str, Any], where: Path) -> None:
    try:
        for k, p in enumerate(pairs):
            p.g.load_state_dict(saved["modules"][f"g{k}"])
            p.d.load_state_dict(saved["modules"][f"d{k}"])
            if saved.get("optimizers"):
                p.opt_g.load_state_dict(saved["optimizers"][f"g{k}"])
                p.opt_d.load_state_dict(saved["optimizers"][f"d{k}"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise StoreError(f"{where} does not fit this GAN ({e})".splitlines()[0]) from None


def _train(cfg: GanConfig, rt: Runtime, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
           resume: Path | None, splits, run_id: int | None, judge) -> GanResult:
    torch.manual_seed(cfg.seed)
    if splits is None:
        splits = load_gan_splits(cfg)
    classes = list(splits.train.classes)
    fingerprint = splits.fingerprint()
    images = torch.as_tensor(np.ascontiguousarray(splits.train.images).reshape(-1, 28, 28)).to(rt.device)
    labels = torch.as_tensor(np.asarray(splits.train.labels, np.int64)).to(rt.device)
    pairs = build_pairs(cfg, len(classes), rt)
    for p in pairs:
        mask = torch.zeros_like(labels, dtype=torch.bool)
        for c in p.labels:
            mask |= labels == c
        p.index = mask.nonzero().flatten()
        if p.index.numel() == 0:
            raise QDError(f"category {classes[p.labels[0]]!r} has no training drawings; choose more --per-class")
    n_params = sum(sum(q.numel() for q in m.parameters()) for p in pairs for m in (p.g, p.d))
    batch = cfg.batch_size
    longest = max(int(p.index.numel()) for p in pairs)
    steps_per_epoch = max(1, math.ceil(longest / (batch * cfg.d_steps)))
    noise_gen = torch.Generator(device=rt.device)

    row_labels, row_names = grid_rows(cfg, classes)
    z_grid = fixed_noise(cfg, len(row_labels) * cfg.grid_cols, _FIXED_NOISE, rt.device)
    z_quality = fixed_noise(cfg, cfg.quality_n, _QUALITY_NOISE, rt.device)
    reference = judge.reference(splits, classes) if judge is not None else None

    st: dict[str, Any] = {"epoch": 1, "batch": 0, "step": 0, "train_seconds": 0.0, "epoch_seconds": 0.0,
                          "images": 0, "acc": None, "history": {}, "classes": classes, "fingerprint": fingerprint,
                          "scalers": None, "last_good_epoch": 0}
    rng_restored = False
    if resume is not None and (resume / ckpt.RESUME_FILE).exists():
        saved = ckpt.load_states(resume / ckpt.RESUME_FILE, files.RESUME_FORMAT, "GAN resume checkpoint")
        s = saved["state"]
        if s.get("classes") != classes or s.get("fingerprint") != fingerprint:
            raise StoreError(f"the drawings selected now differ from those run {run_id or resume} trained on "
                             "(data changed?); start a new run instead of resuming")
        _load_pairs(pairs, saved, resume / ckpt.RESUME_FILE)
        st.update(s)
        for p, sc in zip(pairs, st.get("scalers") or []):
            if p.scaler_g is not None and sc:
                p.scaler_g.load_state_dict(sc[0])
                p.scaler_d.load_state_dict(sc[1])
        if st["batch"] > 0:
            set_rng_state(rt, noise_gen, saved["rng"], "noise")
            rng_restored = True

    if out_dir is not None:
        files.write_meta(out_dir, cfg.to_dict(), classes, pairs[0].g.arch, [p.labels for p in pairs],
                         pairs[0].conditional, row_names, run_id, fingerprint)
    emit(RunStarted(run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.epochs, steps_per_epoch, len(splits.train),
                    fingerprint, {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic),
                                  "classes": len(classes), "judge": getattr(judge, "run_id", None)}))

    def save_resume(position_epoch: int, position_batch: int) -> Path | None:
        st["epoch"], st["batch"] = position_epoch, position_batch
        if out_dir is None:
            return None
        st["scalers"] = [[p.scaler_g.state_dict(), p.scaler_d.state_dict()] if p.scaler_g is not None else None
                         for p in pairs]
        return ckpt.save_states(out_dir / ckpt.RESUME_FILE, _modules(pairs), _optimizers(pairs),
                                rng_state(rt, noise_gen, "noise"), st, files.RESUME_FORMAT)

    def emit_samples(epoch: int, step: int, name: str) -> None:
        # The store's sink keeps each grid as runs/<id>/<name>/epoch_NNNN_sSTEP.npy plus an artifacts row.
        grid = render(pairs, z_grid, row_labels, cfg.grid_cols)
        emit(Samples(epoch, step, grid, list(row_names), name=name))

    smooth_real = 1.0 - cfg.label_smoothing
    status = "done"
    stop = False
    epoch = st["epoch"]
    failure: str | None = None
    while epoch <= cfg.epochs:
        start_batch = st["batch"]
        if not rng_restored:
            torch.manual_seed(seed_for(cfg.seed, epoch, _DROPOUT_STREAM))
            noise_gen.manual_seed(seed_for(cfg.seed, epoch, _NOISE_STREAM))
        rng_restored = False
        orders = []
        for k, p in enumerate(pairs):
            g = torch.Generator().manual_seed(seed_for(cfg.seed, epoch, _ORDER_STREAM * 1000 + k))
            orders.append(p.index[torch.randperm(p.index.numel(), generator=g).to(rt.device)])
        if start_batch == 0:
            st["acc"], st["epoch_seconds"] = None, 0.0
        acc = _Acc(rt.device, st["acc"])
        win = _Acc(rt.device, None)
        t0 = time.perf_counter()
        t_win = t0
        bi = start_batch
        for bi in range(start_batch, steps_per_epoch):
            st["step"] += 1
            step = st["step"]
            for p, order in zip(pairs, orders):
                stats = _step(cfg, rt, p, images, labels, order, bi, batch, noise_gen, smooth_real)
                acc.add(stats, batch * cfg.d_steps)
                win.add(stats, batch * cfg.d_steps)
            st["images"] += batch * cfg.d_steps * len(pairs)
            if step % cfg.log_every == 0:
                # The only per-step host sync: once every log_every steps.
                w = win.means()
                now = time.perf_counter()
                if not _finite(w):
                    failure = f"step {step}"
                    break
                emit(Progress(step, epoch, st["images"], cfg.lr_g, w["g_loss"],
                              win.n_real / max(now - t_win, 1e-9)))
                win = _Acc(rt.device, None)
                t_win = now
            if cfg.sample_every and step % cfg.sample_every == 0:
                emit_samples(epoch, step, files.STEP_SAMPLES)
            if should_stop():
                stop = True
                break
        st["epoch_seconds"] += _sync_seconds(rt, t0)
        st["acc"] = acc.state()
        if failure is None and not _finite(acc.means()):
            failure = f"epoch {epoch}"
        if failure is not None:
            break
        finished_epoch = bi + 1 >= steps_per_epoch
        if stop and not finished_epoch:
            path = save_resume(epoch, bi + 1)
            if path is not None:
                emit(Checkpoint(epoch, str(path), False))
            status = "interrupted"
            break

        st["train_seconds"] += st["epoch_seconds"]
        metrics = {f"train/{k}": v for k, v in acc.means().items()}
        metrics["train/throughput"] = acc.n_real / max(st["epoch_seconds"], 1e-9)
        if judge is not None:
            from qdcore.analysis.gan_quality import quality_metrics

            generated = {c: generate_class(pairs, c, z_quality) for c in range(len(classes))
                         if cfg.per_class_gans or cfg.model == "acgan" or c == 0}
            metrics.update(quality_metrics(judge, reference, generated, classes, cfg.collapse_threshold,
                                           conditional=cfg.per_class_gans or cfg.model == "acgan"))
        hist = st["history"]
        hist.setdefault("epoch", []).append(epoch)
        for key, v in metrics.items():
            hist.setdefault(key, []).append(v)
        emit_samples(epoch, st["step"], files.SAMPLES_DIR)
        if out_dir is not None:
            if cfg.keep_generators:
                files.write_generators(out_dir, epoch, pairs)
            path = files.write_model(out_dir, pairs, epoch)
            emit(Checkpoint(epoch, str(path), True))
        emit(epoch_event(epoch, st["step"], st["epoch_seconds"], metrics))
        st["last_good_epoch"] = epoch
        epoch += 1
        save_resume(epoch, 0)
        stop = stop or should_stop()
        if stop and epoch <= cfg.epochs:
            status = "interrupted"
            break

    history = st["history"]
    epochs_done = len(history.get("epoch", []))
    seconds = st["train_seconds"] + (st["epoch_seconds"] if st["batch"] > 0 else 0.0)
    summary: dict[str, Any] = {
        "model": cfg.model + (" per class" if cfg.per_class_gans else ""), "params": n_params,
        "classes": len(classes), "pairs": len(pairs), "device": rt.describe(), "epochs": epochs_done,
        "total_epochs": cfg.epochs, "train_seconds": seconds,
        "images_per_second": (st["images"] / seconds) if seconds > 0 else 0.0,
        "num_train": len(splits.train), "num_test": len(splits.test), "fingerprint": fingerprint,
        "judge": getattr(judge, "run_id", None),
    }
    for key in ("train/g_loss", "train/d_loss", "quality/recognised", "quality/fid", "quality/diversity",
                "quality/nearest", "quality/collapse"):
        if history.get(key):
            summary[key.split("/", 1)[1]] = history[key][-1]
    if out_dir is not None:
        atomic_write_bytes(out_dir / files.HISTORY_FILE, files.json_bytes(history))
    if failure is not None:
        good = st["last_good_epoch"]
        kept = f"the checkpoint and samples of epoch {good} are kept" if good else "no epoch finished"
        raise Diverged(f"the GAN diverged: losses became NaN/inf at {failure}; {kept}. "
                       "Lower --lr-d/--lr-g or add --label-smoothing")
    if status == "interrupted":
        summary["resume_from"] = {"epoch": st["epoch"], "batch": st["batch"]}
    emit(RunFinished(status, summary))
    return GanResult(status, summary, history, pairs, classes, out_dir, run_id)


def _step(cfg: GanConfig, rt: Runtime, p: Pair, images: torch.Tensor, labels: torch.Tensor, order: torch.Tensor,
          bi: int, batch: int, noise_gen: torch.Generator, smooth_real: float) -> dict[str, torch.Tensor]:
    """d_steps discriminator updates and one generator update on one pair; statistics stay on the device."""
    n = order.numel()
    dev = images.device
    stats: dict[str, torch.Tensor] = {}
    ar = torch.arange(batch, device=dev)
    fake = z = y_fake = None
    for j in range(cfg.d_steps):
        pos = ((bi * cfg.d_steps + j) * batch + ar) % n  # wrap: smaller classes cycle while the largest finishes
        idx = order.index_select(0, pos)
        x_real = scale_real(images, idx)
        y_real = labels.index_select(0, idx)
        z = torch.randn(batch, cfg.latent_dim, device=dev, generator=noise_gen)
        y_fake = torch.randint(0, p.g.num_classes, (batch,), device=dev, generator=noise_gen) \
            if p.conditional else None
        with rt.autocast():
            fake = p.generate(z, y_fake)
            # D has no batch norm, so real and fake go through it in one call.
            out = p.d(torch.cat([x_real, fake.detach()]))
            src, cls = (out if p.conditional else (out, None))
            src = src.float().flatten()
            target = torch.cat([torch.full((batch,), smooth_real, device=dev), torch.zeros(batch, device=dev)])
            d_loss = F.binary_cross_entropy_with_logits(src, target)
            if p.conditional:
                d_loss = d_loss + F.cross_entropy(cls.float(), torch.cat([y_real, y_fake]))
        _update(p.opt_d, p.scaler_d, d_loss)
        with torch.no_grad():
            prob = torch.sigmoid(src)
            stats["d_loss"] = stats.get("d_loss", 0) + d_loss.detach() / cfg.d_steps
            stats["d_real"] = stats.get("d_real", 0) + prob[:batch].mean() / cfg.d_steps
            stats["d_fake"] = stats.get("d_fake", 0) + prob[batch:].mean() / cfg.d_steps
            if p.conditional:
                hits = cls.argmax(1) == torch.cat([y_real, y_fake])
                stats["cls_real"] = stats.get("cls_real", 0) + hits[:batch].float().mean() / cfg.d_steps
                stats["cls_fake"] = stats.get("cls_fake", 0) + hits[batch:].float().mean() / cfg.d_steps
    # Generator update on the last D step's fakes (as the PyTorch DCGAN recipe); D's weights need no grads here.
    for q in p.d.parameters():
        q.requires_grad_(False)
    try:
        with rt.autocast():
            out = p.d(fake)
            src, cls = (out if p.conditional else (out, None))
            g_loss = F.binary_cross_entropy_with_logits(src.float().flatten(), torch.ones(batch, device=dev))
            if p.conditional:
                g_loss = g_loss + F.cross_entropy(cls.float(), y_fake)
        _update(p.opt_g, p.scaler_g, g_loss)
    finally:
        for q in p.d.parameters():
            q.requires_grad_(True)
    stats["g_loss"] = g_loss.detach()
    return stats


def _update(opt: torch.optim.Optimizer, scaler, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()


class _Acc:
    """Sums of step statistics on the device; one host sync when read."""

    KEYS = ("g_loss", "d_loss", "d_real", "d_fake", "cls_real", "cls_fake")

    def __init__(self, device: torch.device, saved: dict | None) -> None:
        saved = saved or {}
        self.sums = {k: torch.tensor(float(saved.get("sums", {}).get(k, 0.0)), device=device) for k in self.KEYS}
        self.present = set(saved.get("present", []))
        self.n = int(saved.get("n", 0))
        self.n_real = int(saved.get("n_real", 0))

    def add(self, stats: dict[str, torch.Tensor], n_real: int) -> None:
        for k, v in stats.items():
            self.sums[k] += v
            self.present.add(k)
        self.n += 1
        self.n_real += n_real

    def means(self) -> dict[str, float]:
        vals = torch.stack([self.sums[k] for k in self.KEYS]).tolist()
        return {k: v / max(1, self.n) for k, v in zip(self.KEYS, vals) if k in self.present}

    def state(self) -> dict[str, Any]:
        vals = torch.stack([self.sums[k] for k in self.KEYS]).tolist()
        return {"sums": dict(zip(self.KEYS, vals)), "present": sorted(self.present), "n": self.n,
                "n_real": self.n_real}


def _finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())


def _sync_seconds(rt: Runtime, t0: float) -> float:
    rt.sync()
    return time.perf_counter() - t0


def epoch_event(epoch: int, step: int, seconds: float, metrics: dict[str, float]) -> EpochEnd:
    """An EpochEnd with metrics keyed 'split/name'."""
    return EpochEnd(epoch, step, seconds, dict(metrics))


def load_gan_splits(cfg: GanConfig):
    """The drawings of a GAN config: select, then split off the real test drawings the quality metrics use."""
    from qdcore.data.selection import select_splits

    return select_splits(cfg)
