"""One full training iteration per config A-F: G main, D main, the lazy regularisers amortised, EMA.

A round is `STEPS_PER_ROUND` = 16 minibatches, the least common multiple of the path length
interval (4) and the R1 interval (16): every round holds G reg and D reg in their training
proportion, so images/s = 16 * batch / mean round time is the rate training sees. Growing configs
(A-D) are timed at full resolution, after their growth has completed.

- CPU (reduced set, `test_train_iteration_cpu`): the smoke scale (16x16, width 1/16, batch 8,
  2 mapping layers), impl 'ref' vs 'fused', grouped by config.
- GPU (`test_train_iteration_cuda`, marker gpu): full width at 256x256 (batch 32 per GPU) and
  1024x1024 (batch 4 per GPU: the paper's 32 over 8 GPUs), impl 'fused', speed options
  'fidelity' (all off: fp32, no TF32) vs 'fast' (TF32, channels_last, bfloat16 in the top 4
  resolutions, compiled mapping).

extra_info: images_per_s, energy_j_per_kimg and energy_source (NVML on GPU; RAPL on CPU where
readable, else null), phase_share (fraction of round time per phase), peak GPU memory, the paper's
img/s where it has one (1024x1024, 8 V100s).
"""

import math

import numpy as np
import pytest
import torch

import variants
from harness.data import DatasetInfo, ImageDataset
from harness.measure.energy import open_cpu_meter, open_gpu_meter
from harness.measure.speed import trainer_after_growth
from harness.measure.throughput import PhaseTimer, synchronize
from harness.train import TrainOptions
from harness.train.loop import Trainer
from harness.train.performance import PerformanceOptions, tf32_restored

CONFIGS = ["A", "B", "C", "D", "E", "F"]
STEPS_PER_ROUND = math.lcm(4, 16)  # pl_interval, r1_interval of the presets
CPU_SCALE = dict(resolution=16, width_multiplier=1 / 16, batch_size=8, mapping_layers=2)
GPU_BATCH_PER_GPU = {256: 32, 1024: 4}
SPEED_PRESETS = {
    "fidelity": PerformanceOptions(),
    "fast": PerformanceOptions(tf32=True, channels_last=True, mixed_precision_res=4, compile_mapping=True),
}
# Paper Section 5 / Table 1: training speed at 1024x1024 on one DGX-1 (8 Tesla V100), images/s.
PAPER_IMAGES_PER_S_8_V100 = {"A": 37.0, "E": 61.0, "F": 31.0}


def random_dataset(resolution: int, count: int) -> ImageDataset:
    images = np.random.default_rng(0).integers(0, 256, (count, 3, resolution, resolution), dtype=np.uint8)
    info = DatasetInfo(name="random", source="random", resolution=resolution, num_images=count,
                       num_skipped=0, content_hash="none", licence="none", attribution="none")
    return ImageDataset(images, info)


def make_trainer(config: variants.Config, device: str, performance: PerformanceOptions) -> Trainer:
    """A trainer on random images whose growth (configs A-D) has completed."""
    options = TrainOptions(config=config, data="random", out="unused", kimg=100_000.0, device=device,
                           performance=performance)
    return trainer_after_growth(options, random_dataset(config.resolution, max(2 * config.batch_size, 16)),
                                device)


def time_iterations(benchmark, trainer: Trainer, rounds: int) -> None:
    """Benchmark rounds of STEPS_PER_ROUND steps (after one warm-up round); fill extra_info."""
    device = trainer.device
    timer = PhaseTimer(device)

    def one_round() -> int:
        images = 0
        for _ in range(STEPS_PER_ROUND):
            batch, values = trainer.step(timer)
            images += batch
        synchronize(device)
        assert all(bool(torch.isfinite(value)) for value in values.values())
        return images

    one_round()  # warm-up: optimisers, cuDNN autotuning, compilation
    timer.reset()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    meter = open_gpu_meter(device) if device.type == "cuda" else open_cpu_meter()
    try:
        images = benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=0)
        joules = meter.joules()
    finally:
        meter.close()
    assert images == STEPS_PER_ROUND * trainer.schedule.batch_for_step(trainer.images_shown)
    assert trainer.last_state.resolution == trainer.config.resolution  # growth complete
    phase_total = sum(timer.seconds.values())
    benchmark.extra_info.update(
        images_per_round=images,
        energy_source=meter.source,
        energy_j_per_kimg=None if joules is None else round(joules / (rounds * images) * 1000, 3),
        phase_share={phase: round(seconds / phase_total, 4) for phase, seconds in timer.seconds.items()},
        peak_gpu_mem_bytes=torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        performance=trainer.performance.to_dict(),
    )
    if benchmark.stats is not None:
        benchmark.extra_info["images_per_s"] = round(images / benchmark.stats.stats.mean, 3)


@pytest.mark.parametrize("impl", ["ref", "fused"])
@pytest.mark.parametrize("config_name", CONFIGS)
def test_train_iteration_cpu(benchmark, config_name, impl):
    config = variants.get_config(config_name, impl=impl, **CPU_SCALE)
    benchmark.group = f"train iteration {config_name} {config.resolution}px cpu"
    benchmark.extra_info.update(config=config_name, impl=impl, device="cpu", batch=config.batch_size,
                                resolution=config.resolution, steps_per_round=STEPS_PER_ROUND)
    with tf32_restored():
        time_iterations(benchmark, make_trainer(config, "cpu", PerformanceOptions()), rounds=2)


@pytest.mark.gpu
@pytest.mark.parametrize("speed", list(SPEED_PRESETS))
@pytest.mark.parametrize("resolution", list(GPU_BATCH_PER_GPU))
@pytest.mark.parametrize("config_name", CONFIGS)
def test_train_iteration_cuda(benchmark, config_name, resolution, speed):
    batch = GPU_BATCH_PER_GPU[resolution]
    config = variants.get_config(config_name, impl="fused", resolution=resolution, batch_size=batch)
    benchmark.group = f"train iteration {config_name} {resolution}px cuda"
    benchmark.extra_info.update(config=config_name, impl="fused", speed=speed, device="cuda", batch=batch,
                                resolution=resolution, steps_per_round=STEPS_PER_ROUND,
                                gpu=torch.cuda.get_device_name())
    if resolution == 1024 and config_name in PAPER_IMAGES_PER_S_8_V100:
        paper = PAPER_IMAGES_PER_S_8_V100[config_name]
        benchmark.extra_info.update(paper_images_per_s_8_v100=paper, paper_images_per_s_per_v100=paper / 8)
    torch._dynamo.reset()  # a fresh compile cache per network ('fast' compiles the mapping)
    with tf32_restored():
        time_iterations(benchmark, make_trainer(config, "cuda", SPEED_PRESETS[speed]), rounds=3)
