"""On-disk cache of real-image features, so a suite computes them once per dataset and feature network.

Keyed by the dataset's content hash, resolution, the feature network (name, weights sha256, input
size) and the number of real images; stored as `<root>/stats/<key>.npy` (features [N, D] float32)
with a `<key>.json` beside that says what the key stands for. Root: `cache_dir`, else
$HARNESS_CACHE_DIR, else ~/.cache/stylegan2-ablations.
"""

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.io import write_bytes_atomic, write_json_atomic

CACHE_DIR_ENV = "HARNESS_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/stylegan2-ablations")


def stats_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder cached real features live in."""
    root = cache_dir if cache_dir is not None else os.environ.get(CACHE_DIR_ENV, str(DEFAULT_CACHE_DIR))
    return Path(root).expanduser() / "stats"


def cache_key(*, content_hash: str, resolution: int, network: dict, num_images: int) -> dict:
    """The fields that decide whether cached features can be reused (`network` from provenance())."""
    return {
        "content_hash": content_hash,
        "resolution": int(resolution),
        "feature_network": network["feature_network"],
        "weights_sha256": network["weights_sha256"],
        "feature_input_size": network["feature_input_size"],
        "num_images": int(num_images),
    }


def _key_name(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def cached_features(key: dict, compute: Callable[[], np.ndarray],
                    cache_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, bool]:
    """Features for `key` from the cache, or `compute()` them and store them -> (features, was_cached)."""
    folder = stats_dir(cache_dir)
    path = folder / f"{_key_name(key)}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False), True
    features = np.ascontiguousarray(compute(), dtype=np.float32)
    buffer = io.BytesIO()
    np.save(buffer, features, allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())
    write_json_atomic(path.with_suffix(".json"), key)
    return features, False
