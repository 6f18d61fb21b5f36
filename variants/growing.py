"""Progressive growing (ProGAN, StyleGAN; configs A-D): level of detail and its schedule.

A growable network runs at a top resolution r with a fade-in alpha in [0, 1]: the output (G) or
input (D) of the new top block is blended linearly with the path through resolution r / 2.
As in the official code, the networks keep the full resolution R at their boundary while growing:
G's r x r output is upscaled to R x R by pixel repetition and D box-downsamples its R x R input
to r x r; the fade paths are nearest upsampling (G) and 2x2 box downsampling (D).
The schedule (StyleGAN's TrainingSchedule): `growing_phase_kimg` thousand images at the start
resolution, then for each higher resolution a fade-in of the same length followed by a stable
phase, until the full resolution; batch size and learning rate change per top resolution.
The official loop speaks of the level of detail lod = log2(R / r) + (1 - alpha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from variants.configs import Config


@dataclass(frozen=True)
class Growth:
    """Where a growable network stands: top `resolution` and the fade-in `alpha` of that level."""

    resolution: int
    alpha: float = 1.0


def schedule_value(pairs: tuple[tuple[int, float], ...], resolution: int) -> float:
    """The value of a (resolution, value) step table at `resolution`: that of the largest key <= it.

    Resolutions below the first key take the first value.
    """
    value = pairs[0][1]
    for key, candidate in pairs:
        if key <= resolution:
            value = candidate
    return value


def growth_at(cfg: Config, kimg: float) -> Growth:
    """Top resolution and fade-in alpha after `kimg` thousand training images under cfg's schedule.

    Non-growing configs always answer the full resolution with alpha 1.
    """
    if not cfg.growing:
        return Growth(cfg.resolution)
    if kimg < 0:
        raise ValueError(f"kimg must be >= 0, got {kimg}")
    phase = cfg.growing_phase_kimg
    steps_to_full = int(math.log2(cfg.resolution // cfg.growing_start_res))
    # Phase 0: stabilise at start; then (fade-in, stabilise) pairs per added resolution.
    level = min(kimg / phase, 2 * steps_to_full)
    if level < 1:
        return Growth(cfg.growing_start_res)
    added = math.floor((level - 1) / 2) + 1  # resolutions added so far, the top one included
    within = level - (2 * added - 1)  # progress inside this resolution's (fade-in, stable) pair
    alpha = min(within, 1.0)
    return Growth(cfg.growing_start_res * 2 ** added, alpha)


def check_growth(resolution: int, alpha: float, *, start_res: int, full_res: int, owner: str) -> Growth:
    """Validate a requested growth state for a network built to grow from start_res to full_res."""
    valid = tuple(2 ** i for i in range(int(math.log2(start_res)), int(math.log2(full_res)) + 1))
    if resolution not in valid:
        raise ValueError(f"{owner}: growth resolution {resolution} is not one of {valid}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{owner}: fade-in alpha must lie in [0, 1], got {alpha}")
    return Growth(int(resolution), float(alpha))


def level_of_detail(growth: Growth, full_resolution: int) -> float:
    """The official loop's lod: log2(R / r) + (1 - alpha); 0 at full resolution, integer when stable."""
    return math.log2(full_resolution // growth.resolution) + (1.0 - float(growth.alpha))


def active_ws(num_ws: int, lod: float) -> int:
    """How many leading ws the synthesis network uses at level of detail `lod` (2 per level dropped).

    official: training/networks_stylegan2.py (TF StyleGAN2) G_main, cur_layers = num_layers - 2 * int(lod)
    """
    return num_ws - 2 * math.floor(lod)


def fade(low: torch.Tensor, high: torch.Tensor, alpha: float) -> torch.Tensor:
    """Linear fade-in of a new level: (1 - alpha) * low + alpha * high (alpha 1 returns `high`)."""
    return high if alpha >= 1.0 else torch.lerp(low, high, alpha)


class GrowableMixin:
    """`set_growth` / `growth` for the original G and D; others raise naming their architecture.

    Users set `self._growth`, `self._growable`, `self._growth_start` in __init__.
    """

    config: Config
    registered_name: str

    @property
    def growth(self) -> Growth:
        return self._growth

    def set_growth(self, resolution: int, alpha: float = 1.0) -> None:
        """Run at top `resolution` with fade-in `alpha`; only networks built with growing=True can grow."""
        owner = f"{type(self).__name__} ({self.registered_name!r}, config {self.config.name!r})"
        if not self._growable:
            if resolution == self.config.resolution and alpha == 1.0:
                return
            raise ValueError(
                f"{owner} cannot grow: progressive growing needs the 'original' architecture built "
                f"from a config with growing=True (got growing={self.config.growing}); it always runs "
                f"at {self.config.resolution}x{self.config.resolution}")
        self._growth = check_growth(resolution, alpha, start_res=self._growth_start,
                                    full_res=self.config.resolution, owner=owner)
