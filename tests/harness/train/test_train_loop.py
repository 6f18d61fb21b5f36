"""The Trainer against the official loop: Adam resets at lod boundaries, lazy Adam settings, w_avg
updates, EMA ramp-up."""

import math

import numpy as np
import pytest
import torch

from harness.data import DatasetInfo, ImageDataset
from harness.measure.throughput import PhaseTimer
from harness.train import TrainOptions
from harness.train.loop import Trainer
from tests.harness.train.tiny import tiny_config


def make_trainer(config, kimg: float = 0.064, seed: int = 0) -> Trainer:
    images = np.random.default_rng(seed).integers(0, 256, (32, 3, 16, 16), dtype=np.uint8)
    info = DatasetInfo(name="random", source="random", resolution=16, num_images=32, num_skipped=0,
                       content_hash="none", licence="none", attribution="none")
    options = TrainOptions(config=config, data="random", out="unused", kimg=kimg, seed=seed)
    return Trainer(options, ImageDataset(images, info), torch.device("cpu"))


def run_steps(trainer: Trainer, steps: int) -> None:
    timer = PhaseTimer(torch.device("cpu"))
    for _ in range(steps):
        trainer.step(timer)


@pytest.mark.slow
def test_adam_state_resets_when_a_fade_in_starts_and_when_it_ends():
    # official: training/training_loop.py (TF StyleGAN2) resets both optimisers when floor(lod) or ceil(lod)
    # changes. A at 16x16: 8x8 for 16 images (batch 8), fade-in over 16 images (batch 4), then 16x16.
    trainer = make_trainer(tiny_config("A"))
    timer, lods, adam_steps = PhaseTimer(torch.device("cpu")), [], []
    weight = trainer.G.mapping.layers[0].weight
    while trainer.images_shown < 48:
        trainer.step(timer)
        lods.append(trainer.last_state.lod)
        adam_steps.append(int(trainer.opt_G.state[weight]["step"]))
        assert int(trainer.opt_D.state[trainer.D.epilogue.out.weight]["step"]) == adam_steps[-1]
    assert lods == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0]
    assert adam_steps == [1, 2, 3, 1, 2, 3, 1, 2, 3, 4]  # reset at lod 1 -> 0.75 and at 0.25 -> 0


@pytest.mark.parametrize(("name", "g_c", "d_c"), [("A", 1, 1), ("B", 1, 1), ("C", 4 / 5, 16 / 17),
                                                  ("D", 4 / 5, 16 / 17), ("E", 4 / 5, 16 / 17)])
def test_lazy_regularisation_adjusts_both_optimisers(name, g_c, d_c):
    # official: training/training_loop.py (TF StyleGAN2): with lazy_regularization on (configs C-F), G's Adam
    # gets c = 4/5 and D's c = 16/17, even for config C, whose G has no regulariser
    trainer = make_trainer(tiny_config(name))
    run_steps(trainer, 1)
    lr = trainer.last_state.lr
    for optimizer, c in ((trainer.opt_G, g_c), (trainer.opt_D, d_c)):
        group = optimizer.param_groups[0]
        assert group["lr"] == pytest.approx(lr * c)
        assert group["betas"] == (0.0, pytest.approx(0.99 ** c))
    if name == "C":
        assert trainer.opt_G.param_groups[0]["betas"][1] == pytest.approx(0.99 ** 0.8)  # 0.99196...


def test_w_avg_moves_at_every_training_evaluation_of_the_mapping():
    # official: training/networks_stylegan2.py (TF StyleGAN2) G_main updates dlatent_avg whenever it runs
    # with is_training: G loss, path length (D: lazy, at step 0) and D's fakes
    trainer = make_trainer(tiny_config("D"))
    updates, forward = [], trainer.G.mapping.forward

    def counting(z, *args, update_w_avg=False, **kwargs):
        updates.append(update_w_avg)
        return forward(z, *args, update_w_avg=update_w_avg, **kwargs)

    trainer.G.mapping.forward = counting
    torch.manual_seed(0)
    run_steps(trainer, 2)  # step 0: G main, G reg, D main; step 1: G main, D main
    assert updates.count(True) == 5  # the other calls map the mixing latents, which leave w_avg alone


def model_distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return math.sqrt(sum(float((p - q).square().sum()) for p, q in zip(a.parameters(), b.parameters(),
                                                                          strict=True)))


def test_ema_rampup_keeps_g_ema_close_to_g_in_a_short_run():
    # official: stylegan2-ada-pytorch training/training_loop.py, G_ema's ema_nimg capped at cur_nimg * rampup
    distances = {}
    for rampup in (None, 0.05):
        trainer = make_trainer(tiny_config("E", ema_kimg=10.0, ema_rampup=rampup, pl_weight=0.0))
        run_steps(trainer, 8)  # 32 images: half-life 10,000 images without ramp-up, 1.4 with
        distances[rampup] = model_distance(trainer.G_ema, trainer.G)
    # measured: 0.73 without ramp-up (G_ema is still about the initial network), 0.030 with it
    assert distances[0.05] < 0.1 * distances[None]


def test_networks_take_the_datasets_channels():
    """A grayscale dataset trains 1-channel G and D (options.for_dataset); a config that disagrees
    with its dataset is refused with the fix, not trained on broadcast images."""
    images = np.random.default_rng(0).integers(0, 256, (32, 1, 16, 16), dtype=np.uint8)
    info = DatasetInfo(name="gray", source="gray", resolution=16, num_images=32, num_skipped=0,
                       content_hash="none", licence="none", attribution="none")
    dataset = ImageDataset(images, info)
    options = TrainOptions(config=tiny_config("E"), data="gray", out="unused", kimg=0.064)
    with pytest.raises(ValueError, match=r"makes 3-channel images but the dataset 'gray' has 1.*for_dataset"):
        Trainer(options, dataset, torch.device("cpu"))
    trainer = Trainer(options.for_dataset(dataset), dataset, torch.device("cpu"))
    run_steps(trainer, 2)
    assert trainer.config.img_channels == 1
    assert trainer.G(torch.randn(2, trainer.G.z_dim)).shape == (2, 1, 16, 16)
    assert trainer.D.blocks[0].fromrgb.weight.shape[1] == 1
