"""File names of a run's artifacts in runs/<id>/; torch-free so the TUI and reports can use them cheaply."""

from __future__ import annotations

MODEL_FILE = "model.safetensors"  # weights of the best (or last) epoch
MODEL_META = "model.json"  # architecture, class names, preprocessing
LGB_MODEL_FILE = "model.txt"  # a LightGBM model in LightGBM's own text format (classical runs)
RESUME_FILE = "resume.safetensors"  # weights, optimizer, RNG and loop state to continue a run
PREDICTIONS_FILE = "predictions.npz"  # qdcore.predictions.Predictions on the test split
HISTORY_FILE = "history.json"  # per-epoch curves
