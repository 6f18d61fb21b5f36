"""GPU speed options: defaults change nothing, TF32 flags, channels_last parity, bfloat16 blocks, errors."""

import argparse
import copy

import numpy as np
import pytest
import torch

import variants
from harness.data import DatasetInfo, ImageDataset
from harness.measure.throughput import PhaseTimer
from harness.train import TrainOptions, loop
from harness.train.cli import add_arguments, options_from_args
from harness.train.performance import (
    PerformanceOptions,
    apply_performance,
    mixed_precision_resolutions,
    set_tf32,
    tf32_enabled,
    tf32_restored,
)
from tests.harness.train.tiny import tiny_config


def random_dataset(count: int = 16, resolution: int = 16) -> ImageDataset:
    images = np.random.default_rng(0).integers(0, 256, (count, 3, resolution, resolution), dtype=np.uint8)
    info = DatasetInfo(name="random", source="random", resolution=resolution, num_images=count,
                       num_skipped=0, content_hash="none", licence="none", attribution="none")
    return ImageDataset(images, info)


def tiny_trainer(performance: PerformanceOptions | None = None, name: str = "E") -> loop.Trainer:
    extra = {} if performance is None else {"performance": performance}
    options = TrainOptions(config=tiny_config(name, impl="fused"), data="random", out="unused", kimg=1.0,
                           device="cpu", **extra)
    return loop.Trainer(options, random_dataset(), torch.device("cpu"))


def train_steps(trainer: loop.Trainer, steps: int) -> list[dict]:
    timer = PhaseTimer("cpu")
    return [trainer.step(timer)[1] for _ in range(steps)]


def networks(name: str = "E", **overrides):
    config = tiny_config(name, impl="fused", **overrides)
    return variants.build_generator(config), variants.build_discriminator(config)


@pytest.fixture(autouse=True)
def _restore_tf32():
    with tf32_restored():
        yield


def test_default_options_leave_training_bit_identical(monkeypatch):
    """Five steps (path length at 0 and 4, R1 at 0) equal those of a trainer that never saw the module."""
    explicit = tiny_trainer(PerformanceOptions())
    explicit_values = train_steps(explicit, 5)
    with monkeypatch.context() as patch:
        patch.setattr(loop, "apply_performance", lambda *args: None)  # the loop as it was before
        untouched = tiny_trainer()
        untouched_values = train_steps(untouched, 5)
    assert explicit.performance.mixed_precision_resolutions == () and not explicit.performance.channels_last
    for name in ("G", "D", "G_ema"):
        ours, theirs = getattr(explicit, name).state_dict(), getattr(untouched, name).state_dict()
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs), name
    for ours, theirs in zip(explicit_values, untouched_values, strict=True):
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs)
    blocks = [*explicit.G.synthesis.blocks, *explicit.D.blocks, explicit.D.epilogue]
    assert not any(block._forward_pre_hooks for block in blocks) and not explicit.G.synthesis._forward_hooks


def test_tf32_is_explicitly_off_by_default_and_on_by_option():
    G, D = networks()
    set_tf32(True)
    apply_performance(PerformanceOptions(), G, D, "cpu")
    assert tf32_enabled() == (False, False)
    apply_performance(PerformanceOptions(tf32=True), G, D, "cpu")
    assert tf32_enabled() == (True, True)


def test_tf32_restored_puts_the_previous_setting_back():
    set_tf32(False)
    with tf32_restored():
        set_tf32(True)
        assert tf32_enabled() == (True, True)
    assert tf32_enabled() == (False, False)


