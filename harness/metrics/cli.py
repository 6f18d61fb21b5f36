"""`python -m harness metrics --run <run-dir> --metrics fid,kid,pr,ppl`: evaluate a run's snapshot."""

import argparse
import json
import os
import sys

from harness.metrics.compute import DEFAULT_NUM_SAMPLES, FEATURE_CHOICES, METRICS, compute
from harness.metrics.ppl import NOISE_CHOICES
from harness.metrics.pr import PRECISIONS


def _metric_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    return names


def _num_real(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or 'all', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", "--network", dest="run", required=True,
                        help="run directory (holds snapshots/, options.json), or a network folder written by "
                             "import-official")
    parser.add_argument("--metrics", type=_metric_list, default=["fid"], help="comma list of fid,kid,pr,ppl")
    parser.add_argument("--num-samples", type=int, default=DEFAULT_NUM_SAMPLES,
                        help="generated samples per evaluation (50000 at paper scale)")
    parser.add_argument("--num-real", type=_num_real, default=None,
                        help="reals: the first N in the dataset's order (default: num-samples, capped at the "
                             "dataset, the paper's fid50k), or 'all' (fid50k_full)")
    parser.add_argument("--repeats", type=int, default=1, help="evaluations with different seeds (mean, std)")
    parser.add_argument("--seed", type=int, default=0,
                        help="first seed (sample i of repeat r: seed + r*N + i)")
    parser.add_argument("--features", choices=FEATURE_CHOICES, default="auto",
                        help="feature network; auto = published file if cached, else efficientnet-lite0")
    parser.add_argument("--pr-precision", choices=PRECISIONS, default="official",
                        help="precision/recall arithmetic: official (the paper's float16) or exact (float64)")
    parser.add_argument("--ppl-noise", choices=NOISE_CHOICES, default="fresh",
                        help="PPL noise inputs: fresh per batch (official), frozen, or none")
    parser.add_argument("--recompute", action="store_true",
                        help="replace rows already stored with the same key (default: skip them)")
    parser.add_argument("--weights-dir", default=None,
                        help="folder of published weight files (default $HARNESS_WEIGHTS_DIR or "
                             "~/.cache/stylegan2-ablations/weights)")
    parser.add_argument("--snapshot", type=float, default=None, help="snapshot kimg (default: latest)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--feature-input-size", type=int, default=None,
                        help="resize images to this side for the feature network (recorded with the numbers)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cache-dir", default=None,
                        help="real-feature cache root (default $HARNESS_CACHE_DIR)")


def run(args: argparse.Namespace) -> int:
    is_rank0 = os.environ.get("RANK", "0") == "0"  # under torchrun every rank computes; rank 0 reports
    try:
        rows = compute(
            args.run, args.metrics, snapshot=args.snapshot, num_samples=args.num_samples,
            repeats=args.repeats, features=args.features, device=args.device, weights_dir=args.weights_dir,
            feature_input_size=args.feature_input_size, num_real=args.num_real, seed=args.seed,
            batch_size=args.batch_size, cache_dir=args.cache_dir, progress=True,
            pr_precision=args.pr_precision, ppl_noise=args.ppl_noise, recompute=args.recompute,
            log=(lambda line: print(line, file=sys.stderr)) if is_rank0 else (lambda line: None),
        )
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
