"""Registry: decorator registration, duplicates and wrong bases rejected, unknown names listed."""

import pytest
from torch import nn

import variants
from variants.configs import ARCHITECTURES, STYLE_BLOCKS
from variants.registry import Registry, UnknownNameError


class Base:
    pass


def test_register_and_get():
    registry = Registry("widget", Base)

    @registry.register("round")
    class Round(Base):
        pass

    assert registry.get("round") is Round and Round.registered_name == "round"
    assert registry.names() == ("round",) and "round" in registry and len(registry) == 1


def test_duplicate_name_rejected():
    registry = Registry("widget", Base)
    registry.register("round")(type("Round", (Base,), {}))
    with pytest.raises(ValueError, match="widget 'round' is already registered"):
        registry.register("round")(type("Other", (Base,), {}))


def test_wrong_base_class_rejected():
    registry = Registry("widget", Base)
    with pytest.raises(TypeError, match="not a subclass of Base"):
        registry.register("module")(nn.Module)


def test_unknown_name_lists_known_ones():
    registry = Registry("widget", Base)
    registry.register("round")(type("Round", (Base,), {}))
    with pytest.raises(UnknownNameError, match=r"^unknown widget 'square'; known widgets: round$"):
        registry.get("square")
    with pytest.raises(KeyError):  # also a KeyError and a ValueError for callers that catch those
        registry.get("square")


def test_network_registries_match_the_config_axes():
    assert variants.list_generators() == ARCHITECTURES
    assert variants.list_discriminators() == ARCHITECTURES
    assert variants.STYLE_BLOCKS.names() == STYLE_BLOCKS


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
