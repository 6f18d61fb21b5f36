"""Tiny configurations for CPU tests: few channels, small z/w, 16x16 unless asked otherwise."""

import pytest

import variants

TINY = dict(width_multiplier=1 / 32, z_dim=32, w_dim=32, mapping_width=32, mapping_layers=2, resolution=16)


def tiny_config(name: str = "E", **overrides) -> variants.Config:
    """The preset `name` shrunk to a few channels (fmap 512 -> 16) and 16x16 unless overridden."""
    return variants.get_config(name, **{**TINY, **overrides})


@pytest.fixture
def tiny():
    return tiny_config
