"""`python -m harness ablate`: train and measure the paper's suites at a scale preset.

Everything a command names (suite, scale fields, datasets, executor options, each run's config)
is checked before anything trains; a bad value exits with status 2 and one line naming it.
"""

import json
import sys
from pathlib import Path

from common.options import parse_assignment
from harness.suites.scales import SCALES, Scale, get_scale, source_is_available
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
        help="override a scale value (JSON), e.g. --set kimg=2 --set seeds=3 --set max_evaluations=1",
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
    parser.add_argument(
        "--dry-run", action="store_true",
        help="print every run the suites would train, its resolved config and training options, as one "
        "JSON object per line; train nothing (a column without --data shows a placeholder)",
    )
    add_executor_arguments(parser)


# Executor options: (flag, executor it belongs to, its field there, type, help).
EXECUTOR_OPTIONS = (
    ("--jobs", "local", "jobs", int, "parallel worker processes (default: one per GPU, else per CPU core)"),
    ("--ray-address", "ray", "address", str, "Ray cluster ('auto' on a cluster node; default: start one)"),
    ("--ray-cpus-per-task", "ray", "num_cpus_per_task", float, "CPUs (torch threads) per run (default 1)"),
    ("--ray-gpus-per-task", "ray", "num_gpus_per_task", float, "GPUs per run (default 0)"),
    ("--slurm-partition", "slurm", "partition", str, "Slurm partition (default: the cluster's)"),
    ("--slurm-gpus-per-node", "slurm", "gpus_per_node", int, "GPUs per run (default 1)"),
    ("--slurm-cpus-per-task", "slurm", "cpus_per_task", int, "CPUs (and torch threads) per run (default 8)"),
    ("--slurm-timeout-min", "slurm", "timeout_min", int, "job time limit; it requeues from its checkpoint"),
    ("--slurm-folder", "slurm", "folder", Path, "submitit logs and job files, on the shared filesystem"),
)


def add_executor_arguments(parser) -> None:
    from harness.suites.executors import EXECUTORS  # light: ray and submitit load when an executor starts

    parser.add_argument("--executor", default="local", choices=tuple(EXECUTORS.names()),
                        help="where the runs execute")
    for flag, _, _, kind, help_text in EXECUTOR_OPTIONS:
        parser.add_argument(flag, type=kind, help=help_text)
    parser.add_argument(
        "--processes-per-run", "--gpus-per-run", type=int, default=1, metavar="N",
        help="train and measure each run on N processes of one machine, one per GPU, through torchrun "
        "(the paper: 8); give each task as many GPUs (--ray-gpus-per-task, --slurm-gpus-per-node)",
    )
    parser.add_argument(
        "--stage-dir",
        type=Path,
        help="each run writes to <stage-dir>/<run-id>/ (seen by every task and this machine); finished "
        "runs are merged into --results when all tasks have ended",
    )


def executor_from_args(args):
    """The executor --executor names, with its options; an option of another executor is an error."""
    from harness.suites.executors import get_executor

    options = {}
    for flag, name, field, _, _ in EXECUTOR_OPTIONS:
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is None:
            continue
        if name != args.executor:
            raise ValueError(f"{flag} applies to --executor {name}, not --executor {args.executor}")
        options[field] = value
    if args.executor == "local" and "jobs" not in options:
        from harness.suites.executors import auto_jobs

        options["jobs"] = auto_jobs(args.processes_per_run)
    return get_executor(args.executor, stage_dir=args.stage_dir, processes_per_run=args.processes_per_run,
                        **options)


def scale_from_args(args):
    overrides = dict(parse_assignment(text, Scale) for text in args.overrides)
    datasets = dict(overrides.pop("datasets", {}) or {})
    if args.datasets:
        try:
            datasets.update(json.loads(args.datasets.read_text()))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"--datasets {args.datasets}: cannot read a JSON object of column -> path "
                             f"({error})") from None
    for text in args.data:
        column, sep, path = text.partition("=")
        if not sep:
            raise ValueError(f"--data {text!r} is not of the form COLUMN=PATH")
        datasets[column.strip()] = path.strip()
    return get_scale(args.scale, datasets=datasets, **overrides)


def dry_run(suites, scale, results: Path) -> None:
    """One JSON line per planned run (harness.suites.runner.plan_records); on stderr, the finished runs
    in `results` trained with other settings, which would stop the real command (driver.check_plan)."""
    from harness.suites.runner import plan_records, plan_runs, stale_finished_runs

    runs = plan_runs(suites, scale, source_is_available,
                     missing_source=lambda column: f'<not given: --data "{column}=PATH">')
    records = plan_records(runs, scale, results, suites)
    for record in records:
        print(json.dumps(record))
    for line in stale_finished_runs(records):
        print(f"ablate: this command would stop: finished with other settings: {line}", file=sys.stderr)


def run(args) -> int:
    from harness.suites.driver import check_plan, run_suites
    from harness.suites.executors import RunsFailed
    from harness.suites.tables import get_suites

    try:
        suites = get_suites(args.suite)
        scale = scale_from_args(args)
        if args.dry_run:
            dry_run(suites, scale, args.results)
            return 0
        executor = executor_from_args(args)
        check_plan(suites, scale, args.results, source_is_available)
    except (ValueError, TypeError) as error:
        print(f"ablate: error: {error}", file=sys.stderr)
        return 2
    print(f"scale {scale.name}: {json.dumps(scale.to_dict())}")
    try:
        run_suites(suites, scale, args.results, is_installed=source_is_available, executor=executor)
    except RunsFailed as error:
        print(f"ablate: {error}", file=sys.stderr)
        return 1
    return 0
