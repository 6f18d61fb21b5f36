"""Registry: decorator registration, duplicates, wrong kinds and late entries rejected, unknown names
listed with the nearest suggested."""

import pytest

from common.registry import Registry, UnknownNameError, did_you_mean


class Base:
    pass


def test_register_and_get():
    registry = Registry("widget", Base)

    @registry.register("round")
    class Round(Base):
        pass

    assert registry.get("round") is Round and Round.registered_name == "round"
    assert registry.names() == ("round",) and "round" in registry and len(registry) == 1
    assert list(registry) == ["round"]


def test_duplicate_name_rejected():
    registry = Registry("widget", Base)
    registry.register("round")(type("Round", (Base,), {}))
    with pytest.raises(ValueError, match="widget 'round' is already registered"):
        registry.register("round")(type("Other", (Base,), {}))


def test_wrong_base_class_rejected():
    registry = Registry("widget", Base)
    with pytest.raises(TypeError, match="not a subclass of Base"):
        registry.register("module")(int)


def test_without_a_base_any_callable_registers_and_nothing_else():
    loaders = Registry("loader")

    @loaders.register("tiny")
    def tiny():
        return 1

    assert loaders.get("tiny")() == 1 and tiny.registered_name == "tiny"
    with pytest.raises(TypeError, match="it is not callable"):
        loaders.register("number")(3)


def test_unknown_name_lists_known_ones():
    registry = Registry("widget", Base)
    registry.register("round")(type("Round", (Base,), {}))
    with pytest.raises(UnknownNameError, match=r"^unknown widget 'square'; known widgets: round$"):
        registry.get("square")
    with pytest.raises(KeyError):  # also a KeyError and a ValueError for callers that catch those
        registry.get("square")


def test_unknown_name_suggests_the_nearest_one():
    registry = Registry("metric", plural="metrics")
    for name in ("fid", "kid", "ppl"):
        registry.register(name)(lambda: None)
    with pytest.raises(ValueError, match=r"^unknown metric 'ppll' \(did you mean 'ppl'\?\); known metrics: "
                                         r"fid, kid, ppl$"):
        registry.get("ppll")
    assert did_you_mean("resolutoin", ["resolution", "seed"]) == " (did you mean 'resolution'?)"
    assert did_you_mean("nonsense", ["kimg", "seeds"]) == ""


def test_a_frozen_registry_refuses_new_entries_and_still_answers():
    registry = Registry("widget", Base)
    registry.register("round")(type("Round", (Base,), {}))
    registry.freeze()
    assert registry.frozen and registry.get("round").registered_name == "round"
    with pytest.raises(RuntimeError, match="the widget registry is frozen"):
        registry.register("square")(type("Square", (Base,), {}))
    assert registry.names() == ("round",)


def test_the_packages_freeze_their_registries_once_imported():
    import variants
    from harness import metrics
    from harness.suites.executors import EXECUTORS

    registries = (variants.GENERATORS, variants.DISCRIMINATORS, variants.STYLE_BLOCKS, metrics.METRICS,
                  metrics.FEATURE_NETWORKS, metrics.PERCEPTUAL_DISTANCES, EXECUTORS)
    assert all(registry.frozen for registry in registries)
    frozen = "cannot register generator 'late': the generator registry is frozen"
    with pytest.raises(RuntimeError, match=frozen):
        variants.GENERATORS.register("late")(variants.Generator)
