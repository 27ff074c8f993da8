"""Widgets of qdtui: drawings, grids, the confusion heatmap, curves."""
