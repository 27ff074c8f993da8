"""Projected hours of a study: its work counted from the spec, images/s timed on this device (or given)."""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError
from qdcore.fmt import duration
from qdcore.studies.named import NAMED, named_spec
from qdcore.studies.spec import StudySpec, load_spec
from qdcore.studies.timing import Rate, measure
from qdcore.studies.work import Work, trial_work


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
        """Drawings trained on, all trials and epochs."""
        return sum(w.train_images for w in self.work)

    @property
    def eval_images(self) -> int:
        """Drawings evaluated: validation every epoch, test once."""
        return sum(w.eval_images for w in self.work)

    @property
    def serial_hours(self) -> float:
        """One trial at a time on one device (with a given rate: all images / rate, summed first)."""
        if self.given:
            images = sum(w.train_images + w.eval_images for w, s in zip(self.work, self.seconds) if s is not None)
            return images / self.given / 3600.0
        return sum(s for s in self.seconds if s is not None) / 3600.0

    @property
    def wall_hours(self) -> float:
        """With the workers: trials claimed in order by the first free worker (as the runner does)."""
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
                          f"{_h(r['hours'])} · " + _rates_text(r["rates"])))
        out.append(f"  projected: {_h(self.serial_hours)} one trial at a time on one device")
        if self.workers > 1 or self.per_gpu:
            how = (f"--workers {self.workers} --per-gpu {self.per_gpu} ({self.per_gpu} trials share a device at "
                   f"{self.gain:g}x its one-trial rate)" if self.per_gpu else
                   f"--workers {self.workers} (each on its own device at the rate above)")
            out.append(f"  with {how}: {_h(self.wall_hours)}")
        variants = self.by_variant()
        for v, h in variants.items():
            out.append(f"  variant {v}: {_h(h)}")
        if self.paper_hours and variants:
            mean = sum(variants.values()) / len(variants)
            out.append(f"  per curve: {_h(mean)} on average (study {self.paper_hours[1]}: about "
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


def _h(hours: float) -> str:
    """'2129.66 h' (with the days past a day), or '3m 05s' under six minutes."""
    if hours < 0.1:
        return duration(hours * 3600)
    return f"{hours:,.2f} h" + (f" ({hours / 24:,.1f} days)" if hours >= 24 else "")


def _label(w: Work) -> str:
    cfg = w.cfg
    if not w.engine:
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
    from qdcore.train.device import resolve  # lazy: loads torch (~1.2 s)

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
    from qdcore.data.opener import open_source  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    if what.strip().lower() in NAMED and not Path(what).exists():
        spec, notes = named_spec(what, quick, data, categories, seeds, offline=data is None)
        return spec, notes, open_source(data) if data else None
    if quick or data or categories:
        raise ConfigError("--quick, --data and --categories apply to named studies; set them in the spec's [base]")
    spec = load_spec(what)
    if seeds:
        spec.seeds = list(range(seeds))
    return spec, [], open_source(spec.base.get("data", "demo"))
