"""Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3.

Averaged over `num_subsets` random subsets of `subset_size` = min(N, M, max_subset_size) samples of each
set, as in the StyleGAN2-ADA metric (100 subsets of at most 1000).
"""

import numpy as np

from harness.metrics.metric import Metric, register_metric

KID_SAMPLE_SEED = 0


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of x [m, D] and y [m, D] with the cubic polynomial kernel (diagonals excluded)."""
    dim, m = x.shape[1], len(x)
    k_xx = (x @ x.T / dim + 1) ** 3
    k_yy = (y @ y.T / dim + 1) ** 3
    k_xy = (x @ y.T / dim + 1) ** 3
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(real_features, fake_features, *, num_subsets: int = 100,
                              max_subset_size: int = 1000, seed: int = 0) -> float:
    """KID of real [N, D] and fake [M, D] features: mean unbiased MMD^2 over random subsets."""
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be [N, D] and [M, D] with the same D, got {real.shape} and "
                         f"{fake.shape}")
    subset_size = min(len(real), len(fake), max_subset_size)
    if subset_size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {len(real)} and {len(fake)}")
    if subset_size == len(real) == len(fake):
        num_subsets = 1  # every subset would be the whole of both sets: the same value each time
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = fake[rng.choice(len(fake), subset_size, replace=False)]
        y = real[rng.choice(len(real), subset_size, replace=False)]
        total += polynomial_mmd2_unbiased(x, y)
    return total / num_subsets


def kid_selection(count: int, cap: int) -> np.ndarray | None:
    """Row indices KID keeps of `count` real features: None = all (count <= cap), else a seeded sorted
    uniform sample of `cap`. (Official stylegan2-ada-pytorch metrics/kernel_inception_distance.py keeps
    every real feature, up to 1M, and draws each subset from all; a subset drawn from a uniform sample
    is still a uniform subset of all, so KID's expectation is unchanged.)"""
    if count <= cap:
        return None
    return np.sort(np.random.default_rng(KID_SAMPLE_SEED).choice(count, cap, replace=False))



@register_metric("kid", higher_is_better=False, features="inception")
class KID(Metric):
    """Reals kept as features (a seeded sample of `kid_cap` when there are more), MMD^2 over subsets."""

    def real_kind(self, count: int, options) -> str:
        selection = kid_selection(count, options.kid_cap)
        return "features-all" if selection is None else f"features-sample{len(selection)}"

    def protocol(self, options, count: int | None) -> dict:
        return {"kid_subsets": options.kid_subsets, "kid_subset_size": options.kid_subset_size,
                "kid_real_features": min(count, options.kid_cap)}

    def score(self, real, fake, options, repeat: int) -> dict:
        return {"value": kernel_inception_distance(real["features"], fake, num_subsets=options.kid_subsets,
                                                   max_subset_size=options.kid_subset_size,
                                                   seed=options.seed + repeat)}
