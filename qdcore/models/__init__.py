"""The model zoo: classifiers by name, GAN pairs and classical baselines (torch is imported on build only)."""

from qdcore.models.registry import (
    ModelInfo,
    build_classical,
    build_gan,
    build_model,
    build_parts,
    count_params,
    layer_table,
    list_models,
    model_info,
)

__all__ = ["ModelInfo", "build_classical", "build_gan", "build_model", "build_parts", "count_params", "layer_table",
           "list_models", "model_info"]
