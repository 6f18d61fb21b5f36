"""`python -m harness ablate`: train and measure the paper's suites at a scale preset."""

import json
from pathlib import Path

from harness.suites.scales import SCALES, get_scale, parse_override
from harness.suites.tables import DATASET_COLUMNS, SUITES


def add_arguments(parser) -> None:
    parser.add_argument("--suite", default="all", help=f"all, or one of: {', '.join(SUITES)}")
    parser.add_argument("--scale", default="smoke", choices=list(SCALES), help="scale preset")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a scale value, e.g. --set kimg=2 --set repeats=1",
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="COLUMN=PATH",
        help=f"the source for a paper dataset column ({', '.join(DATASET_COLUMNS)})",
    )
    parser.add_argument("--datasets", type=Path, help="JSON file mapping dataset columns to sources")
    parser.add_argument("--results", type=Path, default=Path("results"), help="results store root")


def scale_from_args(args):
    overrides = dict(parse_override(text) for text in args.overrides)
    datasets = dict(overrides.pop("datasets", {}) or {})
    if args.datasets:
        datasets.update(json.loads(args.datasets.read_text()))
    for text in args.data:
        column, sep, path = text.partition("=")
        if not sep:
            raise ValueError(f"--data {text!r} is not of the form COLUMN=PATH")
        datasets[column.strip()] = path.strip()
    unknown = sorted(set(datasets) - set(DATASET_COLUMNS))
    if unknown:
        raise ValueError(f"unknown dataset column(s) {unknown}; known: {', '.join(DATASET_COLUMNS)}")
    return get_scale(args.scale, datasets=datasets, **overrides)


def run(args) -> int:
    from harness.data import is_available
    from harness.suites.runner import run_suites
    from harness.suites.tables import get_suites

    suites = get_suites(args.suite)
    scale = scale_from_args(args)
    print(f"scale {scale.name}: {json.dumps(scale.to_dict())}")
    run_suites(suites, scale, args.results, is_installed=is_available)
    return 0
