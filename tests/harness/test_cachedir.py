"""One cache root: datasets and real-image statistics resolve --cache-dir and $HARNESS_CACHE_DIR alike."""

from pathlib import Path

import pytest

from harness.cachedir import cache_folder, cache_root
from harness.metrics.cache import stats_dir


def test_argument_then_environment_then_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert cache_root() == tmp_path / "env"
    monkeypatch.setenv("HARNESS_CACHE_DIR", "")  # set but empty: the default, not the working folder
    assert cache_root() == Path("~/.cache/stylegan2-ablations").expanduser()
    monkeypatch.delenv("HARNESS_CACHE_DIR")
    assert cache_root() == Path("~/.cache/stylegan2-ablations").expanduser()


def test_datasets_and_statistics_share_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    assert cache_folder("datasets") == tmp_path / "datasets" and stats_dir() == tmp_path / "stats"
    other = tmp_path / "other"
    assert stats_dir(other) == cache_folder("stats", other) == other / "stats"
    with pytest.raises(ValueError, match="unknown cache kind 'weights'; known: datasets, stats"):
        cache_folder("weights")
