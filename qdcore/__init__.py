"""qdcore: data, models, training and analysis for Quick, Draw! doodles (no UI imports)."""

__version__ = "0.1.0"
