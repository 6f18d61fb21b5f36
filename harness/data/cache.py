"""Decode or render a source once per resolution into a cached .npy, then memory-map it.

Cache files live in the `datasets/` folder of the cache root (harness.cachedir: `cache_dir`, else
$HARNESS_CACHE_DIR, else ~/.cache/stylegan2-ablations), as `<slug>-<resolution>-<key>.npy` with a
`.json` beside it holding the DatasetInfo. The key hashes the source's identity (each input file's path, size,
mtime, inode and ctime; or package versions), the resolution, the content height, Pillow's
version and CACHE_FORMAT_VERSION, so a change to the input or to the decoding makes a fresh cache.
Both files are written atomically (common.io); a concurrent builder of the same key writes the same
bytes.

Why ctime: writing new pixels into a file changes its ctime, and unlike the mtime no user tool
can set it back, so same-size files with a restored mtime are still seen as new. The limit: a
file system whose ctime is coarse (FAT: 2 s; some network and FUSE mounts) or not kept can
miss a rewrite within one tick; `rebuild_cache=True` (`--rebuild-cache`) decodes again anyway.
Copying or touching a dataset only costs one rebuild. Hashing every byte instead would cost a
full read of the dataset (LSUN: tens of GB) on every open.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import PIL

from common.io import commit_temporary, temporary_beside, write_json_atomic
from harness.cachedir import cache_folder
from harness.data.checks import SKIPPED_NAMES_KEPT, DatasetError, SkipLog
from harness.data.dataset import DatasetInfo, ImageDataset, empty_dataset_error

CACHE_FORMAT_VERSION = 1
_HASH_CHUNK_BYTES = 64 << 20

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows: concurrent builders each decode (and write the same bytes)
    fcntl = None


class ImageSource(Protocol):
    """What open_dataset needs from a folder, ZIP, LMDB or built-in dataset."""

    name: str          # short name for DatasetInfo.name
    source: str        # what the user asked for, resolved (absolute path or built-in spec)
    licence: str
    attribution: str
    looked_for: str    # for the empty-dataset error: what kind of files were searched
    channels: int      # 3 (RGB), or 1 for a grayscale source; every image it yields has this many

    def identity(self) -> dict[str, Any]:
        """JSON-able description of the input bytes; it changes whenever the images may."""

    def max_images(self) -> int:
        """How many images iter_images yields at most (the count before any skipping)."""

    def iter_images(self, resolution: int, content_height: int | None,
                    skips: SkipLog) -> Iterator[np.ndarray]:
        """Yield uint8 images [C, H, W] or chunks [k, C, H, W] in a fixed order; bad ones go to skips."""


def file_identity(path: Path) -> list[int]:
    """[size, mtime_ns, inode, ctime_ns] of a file: changes whenever its bytes may have."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]


def cache_key(source: ImageSource, resolution: int, content_height: int | None) -> str:
    description = {"format": CACHE_FORMAT_VERSION, "identity": source.identity(), "resolution": resolution,
                   "content_height": content_height, "pillow": PIL.__version__, "channels": source.channels}
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:20]


def cache_paths(cache_dir: Path, source: ImageSource, resolution: int,
                content_height: int | None) -> tuple[Path, Path]:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", source.name).strip("-")[:60] or "dataset"
    stem = f"{slug}-{resolution}-{cache_key(source, resolution, content_height)}"
    return cache_dir / f"{stem}.npy", cache_dir / f"{stem}.json"


def array_content_hash(images: np.ndarray) -> str:
    """sha256 of 'uint8[N,C,H,W]' followed by the array's bytes in C order, read in chunks."""
    digest = hashlib.sha256(f"uint8{list(images.shape)}".replace(" ", "").encode())
    rows_per_chunk = max(1, _HASH_CHUNK_BYTES // max(1, images[0].nbytes if len(images) else 1))
    for start in range(0, images.shape[0], rows_per_chunk):
        digest.update(np.ascontiguousarray(images[start:start + rows_per_chunk]).tobytes())
    return digest.hexdigest()


def _write_images(source: ImageSource, resolution: int, content_height: int | None, skips: SkipLog,
                  npy_path: Path) -> int:
    """Stream the source's images into a temporary .npy and move it to npy_path; returns N."""
    capacity = source.max_images()
    shape = (source.channels, resolution, resolution)
    scratch = temporary_beside(npy_path)
    try:
        filled = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint8,
                                           shape=(max(capacity, 1), *shape))
        count = 0
        for images in source.iter_images(resolution, content_height, skips):
            chunk = images[None] if images.ndim == 3 else images
            if count + len(chunk) > capacity or chunk.shape[1:] != shape or chunk.dtype != np.uint8:
                raise RuntimeError(f"source {source.source!r} yielded {chunk.dtype} {list(chunk.shape)} "
                                   f"after {count} images: beyond its {capacity} or not uint8 [k, *{shape}]")
            filled[count:count + len(chunk)] = chunk
            count += len(chunk)
        if count == 0:
            raise empty_dataset_error(source.source, source.looked_for, skips.names)
        if count < capacity:  # skipped images: copy the filled rows into a file of the right length
            compact_path = temporary_beside(npy_path)
            compact = np.lib.format.open_memmap(compact_path, mode="w+", dtype=np.uint8,
                                                shape=(count, *shape))
            compact[:] = filled[:count]
            compact.flush()
            del compact, filled
            scratch.unlink()
            scratch = compact_path
        else:
            filled.flush()
            del filled
        commit_temporary(scratch, npy_path)
        return count
    finally:
        scratch.unlink(missing_ok=True)


