"""Metrics of the paper's tables (SPEC section 4): FID, KID, precision/recall, PPL, and their networks.

Pure functions on features: `frechet_distance`, `kernel_inception_distance`, `precision_recall`;
each metric is a class registered in `METRICS` with its properties (`register_metric`, metric.py);
`evaluate(G, dataset, metric)` for a generator; `compute(run_dir, metrics, MetricOptions(...))` for a
run directory (adds keyed rows to `<run>/metrics.jsonl`; `unique_rows` reads them one per key). CLI:
`python -m harness metrics --run <dir> --metrics fid,kid,pr,ppl`.
"""

from harness.metrics.evaluate import APPROXIMATELY_COMPARABLE, NOT_COMPARABLE, evaluate, evaluate_many
from harness.metrics.features import FEATURE_NETWORKS, PERCEPTUAL_DISTANCES
from harness.metrics.fid import RunningStatistics, feature_statistics, fid_from_features, frechet_distance
from harness.metrics.kid import kernel_inception_distance
from harness.metrics.metric import METRICS, Metric, get_metric, register_metric
from harness.metrics.options import MetricOptions, published_networks
from harness.metrics.ppl import filtered_mean, path_lengths
from harness.metrics.pr import precision_recall
from harness.metrics.rows import metric_row_key, unique_rows
from harness.metrics.run_dir import compute

__all__ = [
    "APPROXIMATELY_COMPARABLE", "METRICS", "Metric", "MetricOptions", "NOT_COMPARABLE", "RunningStatistics",
    "compute", "evaluate", "evaluate_many", "feature_statistics", "fid_from_features", "filtered_mean",
    "frechet_distance", "get_metric", "kernel_inception_distance", "metric_row_key", "path_lengths",
    "precision_recall", "published_networks", "register_metric", "unique_rows",
]

# Every metric and network module is imported above: later registrations would change what a
# running comparison measures, so they are refused (a new one is imported here, docs/architecture.md).
for _registry in (METRICS, FEATURE_NETWORKS, PERCEPTUAL_DISTANCES):
    _registry.freeze()
