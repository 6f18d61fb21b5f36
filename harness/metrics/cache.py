"""On-disk cache of real-image feature results, so a suite computes them once per dataset and network.

An entry is a set of named arrays (`.npz`, read without pickle) with a `.json` beside it that says what
its key stands for. The key covers everything that decides the numbers: the dataset's content hash and
resolution, the feature network (name, weights sha256, input size), the preprocessing version (resize
method, quantisation, pixel mapping: `preprocessing`), the real-sample rule and count, and what the
entry holds (`kind`: FID statistics, or which features). Folder: `stats/` of the cache root
(harness.cachedir: `cache_dir`, else $HARNESS_CACHE_DIR, else ~/.cache/stylegan2-ablations).
"""

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.io import require_writable_folder, write_bytes_atomic, write_json_atomic
from harness.cachedir import CACHE_DIR_ENV, cache_folder


def stats_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder cached real features live in."""
    return cache_folder("stats", cache_dir)


def require_writable(cache_dir: str | os.PathLike | None = None) -> Path:
    """The stats folder, created; a one-line PermissionError at once if nothing can be written there."""
    return require_writable_folder(stats_dir(cache_dir), what="the feature cache", create=True,
                                   advice=f"make it writable or pass --cache-dir / set ${CACHE_DIR_ENV}")


def cache_key(*, content_hash: str, resolution: int, network: dict, real_rule: str, real_samples: int,
              kind: str) -> dict:
    """The fields that decide whether a cached entry can be reused (`network` from provenance())."""
    return {
        "content_hash": content_hash,
        "resolution": int(resolution),
        "feature_network": network["feature_network"],
        "weights_sha256": network["weights_sha256"],
        "feature_input_size": network["feature_input_size"],
        "preprocessing": network["preprocessing"],
        "real_rule": real_rule,
        "real_samples": int(real_samples),
        "kind": kind,
    }


def _key_name(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def entry_path(key: dict, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the entry of `key` is (or would be) stored."""
    return stats_dir(cache_dir) / f"{_key_name(key)}.npz"


def load_entry(key: dict, cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray] | None:
    """The arrays stored for `key`, or None."""
    path = entry_path(key, cache_dir)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def store_entry(key: dict, arrays: dict[str, np.ndarray], cache_dir: str | os.PathLike | None = None) -> None:
    """Write `arrays` for `key` atomically, with the key as JSON beside them."""
    path = entry_path(key, cache_dir)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
    write_json_atomic(path.with_suffix(".json"), key)


def cached_arrays(key: dict, compute: Callable[[], dict[str, np.ndarray]],
                  cache_dir: str | os.PathLike | None = None) -> tuple[dict[str, np.ndarray], bool]:
    """The arrays of `key` from the cache, or `compute()` them and store them -> (arrays, was_cached)."""
    stored = load_entry(key, cache_dir)
    if stored is not None:
        return stored, True
    arrays = compute()
    store_entry(key, arrays, cache_dir)
    return arrays, False
