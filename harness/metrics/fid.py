"""Frechet Inception Distance (Heusel et al. 2017): ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

Three pure steps: features [N, D] -> statistics (mu [D], sigma [D, D]) -> distance. The trace of the
matrix square root is computed as Tr (S1^(1/2) S2 S1^(1/2))^(1/2), the square root of a symmetric
positive semi-definite matrix: its eigenvalues are real and clipped at 0, so near-singular covariances
(fewer samples than dimensions) and the complex round-off of a general sqrtm cannot occur.
"""

import numpy as np

from harness.metrics.metric import Metric, register_metric

STATISTICS_BLOCK_ROWS = 1024


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] (float64) of features [N, D]."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be [N, D] with N >= 2, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


class RunningStatistics:
    """Mean and unbiased covariance of a stream of features in O(D^2) memory, whatever the count N.

    Keeps float64 running sums of the features and of their outer products, as stylegan2-ada-pytorch
    metrics/metric_utils.py FeatureStats does (capture_mean_cov), but of the features minus a shift (the
    mean of the first block) so the covariance does not lose digits to a large mean, and divided by
    N - 1 as TF StyleGAN2 metrics/frechet_inception_distance.py's np.cov. Rows are summed in fixed
    blocks of `block_rows`, so the result does not depend on how the stream was batched.
    """

    def __init__(self, block_rows: int = STATISTICS_BLOCK_ROWS):
        self.block_rows, self.count = block_rows, 0
        self.pending: list[np.ndarray] = []
        self.shift = self.sum = self.outer = None

    def update(self, features) -> None:
        """Add features [B, D] (any float dtype)."""
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError(f"features must be [B, D], got shape {features.shape}")
        self.pending.append(features.astype(np.float64))
        self.count += len(features)
        while sum(len(part) for part in self.pending) >= self.block_rows:
            rows = np.concatenate(self.pending)
            self._add_block(rows[:self.block_rows])
            self.pending = [rows[self.block_rows:]]

    def _add_block(self, rows: np.ndarray) -> None:
        if self.shift is None:
            self.shift = rows.mean(axis=0)
        self.sum, self.outer = _add_centred(rows - self.shift, self.sum, self.outer)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean [D] and unbiased covariance [D, D] (float64) of every row added so far."""
        if self.count < 2:
            raise ValueError(f"statistics need at least 2 feature rows, got {self.count}")
        total, outer, shift = self.sum, self.outer, self.shift
        rest = [part for part in self.pending if len(part)]
        if rest:  # the last, partial block: summed here, the stored sums stay as they are
            rows = np.concatenate(rest)
            shift = rows.mean(axis=0) if shift is None else shift
            total, outer = _add_centred(rows - shift, total, outer)
        centred_mean = total / self.count
        cov = (outer - self.count * np.outer(centred_mean, centred_mean)) / (self.count - 1)
        return shift + centred_mean, cov


def _add_centred(centred: np.ndarray, total, outer) -> tuple[np.ndarray, np.ndarray]:
    """(total + column sums, outer + centred^T centred) as new arrays; None sums start at 0."""
    block_sum, block_outer = centred.sum(axis=0), centred.T @ centred
    return (block_sum if total is None else total + block_sum,
            block_outer if outer is None else outer + block_outer)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues -> 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (sigma1 sigma2)^(1/2) for covariance matrices, via the symmetric form S1^(1/2) S2 S1^(1/2)."""
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2); mu [D], sigma [D, D]."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes do not match: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / "
                         f"{sigma2.shape}; expected mu [D] and sigma [D, D]")
    mean_term = float(np.square(mu1 - mu2).sum())
    trace_term = float(np.trace(sigma1) + np.trace(sigma2)) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return max(mean_term + trace_term, 0.0)


def fid_from_features(real_features, fake_features) -> float:
    """FID of two feature sets [N, D] and [M, D]."""
    return frechet_distance(*feature_statistics(real_features), *feature_statistics(fake_features))


@register_metric("fid", higher_is_better=False, features="inception")
class FID(Metric):
    """Reals kept as running statistics (mean, covariance), generated features [N, D] -> distance."""

    def real_kind(self, count: int, options) -> str:
        return "fid-statistics"

    def score(self, real, fake, options, repeat: int) -> dict:
        return {"value": frechet_distance(real["mean"], real["cov"], *feature_statistics(fake))}
