"""TrainOptions: everything `harness.train.train` needs besides the code (written to options.json)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

import variants
from common.options import Options
from harness.train.performance import PerformanceOptions

Progress = Literal["auto", "bar", "lines", "none"]


def _check_device(device: str) -> None:
    """'auto' or anything torch.device accepts ('cpu', 'cuda', 'cuda:1', 'mps')."""
    if device == "auto":
        return
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a device torch knows: use auto, cpu, cuda, cuda:1, "
                         f"mps, ...") from None


@dataclass(frozen=True, kw_only=True)
class TrainOptions(Options):
    """One training run (written to options.json; each line below is also the `train` flag's help).

    config: the resolved variants.Config (architecture, widths, regularisation, optimiser, impl).
    data: image folder, .zip, LMDB, or built-in name (openmoji) for harness.data.open_dataset.
    out: the run directory.
    kimg: budget: thousands of real images shown to D.
    seed: seeds every random stream (data order, latents, regulariser noise, network init).
    resume: continue from <out>/checkpoint.pt.
    force_restart: delete what <out> holds (stats, snapshots, checkpoint, metric rows) and train
        from scratch.
    rebuild_cache: decode the dataset again even if a cache of it exists.
    tick_kimg: a stats line every so many kimg.
    snapshot_kimg: a G_ema snapshot every so many kimg.
    first_snapshot_kimg: one more G_ema snapshot at the first tick at or past this many kimg (the
        learning check compares the final FID with the first snapshot after 10% of the budget).
    checkpoint_kimg: a full checkpoint every so many kimg (default: at every snapshot); stats
        lines, snapshots and checkpoints also happen at the end.
    fig8_samples: latents for the Figure 8 shares.
    droplet_samples: latents for the droplet statistic.
    growing_fraction: share of the budget by which progressive growing reaches full resolution.
    xflip: add mirrored images to the dataset.
    skip_bad: skip undecodable images instead of failing.
    device: auto, cpu, cuda, cuda:1, ...
    deterministic: deterministic algorithms (bit-identical CPU runs and resumes; slower).
    threads: torch CPU (intra-op) threads (default: torch's).
    cache_dir: dataset cache folder.
    progress: how progress is shown: auto, bar, lines or none.
    dist_timeout_min: under torchrun: minutes a rank waits for the others before failing.
    performance: GPU speed options (TF32, channels_last, mixed precision, compile); the defaults
        change nothing (see harness/train/performance.py).
    """

    config: variants.Config
    data: str
    out: Path | str
    kimg: float
    seed: int = 0
    resume: bool = False
    force_restart: bool = False
    rebuild_cache: bool = False
    tick_kimg: float = 4.0
    snapshot_kimg: float = 200.0
    first_snapshot_kimg: float | None = None
    checkpoint_kimg: float | None = None
    fig8_samples: int = 1024
    droplet_samples: int = 16
    growing_fraction: float = 0.5
    xflip: bool = False
    skip_bad: bool = False
    device: str = "auto"
    deterministic: bool = False
    threads: int | None = None
    cache_dir: Path | str | None = None
    progress: Progress = "auto"
    dist_timeout_min: float = 10.0
    performance: PerformanceOptions = PerformanceOptions()

    def validate(self) -> None:
        if not self.data:
            raise ValueError(f"data must name a dataset (a path or a built-in name), got {self.data!r}")
        for name in ("kimg", "tick_kimg", "snapshot_kimg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 thousand images, got {getattr(self, name)!r}")
        for name in ("checkpoint_kimg", "first_snapshot_kimg"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 or None, got {getattr(self, name)!r}")
        if round(self.kimg * 1000) < 1:
            raise ValueError(f"kimg={self.kimg} is less than one image")
        if self.fig8_samples < 2 or self.droplet_samples < 1:
            raise ValueError("fig8_samples must be >= 2 and droplet_samples >= 1")
        if self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed}")
        if self.resume and self.force_restart:
            raise ValueError("resume and force_restart exclude each other: --resume continues the run, "
                             "--force-restart deletes it and trains again")
        _check_device(self.device)
        if not 0 < self.growing_fraction <= 1:
            raise ValueError(f"growing_fraction must lie in (0, 1], got {self.growing_fraction}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")
        if not self.dist_timeout_min > 0:
            raise ValueError(f"dist_timeout_min must be > 0 minutes, got {self.dist_timeout_min!r}")

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    def for_dataset(self, dataset) -> TrainOptions:
        """These options with config.img_channels set to the dataset's (1 grayscale, 3 RGB): the
        networks take their image channels from the data, as in the official training code."""
        if self.config.img_channels == dataset.channels:
            return self
        return self.replace(config=self.config.replace(img_channels=dataset.channels))

    @property
    def total_images(self) -> int:
        """The budget in images (kimg * 1000, rounded)."""
        return round(self.kimg * 1000)
