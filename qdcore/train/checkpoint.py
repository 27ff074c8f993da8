"""Model and resume checkpoints: safetensors for tensors, JSON for everything else. Nothing is ever unpickled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save

from qdcore.artifacts import MODEL_FILE, MODEL_META, RESUME_FILE, read_model_json
from qdcore.errors import DataError, QDError, StoreError
from qdcore.models import build_model
from qdcore.paths import atomic_write_bytes, regular_file

FORMAT = "qd-model/1"
RESUME_FORMAT = "qd-resume/2"  # /1: the classifier's own layout before the loop driver

# How a drawing becomes the model's input; enough to use the model with nothing else.
PREPROCESSING = {
    "input": "float32 (B, 1, 28, 28)",
    "pixels": "uint8 0..255 divided by 255",
    "ink": "white ink (255) on black (0), Google's numpy_bitmap layout",
    "size": 28,
    "output": "logits (B, C); softmax for probabilities; class i is classes[i]",
}


def _tensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    return save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, metadata=metadata)


def _read_tensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; StoreError if it is anything else."""
    if not path.exists():
        raise StoreError(f"no {what} at {path}; was the run trained to the end of an epoch?")
    try:
        regular_file(path, f"a safetensors {what}")  # a FIFO would block the reader forever
    except DataError as e:
        raise StoreError(str(e)) from None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            return {k: f.get_tensor(k) for k in f.keys()}, meta
    except Exception as e:  # noqa: BLE001 - safetensors raises several types for a bad header
        raise StoreError(f"{path} is not a valid safetensors {what} ({type(e).__name__}); "
                         "the file is corrupt: retrain or restore it") from None


def state_dict_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The plain module's state (unwrapping torch.compile and DDP)."""
    inner = getattr(model, "_orig_mod", model)
    inner = getattr(inner, "module", inner)
    return inner.state_dict()


def save_model(run_dir: str | Path, model: torch.nn.Module, meta: dict[str, Any],
               state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write model.safetensors + model.json (arch, classes, preprocessing, meta) atomically."""
    run_dir = Path(run_dir)
    inner = getattr(model, "_orig_mod", model)
    arch = getattr(inner, "arch", None)
    if arch is None:
        raise ValueError("the model has no .arch; build it with qdcore.models.build_model")
    tensors = state if state is not None else state_dict_of(model)
    atomic_write_bytes(run_dir / MODEL_FILE, _tensors_bytes(tensors, {"format": FORMAT}))
    doc = {"format": FORMAT, "arch": arch, "preprocessing": PREPROCESSING, **meta}
    atomic_write_bytes(run_dir / MODEL_META, (json.dumps(doc, indent=2) + "\n").encode())
    return run_dir / MODEL_FILE


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """model.json of a run (StoreError when missing or unreadable)."""
    path = Path(run_dir) / MODEL_META
    meta = read_model_json(run_dir, "the run ended before its first epoch: resume or retrain it")
    bad = _meta_problem(meta)
    if bad:
        raise StoreError(f"{path} {bad}; it does not describe a loadable model: retrain or restore the run")
    return meta


MAX_CLASSES = 100_000


def _meta_problem(meta: Any) -> str:
    """What is wrong with a parsed model.json ('' when it is usable)."""
    if not isinstance(meta, dict):
        return "is not a JSON object"
    arch, classes = meta.get("arch"), meta.get("classes")
    if not isinstance(arch, dict):
        return "has no 'arch' object (the architecture)"
    if not isinstance(arch.get("name"), str):
        return "has an 'arch' without a model name"
    if not isinstance(classes, list) or not classes:
        return "has no 'classes' list"
    if not all(isinstance(c, str) for c in classes):
        return "has class names that are not strings"
    if len(classes) > MAX_CLASSES:
        return f"lists {len(classes):,} classes (more than {MAX_CLASSES:,})"
    n = arch.get("num_classes")
    if isinstance(n, bool) or not isinstance(n, int) or n != len(classes):
        return f"lists {len(classes)} classes but its arch has num_classes={n!r}"
    return ""


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a run's model from model.json and load model.safetensors (eval mode)."""
    run_dir = Path(run_dir)
    meta = read_meta(run_dir)
    tensors, _ = _read_tensors(run_dir / MODEL_FILE, "model")
    arch = dict(meta["arch"])
    where = f"{run_dir / MODEL_META}"
    # Build on the meta device first: absurd widths cost nothing there, and every shape is checked
    # against the weights on disk before a byte of real memory is given to the model.
    try:
        with torch.device("meta"):
            skeleton = build_model(**arch)
    except QDError as e:
        raise StoreError(f"{where}: its arch is not a buildable model ({e})") from None
    except (TypeError, ValueError, RuntimeError, OverflowError, KeyError, IndexError) as e:
        raise StoreError(f"{where}: its arch is not a buildable model ({type(e).__name__}: "
                         f"{str(e).splitlines()[0][:100] if str(e) else ''})") from None
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in tensors.items()}
    if want != have:
        diff = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have.get(k)]
        k = diff[0]
        raise StoreError(f"{run_dir / MODEL_FILE} does not fit its architecture in {MODEL_META} ({k}: file "
                         f"{have.get(k, 'missing')}, arch {want.get(k, 'missing')})")
    model = build_model(**arch)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "shape mismatch"
        raise StoreError(f"{run_dir / MODEL_FILE} does not fit its architecture in {MODEL_META} ({first})") from None
    return model.to(device).eval(), meta


