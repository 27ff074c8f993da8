"""File names of a run's artifacts in runs/<id>/; torch-free so the TUI and reports can use them cheaply."""

from __future__ import annotations

import json
from pathlib import Path

from qdcore.errors import DataError, StoreError
from qdcore.paths import regular_file

MODEL_FILE = "model.safetensors"  # weights of the best (or last) epoch
MODEL_META = "model.json"  # architecture, class names, preprocessing
LGB_MODEL_FILE = "model.txt"  # a LightGBM model in LightGBM's own text format (classical runs)
STROKE_MODEL_FILE, STROKE_MODEL_META = "stroke_model.safetensors", "stroke_model.json"  # stroke-sequence runs
# (description, weights) pairs: a run folder holding either file of none of them has no usable model
MODEL_FILES = ((MODEL_META, MODEL_FILE), (MODEL_META, LGB_MODEL_FILE), (STROKE_MODEL_META, STROKE_MODEL_FILE))
RESUME_FILE = "resume.safetensors"  # weights, optimizer, RNG and loop state to continue a run
PREDICTIONS_FILE = "predictions.npz"  # qdcore.predictions.Predictions on the test split
HISTORY_FILE = "history.json"  # per-epoch curves


META_LIMIT = 16 << 20  # model.json holds names and a config: far below this


def read_json_file(path, what: str, missing: str):
    """A run folder's JSON file, checked as a file first (a FIFO or /dev/zero is refused, never read);
    StoreError naming the file when it is missing (`missing` says what to do), special or unreadable."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path.name} is missing in {path.parent}; {missing}")
    try:
        regular_file(path, what, limit=META_LIMIT)
        return json.loads(path.read_text("utf-8"))
    except DataError as e:
        raise StoreError(str(e)) from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise StoreError(f"{path} is not readable JSON ({str(e)[:80]}); the run folder is corrupt") from None


def read_model_json(run_dir, missing: str):
    """A run's parsed model.json (read_json_file), with the message for a run that saved no model yet."""
    path = Path(run_dir) / MODEL_META
    if not path.exists():
        raise StoreError(f"no trained model in {Path(run_dir)} ({MODEL_META} is missing); {missing}")
    return read_json_file(path, "a model description", missing)
