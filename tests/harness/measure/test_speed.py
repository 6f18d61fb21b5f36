"""Side-by-side speed timing: interleaved rounds, whole lazy intervals, the trainer's own step."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import variants
from harness.data import DatasetInfo, ImageDataset
from harness.measure import speed
from harness.train import TrainOptions, losses


class FakeTrainer:
    """Records the order of steps; each step shows `batch` images."""

    def __init__(self, name: str, log: list, batch: int = 4, pl_interval: int = 4, r1_interval: int = 16):
        self.name, self.log, self.batch, self.device = name, log, batch, torch.device("cpu")
        self.config = SimpleNamespace(pl_interval=pl_interval, r1_interval=r1_interval)

    def step(self, timer):
        self.log.append(self.name)
        timer.add_images(self.batch)
        return self.batch, {}


def test_rounds_interleave_the_configs_in_rotated_order_after_one_warm_up_each():
    log = []
    trainers = {name: FakeTrainer(name, log) for name in "ABC"}
    rates = speed.side_by_side(trainers, rounds=3, steps=16)
    assert set(rates) == set("ABC") and all(len(values) == 3 for values in rates.values())
    assert all(value > 0 and math.isfinite(value) for values in rates.values() for value in values)
    blocks = [log[index] for index in range(0, len(log), 16)]  # one entry per round of 16 steps
    assert all(log[index:index + 16] == [log[index]] * 16 for index in range(0, len(log), 16))
    assert blocks == ["A", "B", "C"] + ["A", "B", "C"] + ["B", "C", "A"] + ["C", "A", "B"]


def test_a_round_must_hold_whole_lazy_intervals():
    assert speed.steps_per_round(variants.get_config("E")) == 16  # lcm(path length 4, R1 16)
    assert speed.steps_per_round(variants.get_config("A")) == 4  # R1 every minibatch
    with pytest.raises(ValueError, match="do not hold whole lazy intervals of config E"):
        speed.side_by_side({"E": FakeTrainer("E", [])}, rounds=1, steps=8)


def test_a_round_of_the_real_trainer_amortises_the_lazy_regularisers(monkeypatch):
    """Config E after a 16-step round: R1 ran once, path length 4 times, whatever step it starts at."""
    config = variants.get_config("E", resolution=16, width_multiplier=1 / 64, batch_size=4, mapping_layers=2,
                                 fmap_max=2048)
    images = np.random.default_rng(0).integers(0, 256, (16, 3, 16, 16), dtype=np.uint8)
    info = DatasetInfo(name="random", source="random", resolution=16, num_images=16, num_skipped=0,
                       content_hash="none", licence="none", attribution="none")
    options = TrainOptions(config=config, data="random", out="unused", kimg=1.0, device="cpu")
    trainer = speed.trainer_after_growth(options, ImageDataset(images, info), "cpu")
    calls = {"r1": 0, "pl": 0}
    r1, path_lengths = losses.r1_penalty, losses.path_lengths

    def counting(name, function):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(losses, "r1_penalty", counting("r1", r1))
    monkeypatch.setattr(losses, "path_lengths", counting("pl", path_lengths))
    trainer.step_index = 5  # a round need not start on an interval boundary
    shown, seconds = speed.time_round(trainer, 16)
    assert shown == 16 * 4 and seconds > 0
    assert calls == {"r1": 1, "pl": 4}
