"""Datasets for training and metrics: image folders, ZIPs, LMDBs and built-ins -> cached uint8 arrays.

    dataset = open_dataset("openmoji:smileys-emotion", 64)
    batch = dataset.get(indices, xflip=flip_mask)        # torch.uint8 [B, 3, 64, 64]
    real = to_float(batch)                               # float32 in [-1, 1]

Each source is decoded (or rendered) once per resolution into a cache and memory-mapped after
that; `dataset.info` carries the content hash, licence and attribution into the run record.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.data.builtin import (
    BuiltinInfo,
    builtin_channels,
    builtin_name,
    list_builtin,
    open_builtin_source,
)
from harness.data.cache import ImageSource, open_cached
from harness.data.checks import IMAGE_EXTENSIONS, RGB_CHANNELS, BadImageError, DatasetError
from harness.data.dataset import DatasetInfo, ImageDataset, apply_xflip, to_float
from harness.data.folder import FolderSource
from harness.data.lmdb import LmdbSource, is_lmdb_path
from harness.data.zip import ZipSource

__all__ = ["BadImageError", "BuiltinInfo", "DatasetError", "DatasetInfo", "ImageDataset", "apply_xflip",
           "list_builtin", "open_dataset", "source_channels", "to_float"]


def _check_sizes(resolution: int, content_height: int | None) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 4 \
            or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 4 (StyleGAN's generators need one), "
                         f"got {resolution!r}")
    if content_height is not None and (isinstance(content_height, bool) or not isinstance(content_height, int)
                                       or not 1 <= content_height <= resolution):
        raise ValueError(f"content_height must be None or an int in [1, {resolution}], "
                         f"got {content_height!r}")


def source_channels(source: str | os.PathLike) -> int:
    """The channel count `open_dataset(source, ...)` gives (1 for a grayscale built-in, else 3), read
    without decoding or even opening the source, so a plan can show the networks' img_channels."""
    if isinstance(source, str) and builtin_name(source) is not None:
        return builtin_channels(source)
    return RGB_CHANNELS


def _path_source(source: str | os.PathLike) -> ImageSource:
    path = Path(source).expanduser()
    if not path.exists():
        raise DatasetError(
            f"no dataset at {str(path)!r} (resolved {str(path.resolve())!r}): expected an image folder, "
            f"a .zip of images, an LMDB folder holding data.mdb, or a built-in name "
            f"({', '.join(info.name for info in list_builtin())})")
    if is_lmdb_path(path):
        return LmdbSource(path)
    if path.is_dir():
        return FolderSource(path)
    if path.suffix.lower() == ".zip":
        return ZipSource(path)
    raise DatasetError(f"{str(path)!r} is a file but not a .zip or an LMDB data.mdb; point at a folder of "
                       f"images ({', '.join(IMAGE_EXTENSIONS)}), a .zip, or an LMDB")


def open_dataset(source: str | os.PathLike, resolution: int, *, cache_dir: str | os.PathLike | None = None,
                 skip_bad: bool = False, content_height: int | None = None,
                 rebuild_cache: bool = False) -> ImageDataset:
    """Open a dataset at `resolution` x `resolution`, decoding it into the cache on first use.

    source: an image folder (searched recursively), a .zip of images, an LMDB (LSUN's format), or a
        built-in `openmoji[:group,...]`, `noto-emoji[:group,...]`, `fashion-mnist[:class,...]`.
    cache_dir: the cache root; the decoded arrays live in its `datasets/` (harness.cachedir: default
        $HARNESS_CACHE_DIR, else ~/.cache/stylegan2-ablations).
    skip_bad: skip undecodable or too-small images (counted in info.num_skipped) instead of raising.
    content_height: for non-square photos (StyleGAN2's LSUN Car is 512x384 in 512x512), images are
        centre-cropped to resolution:content_height, resized, and padded with black bars to square.
    rebuild_cache: decode the source again even when a cache for it exists (see harness.data.cache
        for when the cache key can miss a change).
    Returns an ImageDataset whose `images` are uint8 [N, C, resolution, resolution] (C: 1 grayscale, 3 RGB).
    Raises DatasetError (a ValueError) naming the path and what was looked for.
    """
    _check_sizes(resolution, content_height)
    is_builtin = isinstance(source, str) and builtin_name(source) is not None
    image_source = open_builtin_source(source) if is_builtin else _path_source(source)
    if content_height == resolution:
        content_height = None  # square content is the ordinary case; one cache for both spellings
    return open_cached(image_source, resolution, cache_dir=cache_dir, skip_bad=skip_bad,
                       content_height=content_height, rebuild=rebuild_cache)
