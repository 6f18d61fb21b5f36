"""`python -m harness metrics --run <run-dir> --metrics fid,kid,pr,ppl`: evaluate a run's snapshot.

Every flag but --run, --metrics, --snapshot and --recompute is generated from a MetricOptions
field: its type, default, choices and help live with the field.
"""

import argparse
import json
import os
import sys

from common.cli import add_option_arguments, option_values
from harness.metrics.metric import METRICS
from harness.metrics.options import MetricOptions, feature_choices
from harness.metrics.run_dir import compute

OPTION_FLAGS = ("num_samples", "num_real", "repeats", "seed", "features", "pr_precision", "ppl_noise",
                "weights_dir", "device", "feature_input_size", "batch_size", "cache_dir")


def _metric_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", "--network", dest="run", required=True,
                        help="run directory (holds snapshots/, options.json), or a network folder written by "
                             "import-official")
    parser.add_argument("--metrics", type=_metric_list, default=["fid"],
                        help=f"comma list of {','.join(METRICS)}")
    add_option_arguments(parser, MetricOptions, only=OPTION_FLAGS, defaults={"device": "auto"},
                         choices={"features": feature_choices()})
    parser.add_argument("--recompute", action="store_true",
                        help="replace rows already stored with the same key (default: skip them)")
    parser.add_argument("--snapshot", type=float, default=None, help="snapshot kimg (default: latest)")


def run(args: argparse.Namespace) -> int:
    is_rank0 = os.environ.get("RANK", "0") == "0"  # under torchrun every rank computes; rank 0 reports
    try:
        options = MetricOptions(**option_values(args, MetricOptions), progress=True)
        rows = compute(args.run, args.metrics, options, snapshot=args.snapshot, recompute=args.recompute,
                       log=(lambda line: print(line, file=sys.stderr)) if is_rank0 else (lambda line: None))
    except (OSError, ValueError) as error:
        print(f"metrics: error: {error}", file=sys.stderr)
        return 2
    if not is_rank0:
        return 0
    for row in rows:
        keys = ("metric", "value", "std", "precision", "recall", "num_samples", "real_samples", "real_rule",
                "snapshot_kimg", "feature_network", "comparability", "label")
        summary = {key: row.get(key) for key in keys}
        print(json.dumps({k: v for k, v in summary.items() if v is not None}))
    return 0
