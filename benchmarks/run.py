"""`tox -e bench`: run the benchmark suites, save the JSON, and fail on a regression against the baseline.

    python -m benchmarks.run [--save-baseline] [--fail-threshold 25] [--select auto|cpu|gpu|all]
                             [pytest arguments ...]

Results go to `results/bench/<machine kind>/<machine id>/NNNN_<commit>_<time>.json` (pytest-benchmark
autosave, with machine info, GPU and package versions). When that folder holds a committed
baseline (`NNNN_baseline.json`, the newest one wins), the run is compared with it and fails when
any benchmark's mean time is more than `--fail-threshold` percent slower
(`--benchmark-compare-fail=mean:<threshold>%`). `--save-baseline` saves the run as the new
baseline instead of comparing. Selection: on a CUDA machine the GPU set (marker `gpu`), else the
CPU reduced set; `--select all` runs both. A Markdown summary of the saved run is printed last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from pytest_benchmark.utils import get_machine_id

from benchmarks.machine import machine_kind
from benchmarks.summarize import summarize

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_ROOT = REPO_ROOT / "results" / "bench"
BASELINE_NAME = "baseline"
SELECTIONS = {"cpu": "not gpu", "gpu": "gpu", "all": None}


def storage_dir(root: Path = BENCH_ROOT, kind: str | None = None) -> Path:
    """`<root>/<machine kind>` (root: results/bench): pytest-benchmark adds `<machine id>/` below it."""
    return Path(root) / (kind or machine_kind())


def saved_runs(storage: Path) -> list[Path]:
    """This machine id's saved runs, oldest first (by their NNNN_ number)."""
    folder = storage / get_machine_id()
    return sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.json")) if folder.is_dir() else []


def find_baseline(storage: Path) -> Path | None:
    """The newest `NNNN_baseline.json` for this machine kind and id, or None."""
    baselines = [path for path in saved_runs(storage) if path.stem.endswith(f"_{BASELINE_NAME}")]
    return baselines[-1] if baselines else None


def pytest_command(*, storage: Path, baseline: Path | None, save_baseline: bool, fail_threshold: int,
                   marker: str | None, extra: list[str]) -> list[str]:
    command = [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-enable", "--benchmark-only",
               f"--benchmark-storage=file://{storage}", "--benchmark-group-by=group", "-q"]
    if marker is not None:
        command += ["-m", marker]
    if save_baseline:
        command.append(f"--benchmark-save={BASELINE_NAME}")
    else:
        command.append("--benchmark-autosave")
        if baseline is not None:
            command += [f"--benchmark-compare={baseline}", f"--benchmark-compare-fail=mean:{fail_threshold}%"]
    return command + extra


def resolve_marker(select: str) -> str | None:
    if select == "auto":
        import torch

        select = "gpu" if torch.cuda.is_available() else "cpu"
    return SELECTIONS[select]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save-baseline", action="store_true", help="save this run as the baseline")
    parser.add_argument("--fail-threshold", type=int, default=25, metavar="PERCENT",
                        help="fail when a mean time regresses by more than this (default 25)")
    parser.add_argument("--select", choices=("auto", *SELECTIONS), default="auto",
                        help="auto: the GPU set with CUDA, else the CPU reduced set")
    parser.add_argument("--storage", type=Path, default=BENCH_ROOT, metavar="DIR",
                        help="root of the saved runs and baselines (default results/bench)")
    args, extra = parser.parse_known_args(argv)
    if args.fail_threshold <= 0:
        parser.error(f"--fail-threshold must be a positive percentage, got {args.fail_threshold}")
    storage = storage_dir(args.storage.resolve())
    baseline = None if args.save_baseline else find_baseline(storage)
    if args.save_baseline:
        print("bench: saving this run as the baseline")
    elif baseline is None:
        print(f"bench: no baseline in {storage}/{get_machine_id()}, nothing to "
              f"compare against; to make one, run with --save-baseline and commit its JSON")
    else:
        print(f"bench: comparing with {baseline}")
    command = pytest_command(storage=storage, baseline=baseline, save_baseline=args.save_baseline,
                             fail_threshold=args.fail_threshold, marker=resolve_marker(args.select),
                             extra=extra)
    print("bench: " + " ".join(command), flush=True)
    saved_before = set(saved_runs(storage))
    returncode = subprocess.run(command, cwd=REPO_ROOT).returncode
    new_runs = [path for path in saved_runs(storage) if path not in saved_before]
    if new_runs:  # pytest-benchmark saves even when the comparison fails
        print(f"\nbench: saved {new_runs[-1]}\n")
        print(summarize(json.loads(new_runs[-1].read_text())))
    return returncode


if __name__ == "__main__":
    raise SystemExit(main())
