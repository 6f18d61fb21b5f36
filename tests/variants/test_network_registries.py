"""The network registries: one entry per config axis value, unknown names listed, classes that
match their config (the Registry type itself: tests/common/test_registry.py)."""

import pytest

import variants
from variants.configs import ARCHITECTURES, STYLE_BLOCK_NAMES


def test_network_registries_match_the_config_axes():
    assert variants.list_generators() == ARCHITECTURES
    assert variants.list_discriminators() == ARCHITECTURES
    assert variants.STYLE_BLOCKS.names() == STYLE_BLOCK_NAMES


def test_unknown_generator_lists_known_ones():
    with pytest.raises(ValueError, match="unknown generator 'resnet'; known generators: original, skip"):
        variants.GENERATORS.get("resnet")
    with pytest.raises(ValueError, match="known discriminators: original, skip, residual"):
        variants.DISCRIMINATORS.get("resnet")


def test_network_class_must_match_config(tiny):
    skip_class = variants.GENERATORS.get("skip")
    with pytest.raises(ValueError, match="asks for g_arch='residual'"):
        skip_class(tiny("G-residual/D-skip"))
    with pytest.raises(ValueError, match="asks for d_arch='skip'"):
        variants.DISCRIMINATORS.get("original")(tiny("G-residual/D-skip"))
