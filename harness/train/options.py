"""TrainOptions: everything `harness.train.train` needs besides the code (written to options.json)."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch

import variants
from harness.train.performance import PerformanceOptions

Progress = Literal["auto", "bar", "lines", "none"]
NUMERIC_FIELDS = {"kimg": numbers.Real, "tick_kimg": numbers.Real, "snapshot_kimg": numbers.Real,
                  "checkpoint_kimg": numbers.Real, "growing_fraction": numbers.Real,
                  "dist_timeout_min": numbers.Real, "seed": int, "fig8_samples": int,
                  "droplet_samples": int, "threads": int}
OPTIONAL_FIELDS = {"checkpoint_kimg", "threads"}


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
class TrainOptions:
    """One training run.

    config: the resolved variants.Config (architecture, widths, regularisation, optimiser, impl).
    data: dataset source for harness.data.open_dataset (path or built-in name).
    out: the run directory. kimg: budget in thousands of real images shown to D.
    seed: seeds every random stream (data order, latents, regulariser noise, network init).
    resume: continue from `<out>/checkpoint.pt`; force_restart: delete what `out` holds and train
    from scratch; rebuild_cache: decode the dataset again even if a cache for it exists.
    tick_kimg / snapshot_kimg / checkpoint_kimg: intervals in thousands of images for a stats line,
    a G_ema snapshot and a full checkpoint (None = at every snapshot); all also happen at the end.
    fig8_samples: fixed latents for the Figure 8 shares; droplet_samples: for the droplet statistic.
    growing_fraction: share of the budget by which progressive growing reaches full resolution.
    deterministic: torch.use_deterministic_algorithms(True) (bit-identical CPU runs and resumes).
    threads: torch intra-op threads (None = torch's default).
    dist_timeout_min: under torchrun, how long a rank waits for the others before failing (minutes).
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

    def __post_init__(self) -> None:
        if not isinstance(self.config, variants.Config):
            raise TypeError(f"config must be a variants.Config, got {type(self.config).__name__}; "
                            f"use variants.get_config(name, **overrides)")
        if not isinstance(self.data, str) or not self.data:
            raise ValueError(f"data must name a dataset (a path or a built-in name), got {self.data!r}")
        self._check_types()
        for name in ("kimg", "tick_kimg", "snapshot_kimg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 thousand images, got {getattr(self, name)!r}")
        if self.checkpoint_kimg is not None and not self.checkpoint_kimg > 0:
            raise ValueError(f"checkpoint_kimg must be > 0 or None, got {self.checkpoint_kimg!r}")
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
        if self.progress not in get_args(Progress):
            raise ValueError(f"progress={self.progress!r} is not one of {get_args(Progress)}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")
        if not self.dist_timeout_min > 0:
            raise ValueError(f"dist_timeout_min must be > 0 minutes, got {self.dist_timeout_min!r}")
        if not isinstance(self.performance, PerformanceOptions):
            raise TypeError(f"performance must be a harness.train.performance.PerformanceOptions, "
                            f"got {type(self.performance).__name__}")

    def _check_types(self) -> None:
        """Numbers must be numbers of the right kind and finite: NaN and inf pass `> 0` tests."""
        for field in dataclasses.fields(self):
            value, kind = getattr(self, field.name), NUMERIC_FIELDS.get(field.name)
            if kind is None or (value is None and field.name in OPTIONAL_FIELDS):
                continue
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"{field.name} must be {'an integer' if kind is int else 'a number'}, "
                                 f"got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value!r}")

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    @property
    def total_images(self) -> int:
        """The budget in images (kimg * 1000, rounded)."""
        return round(self.kimg * 1000)

    def replace(self, **overrides) -> TrainOptions:
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict:
        """JSON-ready dict; the config is embedded as its own JSON object."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values["config"] = json.loads(self.config.to_json())
        values["out"] = str(self.out)
        values["cache_dir"] = None if self.cache_dir is None else str(self.cache_dir)
        values["performance"] = self.performance.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> TrainOptions:
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError(f"unknown TrainOptions field(s) {unknown}; valid: {', '.join(sorted(names))}")
        config = variants.Config.from_json(json.dumps(values["config"]))
        performance = PerformanceOptions.from_dict(values.get("performance", {}))  # absent in older runs
        return cls(**{**values, "config": config, "performance": performance})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainOptions:
        return cls.from_dict(json.loads(text))
