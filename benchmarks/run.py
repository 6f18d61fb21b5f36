"""`tox -e bench`: run the benchmark suites, save the JSON, and fail on a regression against the baseline.

    python -m benchmarks.run [--save-baseline] [--fail-threshold PERCENT] [--select auto|cpu|gpu|all]
                             [--storage DIR] [pytest arguments ...]

Results go to `results/bench/<machine kind>/<machine id>/NNNN_<commit>_<time>.json` (pytest-benchmark
autosave, with machine info, GPU and package versions). When that folder holds a committed
baseline (`NNNN_baseline.json`, the newest one wins), the run is compared with it and fails on
either of two regressions:

- time: a benchmark's fastest round is more than `--fail-threshold` percent slower than in the
  baseline (`--benchmark-compare-fail=min:<threshold>%`). Default 25% on a GPU, where a runner
  has the card to itself; 200% on a CPU, where shared cores drift by +-50% or more between runs of
  the same code (measured: up to 2.4x on the 2-core machine of the committed baseline), so only a
  gross slow-down fails there.
- speed-up: an op whose fused path beat its reference by at least 1.5x in the baseline is no
  longer faster than the reference in this run. Both times come from one run, so machine drift
  cancels; this catches a fast path that broke or fell back.

`--save-baseline` saves the run as the new baseline instead of comparing. Selection: on a CUDA
machine the GPU set (marker `gpu`), else the CPU reduced set; `--select all` runs both. A
Markdown summary of the saved run is printed last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from pytest_benchmark.utils import get_machine_id

from benchmarks.machine import machine_kind
from benchmarks.summarize import impl_times, summarize

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_ROOT = REPO_ROOT / "results" / "bench"
BASELINE_NAME = "baseline"
SELECTIONS = {"cpu": "not gpu", "gpu": "gpu", "all": None}
DEFAULT_FAIL_THRESHOLD = {"cuda": 25, "cpu": 200}  # percent slower than the baseline's fastest round
MIN_CHECKED_SPEEDUP = 1.5  # ops whose fused path beat ref by this much in the baseline must still win


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
            command += [f"--benchmark-compare={baseline}", f"--benchmark-compare-fail=min:{fail_threshold}%"]
    return command + extra


def speedups(data: dict) -> dict[str, float]:
    """ref time / fused time (fastest rounds) per benchmark group that holds both impls."""
    fastest = impl_times(data["benchmarks"], "min")
    return {group: pair["ref"] / pair["fused"] for group, pair in fastest.items()}


def lost_speedups(baseline: dict, run: dict, min_speedup: float = MIN_CHECKED_SPEEDUP) -> list[str]:
    """Groups whose fused path was >= `min_speedup` x faster in the baseline and is not faster now."""
    before, after = speedups(baseline), speedups(run)
    return [f"{group}: fused {before[group]:.2f}x faster than ref in the baseline, {after[group]:.2f}x now"
            for group in sorted(before.keys() & after.keys())
            if before[group] >= min_speedup and after[group] <= 1.0]


def resolve_marker(select: str) -> str | None:
    if select == "auto":
        import torch

        select = "gpu" if torch.cuda.is_available() else "cpu"
    return SELECTIONS[select]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save-baseline", action="store_true", help="save this run as the baseline")
    parser.add_argument("--fail-threshold", type=int, default=None, metavar="PERCENT",
                        help="fail when a fastest round is this much slower than the baseline's "
                             "(default 25 on a GPU, 200 on a CPU)")
    parser.add_argument("--select", choices=("auto", *SELECTIONS), default="auto",
                        help="auto: the GPU set with CUDA, else the CPU reduced set")
    parser.add_argument("--storage", type=Path, default=BENCH_ROOT, metavar="DIR",
                        help="root of the saved runs and baselines (default results/bench)")
    args, extra = parser.parse_known_args(argv)
    if args.fail_threshold is not None and args.fail_threshold <= 0:
        parser.error(f"--fail-threshold must be a positive percentage, got {args.fail_threshold}")
    storage = storage_dir(args.storage.resolve())
    kind = "cuda" if storage.name.startswith("cuda-") else "cpu"
    threshold = args.fail_threshold or DEFAULT_FAIL_THRESHOLD[kind]
    baseline = None if args.save_baseline else find_baseline(storage)
    if args.save_baseline:
        print("bench: saving this run as the baseline")
    elif baseline is None:
        print(f"bench: no baseline in {storage}/{get_machine_id()}, nothing to "
              f"compare against; to make one, run with --save-baseline and commit its JSON")
    else:
        print(f"bench: comparing with {baseline} (fail: {threshold}% slower, or a lost fused speed-up)")
    command = pytest_command(storage=storage, baseline=baseline, save_baseline=args.save_baseline,
                             fail_threshold=threshold, marker=resolve_marker(args.select),
                             extra=extra)
    print("bench: " + " ".join(command), flush=True)
    saved_before = set(saved_runs(storage))
    returncode = subprocess.run(command, cwd=REPO_ROOT).returncode
    new_runs = [path for path in saved_runs(storage) if path not in saved_before]
    if not new_runs:
        return returncode or 1
    run = json.loads(new_runs[-1].read_text())  # pytest-benchmark saves even when the comparison fails
    print(f"\nbench: saved {new_runs[-1]}\n")
    print(summarize(run))
    lost = [] if baseline is None else lost_speedups(json.loads(baseline.read_text()), run)
    for line in lost:
        print(f"bench: speed-up lost: {line}")
    return returncode or (1 if lost else 0)


if __name__ == "__main__":
    raise SystemExit(main())
