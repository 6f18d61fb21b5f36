"""KID: the unbiased polynomial-kernel MMD against a loop-by-loop definition."""

import itertools

import numpy as np
import pytest

from harness.metrics import kernel_inception_distance, kid
from harness.metrics.kid import polynomial_mmd2_unbiased


def _mmd2_by_definition(x, y):
    kernel = lambda a, b: (a @ b / x.shape[1] + 1) ** 3
    m = len(x)
    pairs = list(itertools.permutations(range(m), 2))
    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i, j in pairs) / (m * (m - 1))
    cross = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return within - 2 * cross


def test_unbiased_mmd_matches_definition():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 5)), rng.standard_normal((7, 5)) + 0.3
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(_mmd2_by_definition(x, y), rel=1e-10)


def test_kid_near_zero_for_same_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(1)
    real = rng.standard_normal((400, 16))
    same = rng.standard_normal((400, 16))
    shifted = rng.standard_normal((400, 16)) + 1.0
    kid_same = kernel_inception_distance(real, same, num_subsets=20, max_subset_size=200)
    kid_shifted = kernel_inception_distance(real, shifted, num_subsets=20, max_subset_size=200)
    assert abs(kid_same) < 0.05 * kid_shifted
    assert kid_shifted > 0


def test_kid_with_one_subset_of_everything_is_the_mmd():
    rng = np.random.default_rng(2)
    real, fake = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    # With the whole set as the one subset, the random choice only permutes, which MMD ignores.
    expected = polynomial_mmd2_unbiased(fake, real)
    assert kernel_inception_distance(real, fake, num_subsets=1, max_subset_size=30) == pytest.approx(expected)


def test_kid_rejects_mismatched_features():
    with pytest.raises(ValueError, match="same D"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def _kid_subset_by_subset(real, fake, num_subsets, subset_size, seed=0):
    """The estimator computed the plain way: each subset's kernels from its own features."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = fake[rng.choice(len(fake), subset_size, replace=False)]
        y = real[rng.choice(len(real), subset_size, replace=False)]
        values.append(polynomial_mmd2_unbiased(x, y))
    return sum(values) / num_subsets


@pytest.mark.parametrize("sizes", [(64, 64), (70, 50)])
def test_kid_from_whole_set_kernels_equals_subset_by_subset(sizes, monkeypatch):
    """20 subsets of 40 of 64: the whole-set kernels are cheaper, and give the same estimate."""
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((sizes[0], 8)), rng.standard_normal((sizes[1], 8)) + 0.2
    expected = _kid_subset_by_subset(real, fake, 20, 40, seed=5)
    assert kernel_inception_distance(real, fake, num_subsets=20, max_subset_size=40, seed=5) == pytest.approx(
        expected, rel=1e-12)
    monkeypatch.setattr(kid, "KERNEL_MEMORY_BYTES", 0)  # the subset-by-subset path
    assert kernel_inception_distance(real, fake, num_subsets=20, max_subset_size=40, seed=5) == pytest.approx(
        expected, rel=1e-12)
