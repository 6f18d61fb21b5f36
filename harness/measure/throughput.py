"""Per-phase wall-clock timers for the training loop (G main, G reg, D main, D reg).

On CUDA the timer synchronises the device at each phase boundary, so a phase is charged for the
kernels it launched rather than for whatever the asynchronous queue happened to finish.
"""

import contextlib
import time
from collections.abc import Iterator

import torch

TRAINING_PHASES = ("G_main", "G_reg", "D_main", "D_reg")


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (no-op on CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PhaseTimer:
    """Accumulates seconds per named phase between `reset()` calls.

    Use `with timer.phase("D_main"): ...`. `images` counts training images shown in the same
    window (`add_images`), so `images_per_second()` gives the overall rate and
    `images_per_second(phase)` the rate if that phase were the only cost (images / phase seconds).
    """

    def __init__(self, device: torch.device | str, phases: tuple[str, ...] = TRAINING_PHASES):
        self.device = torch.device(device)
        self.phases = phases
        self.reset()

    def reset(self) -> None:
        self.seconds = dict.fromkeys(self.phases, 0.0)
        self.images = 0
        synchronize(self.device)
        self._window_start = time.perf_counter()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if name not in self.seconds:
            raise ValueError(f"unknown phase {name!r}; known phases: {', '.join(self.phases)}")
        synchronize(self.device)
        start = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self.seconds[name] += time.perf_counter() - start

    def add_images(self, count: int) -> None:
        self.images += int(count)

    def window_seconds(self) -> float:
        """Wall seconds since the last reset (training and everything else)."""
        return time.perf_counter() - self._window_start

    def training_seconds(self) -> float:
        return sum(self.seconds.values())

    def images_per_second(self, phase: str | None = None) -> float | None:
        """Images/s over the training phases (or over one phase); None when no time was spent."""
        seconds = self.training_seconds() if phase is None else self.seconds[phase]
        return self.images / seconds if seconds > 0 else None

    def summary(self) -> dict[str, float | None]:
        """Flat record for stats.jsonl: `time_s/<phase>`, `img_per_s/<phase>`, `img_per_s`."""
        record: dict[str, float | None] = {"img_per_s": self.images_per_second()}
        for name in self.phases:
            record[f"time_s/{name}"] = self.seconds[name]
            record[f"img_per_s/{name}"] = self.images_per_second(name)
        return record
