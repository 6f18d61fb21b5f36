"""Frechet distance against closed forms and an independent scipy computation."""

import numpy as np
import pytest
import scipy.linalg

from harness.metrics import feature_statistics, fid_from_features, frechet_distance
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
