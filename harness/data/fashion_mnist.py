"""Fashion-MNIST from Debian's dataset-fashion-mnist: 70,000 28x28 grayscale images in 10 classes.

The 60,000 training images come first, then the 10,000 test images, each in file order. Images
are padded with 2 black pixels per side to 32x32 (the padding MNIST-style GAN papers use); other
resolutions resize that 32x32 frame with Lanczos, so every resolution shows the same framing.
Grayscale is replicated to RGB.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from harness.data.cache import file_identity
from harness.data.checks import DatasetError, SkipLog

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
               "ankle-boot")
CLASS_ALIASES = {"t-shirt/top": 0, "tshirt": 0, "top": 0, "boot": 9}
SPLITS = ("train", "t10k")
PADDED_SIZE = 32
IDX_UBYTE = 0x08


def idx_file(directory: Path, split: str, kind: str) -> Path | None:
    """The IDX file of a split ('train'/'t10k') and kind ('images'/'labels'), gzipped or not."""
    stem = f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or raw) of unsigned bytes -> uint8 array of its declared shape."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE:
        raise DatasetError(f"{str(path)!r} is not an IDX file of unsigned bytes (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * axis:8 + 4 * axis], "big") for axis in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DatasetError(f"{str(path)!r} declares shape {list(shape)} but holds {body.size} values")
    return body.reshape(shape)


def parse_classes(items: Sequence[str]) -> tuple[int, ...]:
    """['7', 'bag'] -> (7, 8): class indices from indices or names, sorted and unique."""
    indices = set()
    for item in items:
        key = item.strip().lower().replace("_", "-").replace(" ", "-")
        if key.isdigit() and int(key) < len(CLASS_NAMES):
            indices.add(int(key))
        elif key in CLASS_NAMES:
            indices.add(CLASS_NAMES.index(key))
        elif key in CLASS_ALIASES:
            indices.add(CLASS_ALIASES[key])
        else:
            choices = ", ".join(f"{index}={name}" for index, name in enumerate(CLASS_NAMES))
            raise DatasetError(f"unknown fashion-mnist class {item!r}; use indices or names: {choices}")
    return tuple(sorted(indices))


def fit_gray(images: np.ndarray, resolution: int, chunk_size: int = 4096) -> Iterator[np.ndarray]:
    """uint8 [N, 28, 28] -> yields chunks uint8 [k, 1, resolution, resolution]: pad to 32, resize."""
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"fashion-mnist images must be 28x28, got {list(images.shape[1:])}")
    margin = (PADDED_SIZE - images.shape[1]) // 2
    for start in range(0, len(images), chunk_size):
        padded = np.pad(images[start:start + chunk_size], ((0, 0), (margin, margin), (margin, margin)))
        if resolution != PADDED_SIZE:
            padded = np.stack([np.asarray(Image.fromarray(image).resize((resolution, resolution),
                                                                        Image.Resampling.LANCZOS))
                               for image in padded])
        yield padded[:, None]


class FashionMnistSource:
    """The Fashion-MNIST images of the chosen classes (all ten when `classes` is empty)."""

    licence = "MIT"
    attribution = ("Fashion-MNIST by Zalando Research (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747), "
                   "Copyright (c) 2017 Zalando SE; from Debian's dataset-fashion-mnist")
    looked_for = "IDX files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"
    channels = 1  # kept grayscale, as the official dataset_tool.py keeps an 'L' image

    def __init__(self, *, spec: str, classes: Sequence[int], directory: Path = FASHION_MNIST_DIR):
        self.name = spec
        self.source = spec
        self.directory = directory
        self.classes = tuple(classes)
        self.files = []
        for split in SPLITS:
            for kind in ("images", "labels"):
                path = idx_file(directory, split, kind)
                if path is None:
                    raise DatasetError(f"fashion-mnist: no {split} {kind} IDX file in {str(directory)!r}; "
                                       "install it with: apt-get install dataset-fashion-mnist")
                self.files.append(path)
        self._images: np.ndarray | None = None

    def _load(self) -> np.ndarray:
        """uint8 [N, 28, 28] of the chosen classes, train split first; read once per source."""
        images, labels = [], []
        for image_path, label_path in zip(self.files[0::2], self.files[1::2], strict=True):
            split_images, split_labels = read_idx(image_path), read_idx(label_path)
            if split_images.ndim != 3 or split_labels.shape != split_images.shape[:1]:
                raise DatasetError(f"{str(image_path)!r} {list(split_images.shape)} and "
                                   f"{str(label_path)!r} {list(split_labels.shape)} do not pair up as "
                                   "images [N, H, W] and labels [N]")
            images.append(split_images)
            labels.append(split_labels)
        all_images, all_labels = np.concatenate(images), np.concatenate(labels)
        if self.classes:
            keep = np.isin(all_labels, self.classes)
            all_images = all_images[keep]
        return all_images

    def identity(self) -> dict[str, Any]:
        stats = [[str(path), *file_identity(path)] for path in self.files]
        return {"kind": "fashion-mnist", "files": stats, "classes": list(self.classes), "padded": PADDED_SIZE}

    def max_images(self) -> int:
        return len(self._load_once())

    def _load_once(self) -> np.ndarray:
        if self._images is None:
            self._images = self._load()
        return self._images

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        if content_height is not None and content_height != resolution:
            raise DatasetError(f"{self.source!r} is square; content_height applies to photo datasets only")
        return fit_gray(self._load_once(), resolution)
