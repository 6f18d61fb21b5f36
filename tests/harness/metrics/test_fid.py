"""Frechet distance against closed forms and an independent scipy computation."""

import tracemalloc

import numpy as np
import pytest
import scipy.linalg

from harness.metrics import RunningStatistics, feature_statistics, fid_from_features, frechet_distance
from harness.metrics.fid import trace_sqrt_product


def _scipy_frechet(mu1, sigma1, mu2, sigma2) -> float:
    """The textbook formula with scipy's general matrix square root (real part taken)."""
    root = scipy.linalg.sqrtm(sigma1 @ sigma2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * np.real(root)))


def _random_covariance(rng, dim, rank=None):
    factor = rng.standard_normal((dim, rank or dim))
    return factor @ factor.T / dim


def test_diagonal_covariances_match_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, -1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-12)


def test_commuting_covariances_match_closed_form():
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    eig1, eig2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    sigma1, sigma2 = rotation @ np.diag(eig1) @ rotation.T, rotation @ np.diag(eig2) @ rotation.T
    expected = np.sum((np.sqrt(eig1) - np.sqrt(eig2)) ** 2)
    assert frechet_distance(np.zeros(6), sigma1, np.zeros(6), sigma2) == pytest.approx(expected, rel=1e-10)


def test_scalar_gaussians():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s.
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


@pytest.mark.parametrize("dim", [2, 16, 64])
def test_full_covariances_match_scipy(dim):
    rng = np.random.default_rng(dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    sigma1, sigma2 = _random_covariance(rng, dim), _random_covariance(rng, dim)
    expected = _scipy_frechet(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)


def test_near_singular_covariances_stay_finite_and_match_scipy():
    # Fewer samples than dimensions: rank-deficient covariances, where sqrtm leaves complex round-off.
    rng = np.random.default_rng(3)
    sigma1, sigma2 = _random_covariance(rng, 32, rank=5), _random_covariance(rng, 32, rank=7)
    value = frechet_distance(np.zeros(32), sigma1, np.ones(32), sigma2)
    assert np.isfinite(value)
    assert value == pytest.approx(_scipy_frechet(np.zeros(32), sigma1, np.ones(32), sigma2), rel=1e-5)


def test_trace_sqrt_of_a_matrix_with_itself_is_its_trace():
    sigma = _random_covariance(np.random.default_rng(4), 10)
    assert trace_sqrt_product(sigma, sigma) == pytest.approx(np.trace(sigma), rel=1e-10)


def test_a_set_against_itself_gives_zero():
    features = np.random.default_rng(5).standard_normal((200, 24)).astype(np.float32)
    assert fid_from_features(features, features) == pytest.approx(0.0, abs=1e-8)


def test_distance_grows_with_mean_shift_and_is_symmetric():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((500, 8)), rng.standard_normal((500, 8)) + 2.0
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-8)
    assert fid_from_features(a, b) == pytest.approx(8 * 4.0, rel=0.15)  # ||shift||^2 dominates


def test_feature_statistics_shapes_and_errors():
    mu, sigma = feature_statistics(np.ones((5, 3)))
    assert mu.shape == (3,) and sigma.shape == (3, 3)
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        feature_statistics(np.ones(5))
    with pytest.raises(ValueError, match="shapes do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def _feature_stream(num_rows, dim=32, batch=100, seed=0):
    """Batches of synthetic features with a large mean and uneven spread (a stand-in for Inception's)."""
    rng = np.random.default_rng(seed)
    scales = np.linspace(0.1, 3.0, dim)
    for start in range(0, num_rows, batch):
        yield rng.standard_normal((min(batch, num_rows - start), dim)) * scales + 5.0


@pytest.mark.parametrize("batch", [7, 100, 3000])
def test_running_statistics_equal_the_all_in_memory_mean_and_covariance(batch):
    stream = list(_feature_stream(3000, batch=batch))
    running = RunningStatistics(block_rows=256)
    for features in stream:
        running.update(features)
    mean, cov = running.mean_cov()
    expected_mean, expected_cov = feature_statistics(np.concatenate(stream))
    np.testing.assert_allclose(mean, expected_mean, rtol=0, atol=1e-10)
    np.testing.assert_allclose(cov, expected_cov, rtol=0, atol=1e-10)
    assert running.count == 3000


def test_running_statistics_do_not_depend_on_the_batching():
    whole = np.concatenate(list(_feature_stream(1000)))
    results = []
    for batch in (1, 64, 1000):
        running = RunningStatistics(block_rows=128)
        for start in range(0, 1000, batch):
            running.update(whole[start:start + batch])
        results.append(running.mean_cov())
    for mean, cov in results[1:]:
        assert np.array_equal(mean, results[0][0]) and np.array_equal(cov, results[0][1])


def test_running_statistics_memory_does_not_grow_with_the_number_of_features():
    def peak_bytes(num_rows):
        tracemalloc.start()
        running = RunningStatistics(block_rows=256)
        for features in _feature_stream(num_rows, dim=64):
            running.update(features)
        running.mean_cov()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak_bytes(2_000), peak_bytes(40_000)
    assert large < 1.2 * small  # 20x the rows, the same memory
    assert large < 40_000 * 64 * 8 / 10  # far below holding the features (20 MB as float64)


def test_running_statistics_need_two_rows_and_a_matrix():
    running = RunningStatistics()
    with pytest.raises(ValueError, match="features must be"):
        running.update(np.zeros(3))
    running.update(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        running.mean_cov()