# -- optimizer states as tensors plus JSON (resume checkpoints: one safetensors file, one atomic write) --


def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim/{pid}/{name}"] = v
            else:
                scalars.setdefault(str(pid), {})[name] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        _, pid, name = key.split("/", 2)
        state.setdefault(int(pid), {})[name] = v
    for pid, st in info.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    return {"state": state, "param_groups": info["param_groups"]}


def load_resume(run_dir: str | Path) -> dict[str, Any]:
    """A run folder's resume checkpoint (the loop driver's): modules, optimizers, rng and state."""
    return load_states(Path(run_dir) / RESUME_FILE, RESUME_FORMAT, "resume checkpoint")


# -- several modules and optimizers in one file (GAN runs: a G/D pair, or one pair per class) ------------


def save_states(path: str | Path, modules: dict[str, dict[str, torch.Tensor]],
                optimizers: dict[str, dict[str, Any]] | None = None, rng: dict[str, torch.Tensor] | None = None,
                state: dict[str, Any] | None = None, fmt: str = RESUME_FORMAT) -> Path:
    """Named state dicts, named optimizer states, RNG streams and a JSON state in one safetensors file (atomic)."""
    tensors: dict[str, torch.Tensor] = {}
    opt_info: dict[str, Any] = {}
    for name, sd in modules.items():
        tensors.update({f"module/{name}/{k}": v for k, v in sd.items()})
    for name, osd in (optimizers or {}).items():
        t, info = _flatten_optimizer(osd)
        tensors.update({f"optimizer/{name}/{k}": v for k, v in t.items()})
        opt_info[name] = info
    tensors.update({f"rng/{k}": v for k, v in (rng or {}).items()})
    doc = {"format": fmt, "state": state or {}, "optimizers": opt_info, "modules": list(modules)}
    path = Path(path)
    atomic_write_bytes(path, _tensors_bytes(tensors, {"qd": json.dumps(doc)}))
    return path


def load_states(path: str | Path, fmt: str = RESUME_FORMAT, what: str = "checkpoint") -> dict[str, Any]:
    """What save_states wrote: modules {name: state dict}, optimizers {name: state}, rng, state."""
    path = Path(path)
    tensors, meta = _read_tensors(path, what)
    try:
        doc = json.loads(meta["qd"])
        if doc.get("format") != fmt:
            raise ValueError(doc.get("format"))
    except (KeyError, ValueError, TypeError):
        raise StoreError(f"{path} is not a qd {what}; start a new run instead") from None
    modules: dict[str, dict[str, torch.Tensor]] = {name: {} for name in doc.get("modules", [])}
    optim: dict[str, dict[str, torch.Tensor]] = {name: {} for name in doc.get("optimizers", {})}
    rng: dict[str, torch.Tensor] = {}
    for key, v in tensors.items():
        head, _, rest = key.partition("/")
        if head == "rng":
            rng[rest] = v
            continue
        name, _, inner = rest.partition("/")
        if head == "module" and name in modules:
            modules[name][inner] = v
        elif head == "optimizer" and name in optim:
            optim[name][inner] = v
        else:
            raise StoreError(f"{path} holds an unexpected tensor {key!r}; the checkpoint is corrupt")
    optimizers = {name: _unflatten_optimizer(t, doc["optimizers"][name]) for name, t in optim.items()}
    return {"modules": modules, "optimizers": optimizers, "rng": rng, "state": doc.get("state", {})}
