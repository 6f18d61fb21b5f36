"""Tiny configs and data for the training tests (16x16, a few channels, batch 4)."""

import numpy as np
from PIL import Image

import variants


def tiny_config(name: str = "E", **overrides) -> variants.Config:
    """A preset at 16x16 with very few channels, a 2-layer mapping and batch 4."""
    values = dict(resolution=16, width_multiplier=1 / 32, batch_size=4, mapping_layers=2, z_dim=32, w_dim=32,
                  mapping_width=32, ema_kimg=0.01, impl="ref")
    return variants.get_config(name, **{**values, **overrides})


def write_pngs(folder, count: int = 24, size: int = 16, seed: int = 0):
    """`count` random RGB PNGs of size x size in `folder`."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:03d}.png")
    return folder
