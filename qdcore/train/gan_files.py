"""A GAN run's files in runs/<id>/: gan.json, samples/<tag>.npy grids, generators/epoch_NNNN.safetensors, model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qdcore.artifacts import read_json_file
from qdcore.errors import StoreError
from qdcore.models import build_gan
from qdcore.paths import atomic_write_bytes

if TYPE_CHECKING:
    import torch

    from qdcore.models.gan import Discriminator, Generator
    from qdcore.train.gan_pair import Pair

GAN_META = "gan.json"  # config, classes, pair layout, grid row labels
MODEL_FILE = "model.safetensors"  # generators and discriminators of the last finished epoch
HISTORY_FILE = "history.json"
SAMPLES_DIR = "samples"  # epoch-end grids, kept by the store's sink as samples/epoch_NNNN_sSTEP.npy
STEP_SAMPLES = "steps"  # grids every --sample-every steps, as steps/epoch_NNNN_sSTEP.npy
GENERATORS_DIR = "generators"
BEST_FILE = "best.safetensors"  # in GENERATORS_DIR: the generator of the epoch the run's criterion chose
FORMAT = "qd-gan/1"
RESUME_FORMAT = "qd-gan-resume/1"
_EPOCH = re.compile(r"epoch_(\d{4,})_s(\d+)\.npy$")


def json_bytes(obj: Any) -> bytes:
    """Indented JSON with a newline."""
    return (json.dumps(obj, indent=1) + "\n").encode()


def write_meta(run_dir: Path, config: dict[str, Any], classes: list[str], arch: dict[str, Any],
               pairs: list[list[int]], conditional: bool, rows: list[str], run_id: int | None = None,
               fingerprint: str = "") -> None:
    """gan.json: what a reader needs to rebuild the generators (arch, the classes of each pair) and label grids."""
    doc = {"format": FORMAT, "arch": dict(arch), "classes": list(classes), "pairs": [list(p) for p in pairs],
           "rows": list(rows), "conditional": bool(conditional), "run_id": run_id, "fingerprint": fingerprint,
           "config": config,
           "pixels": "generator output tanh [-1, 1] -> uint8 (x + 1) * 127.5, white ink on black"}
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(run_dir / GAN_META, json_bytes(doc))


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """gan.json of a run (StoreError when it is not a GAN run folder)."""
    path = Path(run_dir) / GAN_META
    if not path.exists():
        raise StoreError(f"{Path(run_dir)} holds no GAN ({GAN_META} is missing); is it a GAN run?")

    doc = read_json_file(path, "a GAN description", "is it a GAN run?")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(f"{path} is not a qd GAN description")
    return doc


def grid_files(run_dir: str | Path, name: str = SAMPLES_DIR) -> list[tuple[int, int, Path]]:
    """(epoch, step, path) of the stored grids of one kind (epoch ends, or every-N-steps), oldest first."""
    d = Path(run_dir) / name
    if not d.is_dir():
        return []
    out = [(int(m.group(1)), int(m.group(2)), f) for f in d.iterdir() if (m := _EPOCH.match(f.name))]
    return sorted(out)


def grid_epochs(run_dir: str | Path) -> list[int]:
    """Epochs with a stored epoch-end sample grid, ascending."""
    return sorted({e for e, _, _ in grid_files(run_dir)})


def read_grid_file(path: Path) -> np.ndarray:
    """A stored sample grid, uint8 (rows, cols, 28, 28)."""
    try:
        grid = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise StoreError(f"no sample grid at {path}") from None
    except ValueError as e:
        raise StoreError(f"{path} is not a sample grid ({e})") from None
    if grid.dtype != np.uint8 or grid.ndim != 4 or grid.shape[2:] != (28, 28):
        raise StoreError(f"{path} is not a sample grid (shape {grid.shape}, {grid.dtype})")
    return grid


def read_grid(run_dir: str | Path, epoch: int) -> np.ndarray:
    """The epoch-end sample grid of an epoch (the last written for it)."""
    found = [p for e, _, p in grid_files(run_dir) if e == epoch]
    if not found:
        raise StoreError(f"no samples of epoch {epoch} in {Path(run_dir)}")
    return read_grid_file(found[-1])


def _g_states(pairs: list[Pair]) -> dict[str, dict[str, torch.Tensor]]:
    # The generator samples come from (the moving average under --g-ema): what 'qd gan sample' draws with.
    return {f"g{k}": p.sampler.state_dict() for k, p in enumerate(pairs)}


def write_generators(run_dir: Path, epoch: int, pairs: list[Pair], best: dict[str, Any] | None = None) -> Path:
    """generators/epoch_NNNN.safetensors: every generator's weights after an epoch (best: as best.safetensors)."""
    from qdcore.train.checkpoint import save_states  # lazy: loads torch (~1.2 s)

    name = BEST_FILE if best is not None else f"epoch_{epoch:04d}.safetensors"
    path = run_dir / GENERATORS_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_states(path, _g_states(pairs), state={"epoch": epoch, **(best or {})}, fmt=FORMAT)


