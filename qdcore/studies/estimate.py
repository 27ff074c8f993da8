"""Projected hours of a study: its work counted from the spec, images/s timed on this device (or given)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from qdcore.errors import ConfigError
from qdcore.studies.spec import StudySpec, expand

MAX_TIMED = 4  # widths timed per model shape; the others are interpolated between them
REPEATS = 3  # timed epochs of `steps` training steps each, after one of warm-up


@dataclass(frozen=True)
class Work:
    """One trial's work: drawings trained (all epochs) and evaluated (val every epoch, test once)."""

    index: int
    params: dict[str, Any]
    kind: str
    train_images: int
    eval_images: int
    shape: tuple  # what a timing depends on besides width and classes (model, options, batch, optimizer, ...)
    width: int | None
    classes: int
    cfg: Any = field(compare=False, repr=False)


def _classes(cfg: Any, source: Any, where: str) -> list[str]:
    from qdcore.data.categories import parse_categories

    cats = parse_categories(cfg.categories) if cfg.categories else None
    if cats:
        return cats
    if source is None:
        raise ConfigError(f"{where} uses every category of its data: pass --data so the estimate can count them")
    return list(source.categories())


def _per_class(cfg: Any, cat: str, ratios: dict[str, float], source: Any, where: str) -> int:
    """Drawings of one category the trial trains and validates on."""
    if cfg.per_class is not None:
        return max(1, int(round(cfg.per_class * ratios.get(cat, 1.0))))
    if source is None:
        raise ConfigError(f"{where} takes all drawings of each category: pass --data so the estimate can count them")
    return source.count(cat) - (cfg.balanced_test or 0)


def trial_work(spec: StudySpec, source: Any = None) -> list[Work]:
    """Each trial's work, counted from its config as the engine will run it (no data read unless `source`)."""
    from qdcore.data.drawingset import parse_ratios, split_counts
    from qdcore.runs.kinds import get_kind

    out = []
    for t in expand(spec):
        where = f"{spec.origin}, trial {t.index + 1}"
        cfg = get_kind(t.kind).config.from_dict(t.options, origin=where)
        cats = _classes(cfg, source, where)
        ratios = parse_ratios(cfg.imbalance)
        train = val = test = 0
        for c in cats:
            a, b, d = split_counts(_per_class(cfg, c, ratios, source, where), cfg.val,
                                   0.0 if cfg.balanced_test else cfg.test)
            train, val, test = train + a, val + b, test + (cfg.balanced_test or d)
        epochs = int(getattr(cfg, "epochs", 1))
        batch = int(getattr(cfg, "batch_size", 0) or 0)
        if batch and train > batch and train % batch == 1:
            train -= 1  # the engine drops a last batch of one (batch norm needs two)
        out.append(Work(t.index, t.params, t.kind, train * epochs, val * epochs + test, _shape(cfg),
                        getattr(cfg, "width", None), len(cats), cfg))
    return out


def _shape(cfg: Any) -> tuple:
    """What a timing depends on, besides width and the number of classes."""
    if not hasattr(cfg, "model_options"):
        return (type(cfg).__name__, getattr(cfg, "model", ""))
    opts = {k: v for k, v in cfg.model_options().items() if k != "width"}
    # Weight decay, lr and schedules change no kernel's size: trials differing only there share a timing.
    return (cfg.model, json.dumps(opts, sort_keys=True, default=str), cfg.batch_size, cfg.optimizer, cfg.amp,
            cfg.compile, cfg.hflip, cfg.vflip, cfg.rotate, cfg.shift, cfg.eval_batch_size)


def flops_per_image(cfg: Any, classes: int) -> int:
    """Multiply-adds of one forward pass (convolutions and linear layers), counted on a real 1-image pass."""
    import torch

    from qdcore.models import build_model

    model = build_model(cfg.model, classes, **cfg.model_options()).eval()
    total = [0]

    def hook(mod: Any, inp: Any, out: Any) -> None:
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total[0] += out.numel() * k
        elif isinstance(mod, torch.nn.Linear):
            total[0] += out.numel() * mod.in_features

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total[0]


@dataclass
class Rate:
    """Images/s of one (shape, width, classes): timed here, interpolated between timings, or given."""

    train: float
    eval: float
    how: str  # "timed" | "interpolated" | "given"
    flops: int = 0


