"""The human quiz: sessions of people labelling drawings, and how they compare with models."""