def weights_path(run_dir: Path, epoch: int | str | None) -> Path:
    """The weights file of 'last' (None), 'best' or an epoch number; a one-line StoreError when absent."""
    which = "last" if epoch is None else str(epoch).strip().lower()
    if which == "last":
        path = run_dir / MODEL_FILE
        if not path.exists():
            raise StoreError(f"run folder {run_dir} has no trained GAN yet (no finished epoch)")
        return path
    if which == "best":
        path = run_dir / GENERATORS_DIR / BEST_FILE
        if not path.exists():
            raise StoreError(f"run folder {run_dir} has no best generator (no judged epoch: trained with "
                             "--no-judge?); use --epoch last")
        return path
    try:
        n = int(which)
    except ValueError:
        raise StoreError(f"--epoch {epoch!r} must be last, best or an epoch number") from None
    path = run_dir / GENERATORS_DIR / f"epoch_{n:04d}.safetensors"
    if not path.exists():
        have = stored_generator_epochs(run_dir)
        span = f"epochs {have[0]}..{have[-1]}" if have else "none (run with --keep-generators)"
        raise StoreError(f"no generator of epoch {n} in {run_dir}; stored: {span}")
    return path


def best_state(run_dir: str | Path) -> dict[str, Any] | None:
    """The kept best generator's state ({"epoch", "criterion", "score"}), None where the run kept none."""
    from qdcore.train.checkpoint import load_states  # lazy: loads torch (~1.2 s)

    path = Path(run_dir) / GENERATORS_DIR / BEST_FILE
    return load_states(path, FORMAT, "GAN weights")["state"] if path.exists() else None


def default_generator(run_dir: str | Path) -> str:
    """What samples come from unless told: 'best' where the run kept one (it had judged epochs), else 'last'."""
    return "best" if (Path(run_dir) / GENERATORS_DIR / BEST_FILE).exists() else "last"


def write_model(run_dir: Path, pairs: list[Pair], epoch: int) -> Path:
    """model.safetensors: generators and discriminators of the last finished epoch."""
    from qdcore.train.checkpoint import save_states  # lazy: loads torch (~1.2 s)

    modules = _g_states(pairs)
    modules.update({f"d{k}": p.d.state_dict() for k, p in enumerate(pairs)})
    return save_states(run_dir / MODEL_FILE, modules, state={"epoch": epoch}, fmt=FORMAT)


def load_gan(run_dir: str | Path, epoch: int | str | None = None, device: str = "cpu"):
    """(generators, discriminators, meta, epoch): the pairs of 'last' (None), the generators of 'best' or `epoch`."""
    from qdcore.train.checkpoint import load_states  # lazy: loads torch (~1.2 s)

    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    path = weights_path(run_dir, epoch)
    saved = load_states(path, FORMAT, "GAN weights")
    arch = dict(meta["arch"])
    gens: list[Generator] = []
    discs: list[Discriminator | None] = []  # None: a 'best' or epoch file keeps generators only
    for k in range(len(meta["pairs"])):
        g, built = build_gan(**arch)
        d: Discriminator | None = built
        try:
            g.load_state_dict(saved["modules"][f"g{k}"])
            if f"d{k}" in saved["modules"]:
                built.load_state_dict(saved["modules"][f"d{k}"])
            else:
                d = None
        except (RuntimeError, KeyError) as e:
            raise StoreError(f"{path} does not fit the GAN in {GAN_META} ({str(e).splitlines()[0]})") from None
        gens.append(g.to(device).eval())
        discs.append(d.to(device).eval() if d is not None else None)
    return gens, discs, meta, int(saved["state"].get("epoch", 0))


def stored_generator_epochs(run_dir: str | Path) -> list[int]:
    """Epochs whose generators were kept."""
    d = Path(run_dir) / GENERATORS_DIR
    if not d.is_dir():
        return []
    return sorted(int(f.stem.split("_")[1]) for f in d.glob("epoch_[0-9]*.safetensors"))


def read_history(run_dir: str | Path) -> dict[str, list[float]]:
    """history.json of a GAN run ({} when absent)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return {}
    doc = read_json_file(path, "a GAN history", "")
    if not isinstance(doc, dict):
        raise StoreError(f"{path} is not a GAN history (a JSON object of curves)")
    return doc