def time_engine(cfg: Any, classes: int, device: str, steps: int = 4) -> tuple[float, float]:
    """(training, evaluation) images/s of the engine on random uint8 drawings; a first pass of each is warm-up."""
    import numpy as np
    import torch

    from qdcore.data.drawingset import DrawingSet, Splits
    from qdcore.events import EpochEnd
    from qdcore.train.device import resolve
    from qdcore.train.engine import fast_view, train
    from qdcore.train.evaluate import evaluate
    from qdcore.train.gpudata import DeviceData

    n = steps * cfg.batch_size
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, classes, size=n).astype(np.int64)
    names = [f"c{i}" for i in range(classes)]

    def part(k: int) -> DrawingSet:
        return DrawingSet(images[:k], labels[:k], names, ["random"], np.zeros(k, np.int32), np.arange(k))

    run = cfg.replace(origin="estimate", epochs=1 + REPEATS, val=0.0, test=0.0, patience=0, plateau_patience=0,
                      device=device, log_every=10**6, synthetic=None, balanced_test=None, name="estimate")
    seen: list[float] = []
    # Epoch 1 is warm-up (allocation, cudnn autotuning); each later epoch's throughput is the engine's own
    # timing, and the best counts, as a busy machine only ever slows a timing down.
    result = train(run, lambda e: seen.append(e.metrics["train/throughput"]) if isinstance(e, EpochEnd) else None,
                   splits=Splits(part(n), part(0), part(0)))
    rt = resolve(device, run.amp)
    channels_last = rt.device.type in ("cpu", "cuda")  # as the engine places its data and model
    model = result.model.to(rt.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    reps = -(-4 * cfg.eval_batch_size // n)  # evaluation is fast: time at least four of its batches
    data = DeviceData(np.concatenate([images] * reps), np.concatenate([labels] * reps), rt.device, channels_last)
    net = fast_view(model)
    best = math.inf
    for i in range(1 + REPEATS):  # the first pass is warm-up; then the best, as a busy machine only ever slows one down
        rt.sync()
        t = time.perf_counter()
        evaluate(net, data, rt, cfg.eval_batch_size)
        rt.sync()
        if i:
            best = min(best, time.perf_counter() - t)
    return max(seen[1:]), len(data) / best


def _pick(members: list[tuple[int, Any]]) -> list[int]:
    """Indices (into members sorted by FLOPs) to time: both ends and evenly spaced ones between."""
    m = len(members)
    if m <= MAX_TIMED:
        return list(range(m))
    return sorted({round(i * (m - 1) / (MAX_TIMED - 1)) for i in range(MAX_TIMED)})


def measure(work: list[Work], device: str = "auto", steps: int = 4, given: float | None = None,
            on_timing: Any = None) -> dict[tuple, Rate]:
    """Images/s per (shape, width, classes): `given` for all, or a few timed per shape and the rest
    interpolated linearly in FLOPs per image (seconds per image) between their timed neighbours."""
    rates: dict[tuple, Rate] = {}
    groups: dict[tuple, dict[tuple, Work]] = {}
    for w in work:
        groups.setdefault(w.shape, {}).setdefault((w.width, w.classes), w)
    for shape, members in groups.items():
        keyed = [((shape, *k), w) for k, w in members.items()]
        if given is not None:
            rates.update({k: Rate(given, given, "given") for k, _ in keyed})
            continue
        if not hasattr(keyed[0][1].cfg, "model_options"):
            continue  # not the engine's (a classical baseline): not projected
        flops = sorted(((flops_per_image(w.cfg, w.classes), k, w) for k, w in keyed), key=lambda t: t[0])
        timed = []
        for i in _pick([(f, w) for f, _, w in flops]):
            f, k, w = flops[i]
            tr, ev = time_engine(w.cfg, w.classes, device, steps)
            rates[k] = Rate(tr, ev, "timed", f)
            timed.append((f, tr, ev))
            if on_timing:
                on_timing(k, rates[k])
        for f, k, _ in flops:
            if k not in rates:
                rates[k] = Rate(*_interpolate(timed, f), "interpolated", f)
    return rates


def _interpolate(timed: list[tuple[int, float, float]], f: int) -> tuple[float, float]:
    """Images/s at FLOPs f: seconds per image linear in FLOPs between the nearest timed shapes around f."""
    lo = max((t for t in timed if t[0] <= f), key=lambda t: t[0])
    hi = min((t for t in timed if t[0] >= f), key=lambda t: t[0])
    a = 0.0 if hi[0] == lo[0] else (f - lo[0]) / (hi[0] - lo[0])
    return tuple(1.0 / ((1 - a) / lo[j] + a / hi[j]) for j in (1, 2))  # type: ignore[return-value]


@dataclass
class Estimate:
    """A study's projected time: per trial seconds, totals, and per model the rate used."""

    name: str
    work: list[Work]
    rates: dict[tuple, Rate]
    seconds: list[float | None]  # per trial, None where not projected
    workers: int
    per_gpu: int | None
    gain: float
    device: str
    notes: list[str] = field(default_factory=list)
    paper_hours: tuple[float, str] | None = None  # (hours per curve, source) a paper reports
    given: float | None = None  # the one rate given for every model

    @property
    def train_images(self) -> int:
        return sum(w.train_images for w in self.work)

    @property
    def eval_images(self) -> int:
        return sum(w.eval_images for w in self.work)

    @property
    def serial_hours(self) -> float:
        """One trial at a time on one device (with a given rate: all images / rate, summed first)."""
        if self.given:
            return (self.train_images + self.eval_images) / self.given / 3600.0
        return sum(s for s in self.seconds if s is not None) / 3600.0

    @property
    def wall_hours(self) -> float:
        """With the workers: trials claimed in order by the first free worker (as the runner does)."""
        import heapq

        k = self.per_gpu or 1
        slow = k / self.gain if self.per_gpu else 1.0  # K trials share a device's rate x gain
        free = [0.0] * max(1, self.workers)
        for s in self.seconds:
            if s is not None:
                heapq.heappush(free, heapq.heappop(free) + s * slow)
        return max(free) / 3600.0

    def by_variant(self) -> dict[str, float]:
        """Hours per variant (a double-descent curve per regime), one trial at a time."""
        out: dict[str, float] = {}
        for w, s in zip(self.work, self.seconds):
            if "variant" in w.params and s is not None:
                out[w.params["variant"]] = out.get(w.params["variant"], 0.0) + s / 3600.0
        return out

    def model_rows(self) -> list[dict[str, Any]]:
        """Per model shape: trials, images, the rates used (how), hours."""
        rows: dict[tuple, dict[str, Any]] = {}
        for w, s in zip(self.work, self.seconds):
            key = (w.kind, w.shape)
            r = rows.setdefault(key, {"model": _label(w), "trials": 0, "images": 0, "hours": 0.0, "rates": []})
            r["trials"] += 1
            r["images"] += w.train_images + w.eval_images
            r["hours"] = None if s is None or r["hours"] is None else r["hours"] + s / 3600.0
            rate = self.rates.get((w.shape, w.width, w.classes))
            if rate is not None:
                r["rates"].append((w.width, w.classes, rate))
        return list(rows.values())

    def lines(self) -> list[str]:
        """The estimate as plain text lines (the CLI and the benchmarks print these)."""
        out = [f"{self.name}: {len(self.work)} trials, {self.train_images:,} training + {self.eval_images:,} "
               f"evaluation images · {self.device}"]
        for r in self.model_rows():
            out.append(f"  {r['model']}: {r['trials']} trials, {r['images']:,} images, "
                       + ("not projected (not the engine's; time one run)" if r["hours"] is None else
                          f"{r['hours']:.2f} h · " + _rates_text(r["rates"])))
        out.append(f"  projected: {self.serial_hours:.2f} h one trial at a time on one device")
        if self.workers > 1 or self.per_gpu:
            how = (f"--workers {self.workers} --per-gpu {self.per_gpu} ({self.per_gpu} trials share a device at "
                   f"{self.gain:g}x its one-trial rate)" if self.per_gpu else
                   f"--workers {self.workers} (each on its own device at the rate above)")
            out.append(f"  with {how}: {self.wall_hours:.2f} h")
        variants = self.by_variant()
        for v, h in variants.items():
            out.append(f"  variant {v}: {h:.2f} h")
        if self.paper_hours and variants:
            mean = sum(variants.values()) / len(variants)
            out.append(f"  per curve: {mean:.2f} h on average (study {self.paper_hours[1]}: about "
                       f"{self.paper_hours[0]:g} h per curve on its GPU)")
        return out + [f"  note: {n}" for n in self.notes]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: totals, per model the rates used, per variant hours."""
        models = [{**{k: v for k, v in r.items() if k != "rates"},
                   "rates": [{"width": w, "classes": c, "train": x.train, "eval": x.eval, "how": x.how,
                              "flops": x.flops} for w, c, x in r["rates"]]} for r in self.model_rows()]
        return {"name": self.name, "trials": len(self.work), "train_images": self.train_images,
                "eval_images": self.eval_images, "device": self.device, "serial_hours": self.serial_hours,
                "workers": self.workers, "per_gpu": self.per_gpu, "per_gpu_gain": self.gain,
                "wall_hours": self.wall_hours, "by_variant": self.by_variant(), "models": models,
                "notes": self.notes}


def _label(w: Work) -> str:
    cfg = w.cfg
    if not hasattr(cfg, "model_options"):
        return f"{w.kind} {getattr(cfg, 'model', '')}".strip()
    opts = json.loads(w.shape[1])
    extra = " ".join(f"{k}={v}" for k, v in opts.items())
    return f"{cfg.model}{' ' + extra if extra else ''} batch {cfg.batch_size}"


def _rates_text(rates: list[tuple[int | None, int, Rate]]) -> str:
    seen: dict[tuple, Rate] = {}
    for width, classes, rate in rates:
        seen.setdefault((width, classes), rate)
    timed = [(k, r) for k, r in seen.items() if r.how == "timed"]
    given = [r for r in seen.values() if r.how == "given"]
    if given:
        return f"{given[0].train:,.0f} img/s given"
    shown = ", ".join(f"{_key(k)} {r.train:,.0f}/{r.eval:,.0f}" for k, r in timed)
    n_interp = sum(r.how == "interpolated" for r in seen.values())
    return (f"timed train/eval img/s: {shown}" +
            (f"; {n_interp} more interpolated linearly in FLOPs per image" if n_interp else ""))


def _key(k: tuple) -> str:
    width, classes = k
    return (f"k={width}" if width is not None else "") + (f" {classes} cls" if classes else "")


def estimate(spec: StudySpec, device: str = "auto", workers: int | None = None, per_gpu: int | None = None,
             gain: float = 1.0, images_per_second: float | None = None, steps: int = 4, source: Any = None,
             on_timing: Any = None) -> Estimate:
    """Count a study's work and project its hours from images/s timed here (or given); writes nothing."""
    from qdcore.train.device import resolve

    work = trial_work(spec, source)
    rates = measure(work, device, steps, images_per_second, on_timing)
    secs: list[float | None] = []
    for w in work:
        r = rates.get((w.shape, w.width, w.classes))
        secs.append(None if r is None else w.train_images / r.train + w.eval_images / r.eval)
    where = "given rate" if images_per_second is not None else resolve(device, None).describe()
    notes = ["hours assume every epoch runs (early stopping only shortens them)"]
    if images_per_second is not None:
        notes.append("every model and evaluation counted at the given rate")
    if per_gpu and gain == 1.0:
        notes.append("no gain from sharing a device assumed: pass the ratio benchmarks/bench_per_gpu.py measures "
                     "with --per-gpu-gain")
    # As the runner: --workers processes in all (default: --per-gpu K of them sharing one device).
    paper = spec.paper.get("hours_per_curve")
    return Estimate(spec.name, work, rates, secs, workers or (per_gpu or 1), per_gpu, gain, where, notes,
                    (paper, spec.paper.get("source", "")) if paper else None, images_per_second)


def spec_to_estimate(what: str, quick: bool = False, data: str | None = None, categories: list[str] | None = None,
                     seeds: int | None = None) -> tuple[StudySpec, list[str], Any]:
    """(spec, notes, source to count from) of a named study or a spec file; a named study without --data is
    its protocol as written (no data read)."""
    from pathlib import Path

    from qdcore.data.opener import open_source
    from qdcore.studies.named import NAMED, named_spec
    from qdcore.studies.spec import load_spec

    if what.strip().lower() in NAMED and not Path(what).exists():
        spec, notes = named_spec(what, quick, data, categories, seeds, offline=data is None)
        return spec, notes, open_source(data) if data else None
    if quick or data or categories:
        raise ConfigError("--quick, --data and --categories apply to named studies; set them in the spec's [base]")
    spec = load_spec(what)
    if seeds:
        spec.seeds = list(range(seeds))
    return spec, [], open_source(spec.base.get("data", "demo"))
