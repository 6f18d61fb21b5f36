"""The dataset object the trainer and the metrics read: cached uint8 images plus their provenance."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from common.options import Options
from harness.data.checks import DatasetError


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatasetInfo(Options):
    """Where a dataset's images came from, travelling into every run record (`<run>/dataset.json`).

    content_hash: the sha256 of the cached array (shape header + uint8 bytes in C order), so FID
        statistics keyed on it are shared by every machine that produced the same pixels.
    skipped_files: the first few files skipped with skip_bad=True.
    content_height: set when non-square content was letterboxed into the square (None otherwise).
    """

    option_label: ClassVar[str] = "DatasetInfo key"

    name: str
    source: str
    resolution: int
    num_images: int
    num_skipped: int
    content_hash: str
    licence: str
    attribution: str
    skipped_files: tuple[str, ...] = ()
    content_height: int | None = None


def apply_xflip(images: torch.Tensor, mask: torch.Tensor | np.ndarray | Sequence[bool]) -> torch.Tensor:
    """Mirror the images whose mask entry is True along x: [B, C, H, W] -> [B, C, H, W].

    Works on any device and dtype, so the trainer may flip a batch after moving it to the GPU.
    """
    mask = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask,
                           device=images.device)
    if mask.dtype != torch.bool or mask.shape != images.shape[:1]:
        raise ValueError(f"xflip mask must be bool of shape [{images.shape[0]}], got {mask.dtype} "
                         f"{list(mask.shape)}")
    return torch.where(mask[:, None, None, None], images.flip(3), images)


def to_float(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 images [..., H, W] in [0, 255] -> float32 tensor in [-1, 1] as x / 127.5 - 1.

    A numpy array becomes a CPU tensor; a tensor stays on its device.
    """
    tensor = torch.from_numpy(np.asarray(images)) if isinstance(images, np.ndarray) else images
    if tensor.dtype != torch.uint8:
        raise TypeError(f"to_float expects uint8 images, got {tensor.dtype}")
    return tensor.to(torch.float32) / 127.5 - 1.0


IMAGE_CHANNELS = (1, 3)  # grayscale or RGB, as the official dataset_tool.py stores them


class ImageDataset:
    """N images as a read-only uint8 array [N, C, H, W] (memory-mapped from the cache) plus `info`.

    C is 3 (RGB) or 1 (a grayscale source such as Fashion-MNIST): the networks are built with the
    dataset's channel count, as the official training code takes `num_channels` from its dataset.
    """

    def __init__(self, images: np.ndarray, info: DatasetInfo):
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in IMAGE_CHANNELS:
            raise ValueError(f"images must be uint8 [N, C, H, W] with C 1 or 3, got {images.dtype} "
                             f"{list(images.shape)}")
        if images.shape[0] != info.num_images or images.shape[2:] != (info.resolution, info.resolution):
            raise ValueError(f"images {list(images.shape)} do not match info ({info.num_images} images at "
                             f"{info.resolution}x{info.resolution})")
        if images.flags.writeable:
            images = images.view()
            images.flags.writeable = False
        self._images = images
        self.info = info

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def resolution(self) -> int:
        return self.info.resolution

    @property
    def channels(self) -> int:
        """1 (grayscale) or 3 (RGB)."""
        return self._images.shape[1]

    def __len__(self) -> int:
        return self._images.shape[0]

    def __repr__(self) -> str:
        return f"ImageDataset({self.info.name!r}, {len(self)} images, {self.resolution}x{self.resolution})"

    def get(self, indices: Sequence[int] | np.ndarray | torch.Tensor, xflip: Any = None) -> torch.Tensor:
        """Images at `indices` as a CPU torch.uint8 tensor [B, C, H, W].

        `xflip` is None (no flipping) or a bool mask [B]: the images where it is True are mirrored
        along x (StyleGAN2's --mirror augmentation).
        """
        if isinstance(indices, torch.Tensor):
            indices = indices.cpu().numpy()
        index_array = np.asarray(indices)
        if index_array.ndim != 1 or not np.issubdtype(index_array.dtype, np.integer):
            raise TypeError(f"indices must be a 1-D sequence of integers, got {index_array.dtype} "
                            f"{list(index_array.shape)}")
        if index_array.size and (index_array.min() < -len(self) or index_array.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} images: min {index_array.min()}, "
                             f"max {index_array.max()}")
        batch = torch.from_numpy(np.ascontiguousarray(self._images[index_array]))
        return batch if xflip is None else apply_xflip(batch, xflip)


def empty_dataset_error(source: str, looked_for: str, skipped: Sequence[str] = ()) -> DatasetError:
    """The one error for a dataset with no usable images, naming what was looked for."""
    message = f"dataset {source!r} has no usable images (looked for {looked_for})"
    if skipped:
        message += f"; all {len(skipped)} candidates were bad, e.g. {list(skipped[:3])}"
    return DatasetError(message)
