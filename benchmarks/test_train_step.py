"""One full training step (G main, G reg, D main, D reg at their intervals, EMA) per config, ref vs fused.

`pytest benchmarks/test_train_step.py --benchmark-enable` times a step of configs A-F at the smoke
scale (16x16, width 1/16, batch 8, 2 mapping layers) on CPU (and CUDA where present), grouped by
config so `impl='ref'` and `impl='fused'` sit side by side; images/s = batch / mean time goes to
extra_info. Growing configs are timed at full resolution (after their growth has completed), and
the timed steps cycle through the lazy regularisation intervals as training does.
"""

import numpy as np
import pytest
import torch

import variants
from harness.data import DatasetInfo, ImageDataset
from harness.measure.throughput import PhaseTimer
from harness.train import TrainOptions
from harness.train.loop import Trainer

RESOLUTION, BATCH = 16, 8
NO_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none found)")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, NO_CUDA])]


def random_dataset(count: int = 64) -> ImageDataset:
    images = np.random.default_rng(0).integers(0, 256, (count, 3, RESOLUTION, RESOLUTION), dtype=np.uint8)
    info = DatasetInfo(
        name="random",
        source="random",
        resolution=RESOLUTION,
        num_images=count,
        num_skipped=0,
        content_hash="none",
        licence="none",
        attribution="none",
    )
    return ImageDataset(images, info)


def smoke_trainer(config_name: str, impl: str, device: str) -> Trainer:
    config = variants.get_config(
        config_name,
        resolution=RESOLUTION,
        width_multiplier=1 / 16,
        batch_size=BATCH,
        mapping_layers=2,
        impl=impl,
    )
    options = TrainOptions(config=config, data="random", out="unused", kimg=1000.0, device=device)
    trainer = Trainer(options, random_dataset(), torch.device(device))
    schedule = trainer.schedule
    trainer.images_shown = 2 * schedule.num_growths * schedule.phase_images  # growth complete
    return trainer


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", ["ref", "fused"])
@pytest.mark.parametrize("config_name", ["A", "B", "C", "D", "E", "F"])
def test_train_step(benchmark, config_name, impl, device):
    trainer = smoke_trainer(config_name, impl, device)
    timer = PhaseTimer(device)
    trainer.step(timer)  # warm-up: builds optimisers, first-call overheads
    benchmark.group = f"train step {config_name} {device}"
    benchmark.extra_info.update(
        config=config_name, impl=impl, device=device, batch=BATCH, resolution=RESOLUTION
    )
    batch, values = benchmark(trainer.step, timer)
    assert batch == BATCH and trainer.last_state.resolution == RESOLUTION
    assert all(bool(torch.isfinite(value)) for value in values.values())
    if benchmark.stats is not None:
        benchmark.extra_info["images_per_s"] = round(BATCH / benchmark.stats.stats.mean, 2)
