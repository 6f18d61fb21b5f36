"""What to train at each moment: growing phases, batch, learning rate, lazy regularisation.

Progressive growing (configs A-D; ProGAN / StyleGAN, SPEC.md section 3): training starts at
`growing_start_res`; each phase of `phase_images` images either stabilises the current top
resolution or fades the next one in (alpha rising linearly 0 -> 1). The paper's 600 thousand
images per phase are shortened so that growing to full resolution ends at `growing_fraction` of
the run's budget (never lengthened): a run of any budget spends the rest at full resolution.

Batch per resolution follows the official table scaled so that the full resolution gets
`config.batch_size` (batch(r) = table(r) * batch_size / table(resolution), rounded, >= 1); at the
paper's settings this reproduces the table exactly. The learning rate per resolution is the
config's `growing_lr_by_res` table verbatim. Non-growing configs use `batch_size` and `lr`.

Lazy regularisation (Section 4 of the paper): a regulariser evaluated every k minibatches is
weighted by k, and its network's Adam uses lr * c and beta ** c with c = k / (k + 1). As in the
official loop, the correction applies to both networks as soon as regularisation is lazy (G with
the path length interval even when G has no regulariser, config C). With k = 1 (configs A, B) the
regulariser is added to the main loss in the same pass, and c = 1.

G_ema's half-life is `ema_kimg`, capped at `ema_rampup` times the images shown so far when the
config sets a ramp-up (stylegan2-ada-pytorch; the paper uses none).
"""

import math
from dataclasses import dataclass

from variants.growing import growth_at, level_of_detail, schedule_value


@dataclass(frozen=True, kw_only=True)
class TrainingState:
    """What the schedule prescribes after `images_shown` images.

    resolution: current top resolution (pixels); alpha: fade-in of that resolution in [0, 1];
    lod: the official level of detail log2(R / resolution) + 1 - alpha (0 at full resolution);
    batch: minibatch size (images); lr: Adam learning rate before the lazy correction;
    phase_index: 0 for the first stabilisation, +1 at each fade-in or stabilisation start.
    (The phase arithmetic is variants.growing.growth_at's, with the phase length scaled.)
    """

    resolution: int
    alpha: float
    lod: float
    batch: int
    lr: float
    phase_index: int


@dataclass(frozen=True)
class Schedule:
    """The schedule of one run: `config` (variants.Config) for `total_images` images.

    growing_fraction: share of the budget by which growing must complete.
    """

    config: object
    total_images: int
    growing_fraction: float = 0.5

    def __post_init__(self):
        if self.total_images <= 0:
            raise ValueError(f"the training budget must be > 0 images, got {self.total_images}")
        if not 0 < self.growing_fraction <= 1:
            raise ValueError(f"growing_fraction must be in (0, 1], got {self.growing_fraction}")

    @property
    def num_growths(self) -> int:
        """Resolutions added after the start (0 without growing)."""
        if not self.config.growing:
            return 0
        return int(math.log2(self.config.resolution // self.config.growing_start_res))

    @property
    def phase_images(self) -> int:
        """Images per stabilisation or fade-in phase: the config's phase length, shortened so that
        the 2 * num_growths phases before full resolution fit into growing_fraction of the budget."""
        if self.num_growths == 0:
            return 0
        budget = self.growing_fraction * self.total_images / (2 * self.num_growths)
        return max(1, int(min(self.config.growing_phase_kimg * 1000, budget)))

    def batch_at(self, resolution: int) -> int:
        if not self.config.growing:
            return self.config.batch_size
        table = self.config.growing_batch_by_res
        scale = self.config.batch_size / schedule_value(table, self.config.resolution)
        return max(1, round(schedule_value(table, resolution) * scale))

    def lr_at(self, resolution: int) -> float:
        if not self.config.growing:
            return self.config.lr
        return float(schedule_value(self.config.growing_lr_by_res, resolution))

    def state_at(self, images_shown: int) -> TrainingState:
        """The growth state, batch and lr in force after `images_shown` images."""
        if self.num_growths == 0:
            growth, phase_index = growth_at(self.config, 0.0), 0
        else:  # variants' schedule with the phase length scaled to this budget
            scaled = self.config.replace(growing_phase_kimg=self.phase_images / 1000)
            growth = growth_at(scaled, images_shown / 1000)
            phase_index = min(images_shown // self.phase_images, 2 * self.num_growths)
        lod = level_of_detail(growth, self.config.resolution)
        return TrainingState(resolution=growth.resolution, alpha=float(growth.alpha), lod=lod,
                             batch=self.batch_at(growth.resolution), lr=self.lr_at(growth.resolution),
                             phase_index=int(phase_index))

    def batch_for_step(self, images_shown: int) -> int:
        """The next minibatch size, clipped so that the run ends exactly at `total_images`."""
        return min(self.state_at(images_shown).batch, self.total_images - images_shown)


def lazy_ratio(interval: int) -> float:
    """c = k / (k + 1) for a regulariser evaluated every k > 1 minibatches; 1 when not lazy."""
    if interval < 1:
        raise ValueError(f"a regularisation interval must be >= 1 minibatch, got {interval}")
    return interval / (interval + 1) if interval > 1 else 1.0


def lazy_adam_settings(lr: float, betas: tuple[float, float],
                       interval: int) -> tuple[float, tuple[float, float]]:
    """(lr * c, (beta1 ** c, beta2 ** c)) for a network regularised every `interval` minibatches."""
    c = lazy_ratio(interval)
    return float(lr * c), (float(betas[0] ** c), float(betas[1] ** c))


def is_lazy(interval: int, weight: float) -> bool:
    """Whether a regulariser of this interval and weight runs as its own, occasional phase."""
    return weight > 0 and interval > 1


def optimizer_intervals(config) -> tuple[int, int]:
    """(G's, D's) interval k of the lazy Adam correction: (pl_interval, r1_interval) as soon as either
    regulariser is lazy, whether or not G has a regulariser; (1, 1) otherwise (configs A, B).

    official: training/training_loop.py (TF StyleGAN2), `lazy_regularization` scales G_opt by
    G_reg_interval and D_opt by D_reg_interval; run_training.py turns it off for configs A and B only.
    """
    lazy = is_lazy(config.r1_interval, config.r1_gamma) or is_lazy(config.pl_interval, config.pl_weight)
    return (config.pl_interval, config.r1_interval) if lazy else (1, 1)


def ema_beta(batch: int, ema_kimg: float, ema_rampup: float | None = None, images_shown: int = 0) -> float:
    """Per-step decay of G's weight average with a half-life of `ema_kimg` thousand images.

    With `ema_rampup` the half-life is min(ema_kimg * 1000, images_shown * ema_rampup) images, where
    images_shown counts the images before this step (official: stylegan2-ada-pytorch
    training/training_loop.py, G_ema update); the first step then copies G.
    """
    half_life = ema_kimg * 1000
    if ema_rampup is not None:
        half_life = min(half_life, images_shown * ema_rampup)
    if half_life <= 0:
        return 0.0
    return 0.5 ** (batch / half_life)
