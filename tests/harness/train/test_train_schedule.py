"""Growing schedule, per-resolution batch and lr, lazy Adam correction, EMA half-life."""

import math

import pytest
import torch

import variants
from harness.train.loop import update_ema
from harness.train.schedule import (
    Schedule,
    ema_beta,
    is_lazy,
    lazy_adam_settings,
    lazy_ratio,
    optimizer_intervals,
)


def test_non_growing_is_constant():
    config = variants.get_config("E", resolution=32, batch_size=8, lr=0.0025)
    schedule = Schedule(config, 10_000)
    for images in (0, 5_000, 9_999):
        state = schedule.state_at(images)
        assert (state.resolution, state.alpha, state.batch, state.lr) == (32, 1.0, 8, 0.0025)


def test_growing_phases_scaled_to_half_the_budget():
    config = variants.get_config("A", resolution=32, batch_size=8)  # 8 -> 16 -> 32: 4 phases
    schedule = Schedule(config, 1000)
    assert schedule.num_growths == 2 and schedule.phase_images == 125
    expected = {0: (8, 1.0), 124: (8, 1.0), 125: (16, 0.0), 187: (16, 62 / 125), 250: (16, 1.0),
                375: (32, 0.0), 437: (32, 62 / 125), 500: (32, 1.0), 999: (32, 1.0)}
    for images, (resolution, alpha) in expected.items():
        state = schedule.state_at(images)
        assert state.resolution == resolution, images
        assert state.alpha == pytest.approx(alpha, abs=1e-9), images
    assert [schedule.state_at(i).phase_index for i in (0, 125, 250, 375, 500, 900)] == [0, 1, 2, 3, 4, 4]
    lods = [schedule.state_at(i).lod for i in (0, 125, 187, 250, 375, 500)]  # the official level of detail
    assert lods == pytest.approx([2.0, 2.0, 2 - 62 / 125, 1.0, 1.0, 0.0])


def test_paper_scale_keeps_600_kimg_phases_and_batch_table():
    config = variants.get_config("A")  # 1024, batch 32
    schedule = Schedule(config, 25_000_000)
    assert schedule.phase_images == 600_000
    assert [schedule.batch_at(r) for r in (8, 16, 32, 64, 1024)] == [256, 128, 64, 32, 32]
    assert [schedule.lr_at(r) for r in (8, 64, 128, 256, 512, 1024)] == [0.001, 0.001, 0.0015, 0.002, 0.003,
                                                                         0.003]


def test_smoke_batch_scaled_so_full_resolution_gets_batch_size():
    schedule = Schedule(variants.get_config("B", resolution=16, batch_size=8), 4000)
    assert schedule.batch_at(16) == 8 and schedule.batch_at(8) == 16


def test_last_batch_is_clipped_to_the_budget():
    schedule = Schedule(variants.get_config("E", resolution=16, batch_size=8), 20)
    assert [schedule.batch_for_step(i) for i in (0, 8, 16)] == [8, 8, 4]


def test_lazy_adam_correction():
    c = 16 / 17
    lr, betas = lazy_adam_settings(0.002, (0.0, 0.99), 16)
    assert lazy_ratio(16) == c
    assert lr == pytest.approx(0.002 * c) and betas == (0.0, pytest.approx(0.99 ** c))
    assert lazy_adam_settings(0.002, (0.0, 0.99), 1) == (0.002, (0.0, 0.99))
    assert all(isinstance(beta, float) for beta in lazy_adam_settings(0.002, (0, 1), 1)[1])  # for Adam
    assert lazy_adam_settings(0.002, (0.5, 0.99), 4)[1][0] == pytest.approx(0.5 ** 0.8)
    assert is_lazy(16, 10.0) and not is_lazy(1, 10.0) and not is_lazy(4, 0.0)
    with pytest.raises(ValueError, match="interval"):
        lazy_ratio(0)


def test_lazy_correction_covers_both_optimisers_once_regularisation_is_lazy():
    # official: training/training_loop.py (TF StyleGAN2) lazy_regularization, off for configs A and B only
    intervals = {name: optimizer_intervals(variants.get_config(name)) for name in ("A", "B", "C", "D", "E")}
    assert intervals == {"A": (1, 1), "B": (1, 1), "C": (4, 16), "D": (4, 16), "E": (4, 16)}


def test_ema_half_life_in_images():
    batch, ema_kimg = 8, 0.4  # half-life 400 images = 50 steps
    beta = ema_beta(batch, ema_kimg)
    assert beta ** 50 == pytest.approx(0.5)
    ema, net = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
    net.register_buffer("counter", torch.tensor(7.0))
    ema.register_buffer("counter", torch.tensor(0.0))
    with torch.no_grad():
        ema.weight.fill_(0.0)
        net.weight.fill_(1.0)
    for _ in range(50):
        update_ema(ema, net, beta)
    assert ema.weight.item() == pytest.approx(0.5, rel=1e-5)
    assert ema.counter.item() == 7.0
    assert ema_beta(batch, 0.0) == 0.0 and math.isclose(ema_beta(32, 10.0) ** (10_000 / 32), 0.5)


def test_ema_rampup_caps_the_half_life_by_the_images_shown():
    # official: stylegan2-ada-pytorch training/training_loop.py; the first step copies G
    assert ema_beta(32, 10.0, 0.05, images_shown=0) == 0.0
    assert ema_beta(32, 10.0, 0.05, images_shown=64_000) == pytest.approx(0.5 ** (32 / 3200))
    assert ema_beta(32, 10.0, 0.05, images_shown=1_000_000) == ema_beta(32, 10.0)  # 10 kimg < 50 kimg
    assert ema_beta(32, 10.0, None, images_shown=0) == ema_beta(32, 10.0)
