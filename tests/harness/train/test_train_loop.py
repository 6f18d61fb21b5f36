"""The Trainer against the official loop: Adam resets at lod boundaries."""

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
