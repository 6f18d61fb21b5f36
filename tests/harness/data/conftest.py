"""Tiny image files for the data tests, written with Pillow into tmp_path."""

import io

import numpy as np
import pytest
from PIL import Image


def gradient_rgb(width: int, height: int, seed: int = 0) -> np.ndarray:
    """uint8 [height, width, 3] with distinct values per pixel, so crops and flips are visible."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def encode(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


@pytest.fixture
def rgb_png_bytes():
    """Factory: (width, height, seed) -> PNG bytes of a random RGB image."""
    return lambda width, height, seed=0: encode(Image.fromarray(gradient_rgb(width, height, seed)))


@pytest.fixture
def image_folder(tmp_path, rgb_png_bytes):
    """A folder with 5 good 12x12 images, two of them in a nested subfolder, plus a non-image file."""
    root = tmp_path / "images"
    (root / "nested" / "deeper").mkdir(parents=True)
    for index in range(3):
        (root / f"img{index}.png").write_bytes(rgb_png_bytes(12, 12, index))
    (root / "nested" / "a.png").write_bytes(rgb_png_bytes(16, 12, 10))
    jpeg = encode(Image.fromarray(gradient_rgb(12, 16, 11)), "JPEG")
    (root / "nested" / "deeper" / "b.jpg").write_bytes(jpeg)
    (root / "notes.txt").write_text("not an image, ignored by extension")
    return root
