"""Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with k(x, y) = (x.y / D + 1)^3.

Averaged over `num_subsets` random subsets of `subset_size` = min(N, M, max_subset_size) samples of each
set, as in the StyleGAN2-ADA metric (100 subsets of at most 1000).
"""

import numpy as np

HIGHER_IS_BETTER = False


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
