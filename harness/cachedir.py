"""The one cache root: what the harness can rebuild (decoded datasets, real-image feature statistics)
lives under `--cache-dir`, else $HARNESS_CACHE_DIR, else ~/.cache/stylegan2-ablations, one folder
per kind (`datasets/`, `stats/`), so a shared $HARNESS_CACHE_DIR holds both, built once."""

import os
from pathlib import Path

CACHE_DIR_ENV = "HARNESS_CACHE_DIR"
DEFAULT_CACHE_ROOT = Path("~/.cache/stylegan2-ablations")
KINDS = ("datasets", "stats")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir`, else $HARNESS_CACHE_DIR (if set and not empty), else DEFAULT_CACHE_ROOT; `~` expanded."""
    chosen = cache_dir if cache_dir is not None else os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_ROOT
    return Path(chosen).expanduser()


def cache_folder(kind: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """`<cache_root(cache_dir)>/<kind>`, `kind` one of KINDS."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r}; known: {', '.join(KINDS)}")
    return cache_root(cache_dir) / kind
