"""Training speed of several configurations measured side by side in one process.

Speed claims (the paper's Table 1 footnote: config E trains about 40% faster than A, F slightly
slower than A) compare img/s. Runs of a suite share a machine with other runs and with metrics,
so their `summary.json` rates are not comparable; here each configuration's trainer is built once
in one process and timed in interleaved rounds (the order rotates every round), so every config
sees the same machine state. A round is whole lazy intervals (R1 every 16 minibatches, path length
every 4) so the regularisation steps are amortised in their training proportion, as the training
iteration benchmark (benchmarks/test_train_step.py) times them; growing configs (A-D) are timed
at full resolution, after their growth has completed.
"""

import math
import time
from pathlib import Path

import torch

from common.io import write_json_atomic
from harness.measure.throughput import PhaseTimer, synchronize

METHOD = ("interleaved rounds in one process: per round, each config in turn (order rotated every round) "
          "trains {steps} minibatches (whole lazy regularisation intervals) after one warm-up round; "
          "img/s = images / wall seconds of the round; growing configs at full resolution after growth")


def steps_per_round(config) -> int:
    """Minibatches that hold every lazy regulariser in its training proportion: lcm of the intervals."""
    return math.lcm(config.pl_interval, config.r1_interval)


def trainer_after_growth(options, dataset, device: torch.device | str):
    """A harness.train Trainer for `options` on `dataset` whose growth (configs A-D) has completed."""
    from harness.train.loop import Trainer

    # the budget only has to outlast the timing: minibatches are clipped at its end
    trainer = Trainer(options.replace(kimg=100_000.0).for_dataset(dataset), dataset, torch.device(device))
    trainer.images_shown = 2 * trainer.schedule.num_growths * trainer.schedule.phase_images
    return trainer


def time_round(trainer, steps: int) -> tuple[int, float]:
    """Train `steps` minibatches; (images, wall seconds), the device synchronised at both ends."""
    timer = PhaseTimer(trainer.device)  # reset() synchronises and starts the wall clock
    for _ in range(steps):
        trainer.step(timer)
    synchronize(trainer.device)
    return timer.images, timer.window_seconds()


def side_by_side(trainers: dict, rounds: int, steps: int) -> dict[str, list[float]]:
    """{name: [img/s of each round]} for trainers timed in interleaved rounds after one warm-up each."""
    for name, trainer in trainers.items():
        needed = steps_per_round(trainer.config)
        if steps % needed:
            raise ValueError(f"{steps} steps per round do not hold whole lazy intervals of config {name} "
                             f"(a multiple of {needed} does)")
        time_round(trainer, steps)  # warm-up: optimisers, allocator, autotuning
    names = list(trainers)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            images, seconds = time_round(trainers[name], steps)
            rates[name].append(images / seconds)
    return rates


def measure_speed(options_by_name: dict, rounds: int, steps: int, path: Path, log=print) -> dict:
    """Time each config's training step side by side and write `path` (speed.json) atomically.

    `options_by_name`: {config name: harness.train.TrainOptions}, all on the same data, resolution
    and batch size (the first one's dataset is opened once). Returns the written record.
    """
    from harness.data import open_dataset
    from harness.environment import device_info
    from harness.train.loop import resolve_device

    first = next(iter(options_by_name.values()))
    config = first.config
    device = resolve_device(first.device)
    dataset = open_dataset(first.data, config.resolution, cache_dir=first.cache_dir,
                           content_height=config.content_height)
    started = time.time()
    trainers = {name: trainer_after_growth(options, dataset, device)
                for name, options in options_by_name.items()}
    rates = side_by_side(trainers, rounds, steps)
    info = device_info(device)
    record = {
        "method": METHOD.format(steps=steps),
        "device": f"{info['device']} ({info['name']})",
        "threads": torch.get_num_threads(),
        "dataset": first.data,
        "resolution": config.resolution,
        "batch_size": config.batch_size,
        "rounds": rounds,
        "steps_per_round": steps,
        "img_per_s": rates,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json_atomic(path, record)
    medians = ", ".join(f"{name} {sorted(values)[len(values) // 2]:.1f}" for name, values in rates.items())
    log(f"speed side by side ({time.time() - started:.0f} s): median img/s {medians} -> {path}")
    return record
