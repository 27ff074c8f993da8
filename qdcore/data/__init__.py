"""Quick, Draw! data: sources, rasterising, the demo set, selections and splits."""
