"""`python -m benchmarks.run`: baselines are found, saved and compared, and a regression fails the run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_benchmark.utils import get_machine_id

from benchmarks.run import find_baseline, lost_speedups, pytest_command, speedups, storage_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
ONE_BENCHMARK = ["-k", "test_bandwidth_cpu and upsample2d and ref"]


def _touch(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("{}")
    return path


def test_find_baseline_takes_the_newest_baseline_of_this_machine(tmp_path):
    storage = storage_dir(tmp_path, kind="cpu-test-2cpus")
    assert find_baseline(storage) is None
    folder = storage / get_machine_id()
    _touch(folder, "0001_baseline.json")
    newest = _touch(folder, "0003_baseline.json")
    _touch(folder, "0004_abc123_20261123.json")  # a later ordinary run is not a baseline
    _touch(storage / "Other-Machine", "0009_baseline.json")
    assert find_baseline(storage) == newest


def test_pytest_command_compares_with_a_threshold_or_saves_a_baseline(tmp_path):
    baseline = tmp_path / "0001_baseline.json"
    compare = pytest_command(storage=tmp_path, baseline=baseline, save_baseline=False, fail_threshold=25,
                             marker="not gpu", extra=["-x"])
    assert f"--benchmark-compare={baseline}" in compare and "--benchmark-compare-fail=min:25%" in compare
    assert compare[compare.index("not gpu") - 1] == "-m" and compare[-1] == "-x"  # user arguments last
    save = pytest_command(storage=tmp_path, baseline=None, save_baseline=True, fail_threshold=25,
                          marker=None, extra=[])
    assert "--benchmark-save=baseline" in save
    assert not any(arg.startswith("--benchmark-compare") for arg in save)


def _bench_run(storage: Path, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmarks.run", "--select", "cpu", "--storage", str(storage),
               *arguments, *ONE_BENCHMARK]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_run_slower_than_the_baseline_fails(tmp_path):
    saved = _bench_run(tmp_path, "--save-baseline")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    (baseline,) = tmp_path.glob(f"*/{get_machine_id()}/0001_baseline.json")
    data = json.loads(baseline.read_text())
    assert [bench["extra_info"]["op"] for bench in data["benchmarks"]] == ["upsample2d"]
    assert "machine_kind" in data["machine_info"] and "packages" in data["machine_info"]

    within = _bench_run(tmp_path, "--fail-threshold", "100000")
    assert within.returncode == 0, within.stdout + within.stderr
    assert "comparing with" in within.stdout and "Achieved memory bandwidth" in within.stdout

    for bench in data["benchmarks"]:  # a baseline 1000x faster than anything this machine can do
        bench["stats"] = {key: value / 1000 if isinstance(value, float) else value
                          for key, value in bench["stats"].items()}
    baseline.write_text(json.dumps(data))
    regressed = _bench_run(tmp_path)
    assert regressed.returncode != 0
    assert "Performance has regressed" in regressed.stdout + regressed.stderr


def _timed(group: str, impl: str, fastest: float) -> dict:
    return {"group": group, "extra_info": {"impl": impl}, "stats": {"min": fastest}}


def test_a_fast_path_that_stops_winning_is_a_lost_speedup():
    baseline = {"benchmarks": [_timed("up", "ref", 3.0), _timed("up", "fused", 1.0),
                               _timed("bias", "ref", 1.2), _timed("bias", "fused", 1.0),
                               _timed("metric", None, 1.0)]}
    assert speedups(baseline) == {"up": 3.0, "bias": 1.2}
    slower_machine = {"benchmarks": [_timed("up", "ref", 6.0), _timed("up", "fused", 2.5),
                                     _timed("bias", "ref", 1.0), _timed("bias", "fused", 1.1)]}
    assert lost_speedups(baseline, slower_machine) == []  # both slower, fused still ahead; bias never checked
    broken = {"benchmarks": [_timed("up", "ref", 3.0), _timed("up", "fused", 3.1)]}
    (line,) = lost_speedups(baseline, broken)
    assert line.startswith("up: fused 3.00x faster than ref in the baseline, 0.97x now")
