"""Metrics of the paper's tables (SPEC section 4): FID, KID, precision/recall, PPL, and their networks.

Pure functions on features: `frechet_distance`, `kernel_inception_distance`, `precision_recall`;
`evaluate(G, dataset, metric)` for a generator; `compute(run_dir, metrics)` for a run directory
(appends to `<run>/metrics.jsonl`). CLI: `python -m harness metrics --run <dir> --metrics fid,kid,pr,ppl`.
"""

from harness.metrics.compute import (
    METRICS,
    NOT_COMPARABLE,
    PUBLISHED_NETWORKS,
    MetricOptions,
    compute,
    evaluate,
    evaluate_many,
)
from harness.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from harness.metrics.kid import kernel_inception_distance
from harness.metrics.ppl import filtered_mean, path_lengths
from harness.metrics.pr import precision_recall

__all__ = [
    "METRICS", "NOT_COMPARABLE", "PUBLISHED_NETWORKS", "MetricOptions", "compute", "evaluate",
    "evaluate_many", "feature_statistics", "fid_from_features", "filtered_mean", "frechet_distance",
    "kernel_inception_distance", "path_lengths", "precision_recall",
]
