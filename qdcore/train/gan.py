"""The GAN training loop (DCGAN, AC-GAN, one pair per class), in the airbench style of the classifier engine.

Per-class pairs train together as grouped models (qdcore.train.gan_group): one D and one G update per
group and step, in as few groups as the device's memory allows.

Drawings stay on the device as uint8 and are scaled to [-1, 1] there; real batches are index tensors;
the host syncs only every `log_every` steps. One step is `d_steps` discriminator updates and one
generator update. A fixed noise batch (and for conditional/per-class runs a fixed grid of classes)
is rendered at each epoch end and every `sample_every` steps. Resume is exact, as for classifiers.
Non-finite losses stop the run as failed; the last good epoch's checkpoint and samples stay.

Under torchrun each rank trains its slice of every global batch (`batch_size` per rank, as for
classifiers) with G and D in DistributedDataParallel; noise is drawn for the whole global batch on every
rank and sliced, so without batch norm in G and without D dropout two ranks take the same steps as one
process with the global batch. Rank 0 alone judges, renders and writes.
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
from qdcore.train import distributed as dist
from qdcore.train import gan_files as files
from qdcore.train.device import Runtime, resolve
from qdcore.train.gan_config import GanConfig
from qdcore.train.gan_group import PairGroup, ema_copy, ema_update, frozen, pair_bytes, plan_groups, update
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

    def __init__(self, cfg: GanConfig, labels: list[int], num_classes: int, rt: Runtime, train: bool = True) -> None:
        from qdcore.models import build_gan

        self.labels = labels
        self.conditional = cfg.model == "acgan"
        n = num_classes if self.conditional else 1
        self.g, self.d = build_gan(cfg.model, n, cfg.latent_dim, **cfg.model_options())
        self.g.to(rt.device)
        self.d.to(rt.device)
        # Per-class pairs are trained by a PairGroup, which owns their optimizers; these modules hold copies.
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr_g, betas=cfg.betas) if train else None
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr_d, betas=cfg.betas) if train else None
        self.scaler_g = torch.amp.GradScaler(rt.device.type) if rt.scaler and train else None
        self.scaler_d = torch.amp.GradScaler(rt.device.type) if rt.scaler and train else None
        self.index: torch.Tensor | None = None  # rows of the resident training set this pair learns from
        # The training steps go through these (DDP under torchrun, the modules themselves otherwise).
        self.g_step, self.d_step = (dist.wrap(self.g, rt.device), dist.wrap(self.d, rt.device)) if train else (None, None)
        # --g-ema: samples, quality and the stored generators come from a moving average of G's weights.
        self.ema = ema_copy(self.g) if cfg.g_ema > 0 else None

    @property
    def sampler(self) -> torch.nn.Module:
        """The generator samples come from: the moving average with --g-ema, else G itself."""
        return self.g if self.ema is None else self.ema

    def generate(self, z: torch.Tensor, y: torch.Tensor | None, g: torch.nn.Module | None = None) -> torch.Tensor:
        """Images in [-1, 1] (B, 1, 28, 28), through `g` (default: the generator itself)."""
        g = self.g if g is None else g
        return g(z, y) if self.conditional else g(z)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, label: int) -> np.ndarray:
        """uint8 drawings (B, 28, 28) of class `label` (ignored by an unconditional pair), the sampler in eval mode."""
        y = torch.full((z.shape[0],), max(label, 0), dtype=torch.long, device=z.device) if self.conditional else None
        g = self.sampler
        was = g.training
        g.eval()
        try:
            return to_uint8(self.generate(z, y, g))
        finally:
            g.train(was)


def build_pairs(cfg: GanConfig, num_classes: int, rt: Runtime) -> list[Pair]:
    """One pair over all classes, or (per-class GANs) one pair per class."""
    if cfg.per_class_gans:
        return [Pair(cfg, [k], num_classes, rt, train=False) for k in range(num_classes)]
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


def render(pairs: list[Pair], z: torch.Tensor, classes_per_row: list[int], cols: int) -> np.ndarray:
    """The sample grid uint8 (rows, cols, 28, 28): one row per class (conditional / per-class) or rows of noise."""
    rows = []
    for r, label in enumerate(classes_per_row):
        pair = next((p for p in pairs if label in p.labels), pairs[0]) if label >= 0 else pairs[0]
        rows.append(pair.sample(z[r * cols:(r + 1) * cols], label))
    return np.stack(rows)


def generate_class(pairs: list[Pair], label: int, z: torch.Tensor) -> np.ndarray:
    """uint8 drawings (n, 28, 28) of one class (any class for a single unconditional pair)."""
    pair = next((p for p in pairs if label in p.labels), pairs[0])
    return np.concatenate([pair.sample(z[i:i + 512], label) for i in range(0, z.shape[0], 512)])


def grid_rows(cfg: GanConfig, classes: list[str]) -> tuple[list[int], list[str]]:
    """Row labels of the sample grid: one row per class where the model knows classes, else four noise rows."""
    if cfg.model == "acgan" or cfg.per_class_gans:
        return list(range(len(classes))), list(classes)
    name = " + ".join(classes) if len(classes) <= 3 else f"{len(classes)} classes"
    return [-1] * 4, [name] * 4


def train_gan(cfg: GanConfig, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
              run_dir: str | Path | None = None, resume: str | Path | None = None, *, splits=None,
              run_id: int | None = None, judge=None, memory_budget: float | None = None) -> GanResult:
    """Train a GAN as `cfg` says, emitting events to `sink`; `resume` is a run folder to continue.

    memory_budget: device bytes per-class pairs may take together (default: half the free memory on CUDA).
    """
    cfg.validate()
    rt = resolve(cfg.device, cfg.amp)
    out_dir = Path(run_dir) if run_dir is not None and rt.rank == 0 else None
    dist.join(rt.device, rt.world_size)
    emit = sink if rt.rank == 0 else null_sink  # only rank 0 talks to sinks, judges and writes files
    with reported(emit):
        result = _train(cfg, rt, emit, should_stop, out_dir, Path(resume) if resume else None, splits, run_id,
                        judge if rt.rank == 0 else None, memory_budget)
    for p in result.pairs:  # the DDP views go before the group does (see dist.leave)
        p.g_step = p.d_step = None
    # Every rank leaves together: a rank exiting while a peer still talks to it aborts that peer (Gloo).
    dist.barrier()
    dist.leave()
    return result


def _modules(pairs: list[Pair]) -> dict[str, dict[str, torch.Tensor]]:
    out = {}
    for k, p in enumerate(pairs):
        out[f"g{k}"] = p.g.state_dict()
        out[f"d{k}"] = p.d.state_dict()
        if p.ema is not None:
            out[f"e{k}"] = p.ema.state_dict()
    return out


def _optimizers(pairs: list[Pair], groups: list[PairGroup]) -> dict[str, dict[str, Any]]:
    # Saved per pair in both cases, so a per-class checkpoint reads the same however its pairs were grouped.
    out = {}
    for k, p in enumerate(pairs):
        if p.opt_g is not None:
            out[f"g{k}"], out[f"d{k}"] = p.opt_g.state_dict(), p.opt_d.state_dict()
    for grp in groups:
        for k, (og, od) in zip(grp.members, grp.optimizer_states()):
            out[f"g{k}"], out[f"d{k}"] = og, od
    return out


def _load_pairs(pairs: list[Pair], groups: list[PairGroup], saved: dict[str, Any], where: Path) -> None:
    opts = saved.get("optimizers")
    try:
        for k, p in enumerate(pairs):
            p.g.load_state_dict(saved["modules"][f"g{k}"])
            p.d.load_state_dict(saved["modules"][f"d{k}"])
            if p.ema is not None:  # a checkpoint from before --g-ema was on starts the average at G
                p.ema.load_state_dict(saved["modules"].get(f"e{k}", saved["modules"][f"g{k}"]))
            if opts and p.opt_g is not None:
                p.opt_g.load_state_dict(opts[f"g{k}"])
                p.opt_d.load_state_dict(opts[f"d{k}"])
        for grp in groups:
            grp.load_pairs()
            if opts:
                grp.load_optimizer_states([(opts[f"g{k}"], opts[f"d{k}"]) for k in grp.members])
    except (RuntimeError, ValueError, KeyError) as e:
        raise StoreError(f"{where} does not fit this GAN ({e})".splitlines()[0]) from None


def _group_pairs(cfg: GanConfig, pairs: list[Pair], rt: Runtime, budget: float | None) -> list[PairGroup]:
    """Per-class pairs in as few grouped models as fit the device (none for a run of one pair)."""
    if not cfg.per_class_gans:
        return []
    from qdcore.train.stream import default_budget

    # Read after the drawings went to the device, so the free memory left is what the models may use.
    budget = default_budget(rt.device) if budget is None else budget
    return [PairGroup(cfg, [pairs[k] for k in ids], ids, rt)
            for ids in plan_groups(len(pairs), pair_bytes(cfg), budget)]


def _train(cfg: GanConfig, rt: Runtime, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
           resume: Path | None, splits, run_id: int | None, judge, memory_budget: float | None) -> GanResult:
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
    groups = _group_pairs(cfg, pairs, rt, memory_budget)

    def export() -> None:
        for grp in groups:  # the per-pair modules that sampling and the run's files read
            grp.export()

    batch = cfg.batch_size
    longest = max(int(p.index.numel()) for p in pairs)
    steps_per_epoch = max(1, math.ceil(longest / (batch * rt.world_size * cfg.d_steps)))
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
        _load_pairs(pairs, groups, saved, resume / ckpt.RESUME_FILE)
        st.update(s)
        # A mid-epoch position under another world size: the same drawings of the epoch consumed.
        st["batch"] = st["batch"] * st.get("world_size", 1) // rt.world_size
        if rt.rank != 0:  # the saved sums are over all ranks: rank 0 carries them
            st["acc"] = None
        scalers = st.get("scalers") or []
        for p, sc in zip(pairs, scalers):
            if p.scaler_g is not None and sc:
                p.scaler_g.load_state_dict(sc[0])
                p.scaler_d.load_state_dict(sc[1])
        for grp in groups:
            grp.load_scaler_states([scalers[k] for k in grp.members if k < len(scalers)])
        if st["batch"] > 0:
            # Every rank shares the noise stream, so rank 0's saved state is every rank's (dropout masks
            # of ranks > 0 then follow rank 0's stream for the rest of that epoch).
            set_rng_state(rt, noise_gen, saved["rng"], "noise")
            rng_restored = True

    st["world_size"] = rt.world_size
    if out_dir is not None:
        files.write_meta(out_dir, cfg.to_dict(), classes, pairs[0].g.arch, [p.labels for p in pairs],
                         pairs[0].conditional, row_names, run_id, fingerprint)
    info = {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic),
            "classes": len(classes), "judge": getattr(judge, "run_id", None)}
    if groups:
        info["pairs_per_group"] = [grp.k for grp in groups]  # trained one group after another in each step
    info["world_size"] = rt.world_size
    emit(RunStarted(run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.epochs, steps_per_epoch, len(splits.train),
                    fingerprint, info))

    def save_resume(position_epoch: int, position_batch: int) -> Path | None:
        st["epoch"], st["batch"] = position_epoch, position_batch
        if out_dir is None:
            return None
        st["scalers"] = [[p.scaler_g.state_dict(), p.scaler_d.state_dict()] if p.scaler_g is not None else None
                         for p in pairs]
        for grp in groups:
            for k, sc in zip(grp.members, grp.scaler_states()):
                st["scalers"][k] = sc
        export()
        return ckpt.save_states(out_dir / ckpt.RESUME_FILE, _modules(pairs), _optimizers(pairs, groups),
                                rng_state(rt, noise_gen, "noise"), st, files.RESUME_FORMAT)

    def emit_samples(epoch: int, step: int, name: str) -> None:
        # The store's sink keeps each grid as runs/<id>/<name>/epoch_NNNN_sSTEP.npy plus an artifacts row.
        export()
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
            torch.manual_seed(seed_for(cfg.seed, epoch, _DROPOUT_STREAM, rt.rank))  # each rank its own masks
            noise_gen.manual_seed(seed_for(cfg.seed, epoch, _NOISE_STREAM))
        rng_restored = False
        orders = []
        for k, p in enumerate(pairs):
            g = torch.Generator().manual_seed(seed_for(cfg.seed, epoch, _ORDER_STREAM * 1000 + k))
            orders.append(p.index[torch.randperm(p.index.numel(), generator=g).to(rt.device)])
        for grp in groups:
            grp.set_orders([orders[k] for k in grp.members])
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
            if groups:
                # One noise draw for every pair (and the whole global batch: each rank keeps its slice), so a
                # pair's noise depends neither on how the pairs are grouped nor on the number of ranks.
                z = torch.randn(cfg.d_steps, batch * rt.world_size, len(pairs), cfg.latent_dim, device=rt.device,
                                generator=noise_gen)[:, rt.rank * batch:(rt.rank + 1) * batch]
                for grp in groups:
                    stats = grp.step(cfg, rt, images, bi, batch, z[:, :, grp.members[0]:grp.members[-1] + 1],
                                     smooth_real)
                    acc.add(stats, batch * cfg.d_steps * grp.k, grp.k)
                    win.add(stats, batch * cfg.d_steps * grp.k, grp.k)
            else:
                for p, order in zip(pairs, orders):
                    stats = _step(cfg, rt, p, images, labels, order, bi, batch, noise_gen, smooth_real)
                    acc.add(stats, batch * cfg.d_steps)
                    win.add(stats, batch * cfg.d_steps)
            st["images"] += batch * cfg.d_steps * len(pairs) * rt.world_size
            asked = should_stop()
            if step % cfg.log_every == 0:
                # The only per-step host sync: once every log_every steps.
                w = win.means()
                now = time.perf_counter()
                bad = not _finite(w)
                if rt.world_size > 1:
                    # One collective for both flags: a NaN on any rank fails all, a stop stops all at this step.
                    bad, asked = dist.any_ranks([bad, asked], rt.device)
                if bad:
                    failure = f"step {step}"
                    break
                emit(Progress(step, epoch, st["images"], cfg.lr_g, w["g_loss"],
                              win.n_real * rt.world_size / max(now - t_win, 1e-9)))
                win = _Acc(rt.device, None)
                t_win = now
            elif rt.world_size > 1:
                asked = False  # ranks agree at logging steps only, so all end at the same step
            if cfg.sample_every and step % cfg.sample_every == 0 and rt.rank == 0:
                emit_samples(epoch, step, files.STEP_SAMPLES)
            if asked:
                stop = True
                break
        st["epoch_seconds"] += _sync_seconds(rt, t0)
        acc = acc.reduced(rt)  # sums over all ranks (one collective an epoch); rank 0 carries them
        st["acc"] = acc.state()
        # Rank 0 holds the sums over all ranks: its verdict is every rank's.
        if failure is None and dist.any_rank(not _finite(acc.means()), rt.device):
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
        export()
        metrics = {f"train/{k}": v for k, v in acc.means().items()}
        metrics["train/throughput"] = acc.n_real / max(st["epoch_seconds"], 1e-9)
        if judge is not None:  # rank 0 only (the other ranks get no judge)
            from qdcore.analysis.gan_quality import quality_metrics

            generated = {c: generate_class(pairs, c, z_quality) for c in range(len(classes))
                         if cfg.per_class_gans or cfg.model == "acgan" or c == 0}
            metrics.update(quality_metrics(judge, reference, generated, classes, cfg.collapse_threshold,
                                           conditional=cfg.per_class_gans or cfg.model == "acgan"))
        hist = st["history"]
        hist.setdefault("epoch", []).append(epoch)
        for key, v in metrics.items():
            hist.setdefault(key, []).append(v)
        if rt.rank == 0:
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
        stop = dist.any_rank(stop or should_stop(), rt.device)
        if stop and epoch <= cfg.epochs:
            status = "interrupted"
            break

    export()
    history = st["history"]
    epochs_done = len(history.get("epoch", []))
    seconds = st["train_seconds"] + (st["epoch_seconds"] if st["batch"] > 0 else 0.0)
    summary: dict[str, Any] = {
        "model": cfg.model + (" per class" if cfg.per_class_gans else ""), "params": n_params,
        "classes": len(classes), "pairs": len(pairs), "device": rt.describe(), "epochs": epochs_done,
        "total_epochs": cfg.epochs, "train_seconds": seconds,
        "images_per_second": (st["images"] / seconds) if seconds > 0 else 0.0,
        "num_train": len(splits.train), "num_test": len(splits.test), "fingerprint": fingerprint,
        "judge": getattr(judge, "run_id", None), "world_size": rt.world_size,
    }
    if groups:
        summary["pairs_per_group"] = info["pairs_per_group"]
    if pairs[0].conditional and len(splits.test) and failure is None:
        from qdcore.analysis.gan_eval import class_head_scores

        # Study 001's discriminator as a classifier: its class head on the test split, as a classifier is scored.
        pairs[0].d.eval()
        summary.update(class_head_scores(pairs[0].d, splits.test, rt.device))
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
    world, mine = rt.world_size, slice(rt.rank * batch, (rt.rank + 1) * batch)
    ar = torch.arange(batch, device=dev) + rt.rank * batch
    fake = z = y_fake = None
    for j in range(cfg.d_steps):
        # This rank's slice of the global batch; wrap: smaller classes cycle while the largest finishes.
        pos = ((bi * cfg.d_steps + j) * batch * world + ar) % n
        idx = order.index_select(0, pos)
        x_real = scale_real(images, idx)
        y_real = labels.index_select(0, idx)
        # Noise for the whole global batch on every rank (same stream), then this rank's slice.
        z = torch.randn(batch * world, cfg.latent_dim, device=dev, generator=noise_gen)[mine]
        y_fake = torch.randint(0, p.g.num_classes, (batch * world,), device=dev, generator=noise_gen)[mine] \
            if p.conditional else None
        last = j == cfg.d_steps - 1
        with rt.autocast():
            # Only the last D step's fakes train G: earlier ones skip DDP (a forward without a backward).
            if last:
                fake = p.generate(z, y_fake, p.g_step)
            else:
                with torch.no_grad():
                    fake = p.generate(z, y_fake)
            # D has no batch norm, so real and fake go through it in one call.
            out = p.d_step(torch.cat([x_real, fake.detach()]))
            src, cls = (out if p.conditional else (out, None))
            src = src.float().flatten()
            target = torch.cat([torch.full((batch,), smooth_real, device=dev), torch.zeros(batch, device=dev)])
            d_loss = F.binary_cross_entropy_with_logits(src, target)
            if p.conditional:
                d_loss = d_loss + F.cross_entropy(cls.float(), torch.cat([y_real, y_fake]))
        update(p.opt_d, p.scaler_d, d_loss)
        with torch.no_grad():
            prob = torch.sigmoid(src)
            stats["d_loss"] = stats.get("d_loss", 0) + d_loss.detach() / cfg.d_steps
            stats["d_real"] = stats.get("d_real", 0) + prob[:batch].mean() / cfg.d_steps
            stats["d_fake"] = stats.get("d_fake", 0) + prob[batch:].mean() / cfg.d_steps
            if p.conditional:
                hits = cls.argmax(1) == torch.cat([y_real, y_fake])
                stats["cls_real"] = stats.get("cls_real", 0) + hits[:batch].float().mean() / cfg.d_steps
                stats["cls_fake"] = stats.get("cls_fake", 0) + hits[batch:].float().mean() / cfg.d_steps
    # Generator update on the last D step's fakes (as the PyTorch DCGAN recipe); D's weights need no grads here,
    # so this pass goes through D itself, not its DDP view, and only G's gradients are all-reduced.
    with frozen(p.d):
        with rt.autocast():
            out = p.d(fake)
            src, cls = (out if p.conditional else (out, None))
            g_loss = F.binary_cross_entropy_with_logits(src.float().flatten(), torch.ones(batch, device=dev))
            if p.conditional:
                g_loss = g_loss + F.cross_entropy(cls.float(), y_fake)
        update(p.opt_g, p.scaler_g, g_loss)
    if p.ema is not None:
        ema_update(p.ema, p.g, cfg.g_ema)
    stats["g_loss"] = g_loss.detach()
    return stats


class _Acc:
    """Sums of step statistics on the device; one host sync when read."""

    KEYS = ("g_loss", "d_loss", "d_real", "d_fake", "cls_real", "cls_fake")

    def __init__(self, device: torch.device, saved: dict | None) -> None:
        saved = saved or {}
        self.sums = {k: torch.tensor(float(saved.get("sums", {}).get(k, 0.0)), device=device) for k in self.KEYS}
        self.present = set(saved.get("present", []))
        self.n = int(saved.get("n", 0))
        self.n_real = int(saved.get("n_real", 0))

    def add(self, stats: dict[str, torch.Tensor], n_real: int, count: int = 1) -> None:
        """Statistics summed over `count` pairs (means stay per pair and step, however pairs are grouped)."""
        for k, v in stats.items():
            self.sums[k] += v
            self.present.add(k)
        self.n += count
        self.n_real += n_real

    def reduced(self, rt: Runtime) -> "_Acc":
        """Sums and counts over all ranks on rank 0, zeros elsewhere (so carrying them sums right on resume)."""
        if rt.world_size == 1:
            return self
        *sums, n, n_real = dist.all_sum(*[self.sums[k] for k in self.KEYS], self.n, self.n_real, device=rt.device)
        present = sorted(self.present)
        out = _Acc(rt.device, {"sums": dict(zip(self.KEYS, sums)), "present": present, "n": int(n),
                               "n_real": int(n_real)} if rt.rank == 0 else {"present": present})
        return out

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
