"""What a CNN on strokes can see: the raster channels and sizes (numpy-free, so `qd --help` declares --raster and
--size without loading numpy)."""

RASTERS = ("ink", "order", "time")  # --raster: channels a CNN sees of the strokes (qdcore.data.timing_raster)
SIZES = (28, 64)  # --size: their pixels