def _load_cached(npy_path: Path, json_path: Path) -> ImageDataset | None:
    """The cached dataset, or None when either file is missing or they disagree."""
    if not (npy_path.exists() and json_path.exists()):
        return None
    try:
        info = DatasetInfo.from_dict(json.loads(json_path.read_text()))
        return ImageDataset(np.load(npy_path, mmap_mode="r"), info)
    except (OSError, ValueError, TypeError) as error:
        log.warning("ignoring unreadable dataset cache %s: %s", npy_path, error)
        return None


def _check_writable(directory: Path) -> None:
    """Fail before decoding anything when the cache folder cannot take the new files."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".write-probe.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise DatasetError(f"the dataset cache folder {directory} is not writable "
                           f"({error.strerror or error}); pass --cache-dir (or set HARNESS_CACHE_DIR) "
                           f"to a writable folder") from error


@contextlib.contextmanager
def _build_lock(npy_path: Path) -> Iterator[None]:
    """Hold `<cache>.lock` (fcntl.flock; the OS drops it if the builder dies) while building, and
    clear the temporary files a killed builder of this cache left (nobody else writes them now)."""
    with open(npy_path.with_suffix(".lock"), "a+b") as lock_file:
        if fcntl is not None:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        for orphan in npy_path.parent.glob(f".{glob.escape(npy_path.stem)}.*.tmp"):
            log.warning("removing %s, left by an interrupted cache build", orphan)
            orphan.unlink(missing_ok=True)
        yield


def _build(source: ImageSource, resolution: int, content_height: int | None, skip_bad: bool,
           npy_path: Path, json_path: Path) -> ImageDataset:
    """Decode the source into `npy_path` and write its DatasetInfo to `json_path`."""
    log.info("building dataset cache %s from %s", npy_path, source.source)
    skips = SkipLog(skip_bad)
    count = _write_images(source, resolution, content_height, skips, npy_path)
    images = np.load(npy_path, mmap_mode="r")
    info = DatasetInfo(name=source.name, source=source.source, resolution=resolution, num_images=count,
                       num_skipped=len(skips.names), content_hash=array_content_hash(images),
                       licence=source.licence, attribution=source.attribution,
                       skipped_files=tuple(skips.names[:SKIPPED_NAMES_KEPT]), content_height=content_height)
    write_json_atomic(json_path, info.to_dict(), indent=1, sort_keys=True)
    return ImageDataset(images, info)


def open_cached(source: ImageSource, resolution: int, *, cache_dir: str | os.PathLike | None,
                skip_bad: bool, content_height: int | None, rebuild: bool = False) -> ImageDataset:
    """Load the source's cache for this resolution, building it first if needed (or if `rebuild`)."""
    directory = cache_folder("datasets", cache_dir)
    npy_path, json_path = cache_paths(directory, source, resolution, content_height)
    dataset = None if rebuild else _load_cached(npy_path, json_path)
    if dataset is None:
        _check_writable(directory)
        with _build_lock(npy_path):  # one builder per key: the others wait, then read its cache
            dataset = None if rebuild else _load_cached(npy_path, json_path)
            if dataset is None:
                dataset = _build(source, resolution, content_height, skip_bad, npy_path, json_path)
    if dataset.info.num_skipped and not skip_bad:
        raise DatasetError(
            f"the cache {npy_path} of {source.source!r} was built with --skip-bad and skips "
            f"{dataset.info.num_skipped} bad images, e.g. {list(dataset.info.skipped_files)}; pass "
            f"--skip-bad (skip_bad=True in Python) to use it, or fix those files")
    return dataset