@pytest.mark.parametrize("name", ["E", "A"])  # skip G / residual D / demod; original G and D / AdaIN
def test_channels_last_preserves_outputs(name):
    G, D = networks(name)
    G_fast, D_fast = copy.deepcopy(G), copy.deepcopy(D)
    applied = apply_performance(PerformanceOptions(channels_last=True), G_fast, D_fast, "cpu")
    assert applied.channels_last
    weight = D_fast.blocks[0].conv0.weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    ws = G.mapping(torch.randn(4, G.z_dim))
    images = G.synthesis(ws, noise_mode="const")
    torch.testing.assert_close(G_fast.synthesis(ws, noise_mode="const"), images, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(D_fast(images), D(images), atol=1e-5, rtol=1e-4)


def test_bfloat16_top_resolutions_stay_close_and_train_finite():
    trainer = tiny_trainer(PerformanceOptions(mixed_precision_res=2, channels_last=True))
    assert trainer.performance.mixed_precision_resolutions == (8, 16)
    assert trainer.performance.mixed_precision_dtype == "bfloat16"
    ws = trainer.G.mapping(torch.randn(4, trainer.G.z_dim))
    images, trace = trainer.G.synthesis(ws, noise_mode="const", return_trace=True)
    assert images.dtype == torch.float32  # G's output leaves in float32
    dtypes = [trace.features[res].dtype for res in (4, 8, 16)]
    assert dtypes == [torch.float32, torch.bfloat16, torch.bfloat16]
    reference = trainer.G_ema.train().synthesis(ws, noise_mode="const")  # G_ema: same weights, float32
    relative_error = (images - reference).norm() / reference.norm()
    assert 0 < relative_error < 0.05  # bfloat16 really ran, and stays close
    assert trainer.D(images).dtype == torch.float32
    for values in train_steps(trainer, 2):
        assert all(bool(torch.isfinite(value)) for value in values.values())


def test_float16_needs_activation_clamping():
    G, D = networks()
    options = PerformanceOptions(mixed_precision_res=1, mixed_precision_dtype="float16")
    with pytest.raises(ValueError, match="conv_clamp"):
        apply_performance(options, G, D, "cpu")
    G, D = networks(conv_clamp=256.0)
    applied = apply_performance(options, G, D, "cpu")
    assert applied.mixed_precision_dtype == "float16" and applied.mixed_precision_resolutions == (16,)


def test_compile_mapping_is_skipped_on_cpu_with_a_note():
    G, D = networks()
    applied = apply_performance(PerformanceOptions(compile_mapping=True), G, D, "cpu")
    assert not applied.compiled_mapping and "skipped on cpu" in applied.notes[0]
    assert G.mapping._compiled_call_impl is None


@pytest.mark.parametrize(("count", "expected"), [
    (0, ()), (1, (1024,)), (4, (128, 256, 512, 1024)), (9, (8, 16, 32, 64, 128, 256, 512, 1024)),
    (20, (8, 16, 32, 64, 128, 256, 512, 1024)),
])
def test_mixed_precision_resolutions_are_the_top_ones_down_to_8(count, expected):
    resolutions = tuple(2 ** i for i in range(2, 11))
    assert mixed_precision_resolutions(resolutions, count) == expected


@pytest.mark.parametrize(("values", "error", "match"), [
    (dict(mixed_precision_res=-1), ValueError, "mixed_precision_res"),
    (dict(mixed_precision_res=2.0), ValueError, "mixed_precision_res"),
    (dict(mixed_precision_dtype="float8"), ValueError, "mixed_precision_dtype"),
    (dict(tf32="yes"), TypeError, "tf32"),
    (dict(channels_last=1), TypeError, "channels_last"),
])
def test_invalid_options_are_named(values, error, match):
    with pytest.raises(error, match=match):
        PerformanceOptions(**values)


def test_options_json_round_trip_and_older_runs_without_performance():
    fast = PerformanceOptions(tf32=True, mixed_precision_res=4, compile_mapping=True)
    options = TrainOptions(config=tiny_config(), data="d", out="x", kimg=1.0, performance=fast)
    assert TrainOptions.from_json(options.to_json()) == options
    older = options.to_dict()
    del older["performance"]
    assert TrainOptions.from_dict(older).performance == PerformanceOptions()
    with pytest.raises(TypeError, match="unknown performance option"):
        PerformanceOptions.from_dict({"fp16": True})
    with pytest.raises(TypeError, match="PerformanceOptions"):
        TrainOptions(config=tiny_config(), data="d", out="x", kimg=1.0, performance={"tf32": True})


def test_cli_flags_set_performance_and_conv_clamp():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--config", "E", "--data", "d", "--kimg", "1", "--out", "o"]
    default = options_from_args(parser.parse_args(base))
    assert default.performance == PerformanceOptions() and default.config.conv_clamp is None
    flags = ["--tf32", "--channels-last", "--compile-mapping", "--mixed-precision-res", "4",
             "--mixed-precision-dtype", "float16", "--conv-clamp", "256"]
    args = parser.parse_args([*base, *flags])
    options = options_from_args(args)
    assert options.performance == PerformanceOptions(tf32=True, channels_last=True, mixed_precision_res=4,
                                                     mixed_precision_dtype="float16", compile_mapping=True)
    assert options.config.conv_clamp == 256.0
