"""Fault injection: a small suite killed with SIGKILL at many points, then resumed, ends with the
same results tree as an uninterrupted run: bit-identical metric values and weights on CPU, one
metric row per key, each stats tick once, no orphan files.

Each attempt is a process forked from a fork server (no re-import of torch: the test stays cheap)
that trains and measures every run, resuming what is there, as `ablate` does.
common.io.fault_point kills it at the N-th fault point of a category (HARNESS_FAULT_KILL_AT /
HARNESS_FAULT_MATCH): a training step, a stats line (half written), a snapshot, a checkpoint
(including between checkpoint.json and the rename) or a metric row. Fault points are counted, not
timed, so the sequence of kills is reproducible from the seed.
"""

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from common.io import FAULT_KILL_AT, FAULT_MATCH, read_jsonl
from harness.data import open_dataset
from harness.metrics.rows import metric_row_key
from harness.rundir import RunDir
from harness.train import TrainOptions, train
from tests.harness.train.tiny import tiny_config, write_pngs

RUNS = (("E", 0), ("F", 1))  # (config, seed): a two-run suite
# category -> the N-th of its fault points in an attempt is the one killed, N drawn from 1..max: past the
# first few, so that an attempt often gets beyond a checkpoint or a metric row and the suite advances
CATEGORIES = {"train step": 4, "stats.jsonl": 3, "snapshots/": 5, "checkpoint": 6, "metrics.jsonl": 3}
ROWS_PER_RUN = 8  # FID and KID at 4 snapshots
MIN_KILLS = 20
SEED = 15  # of the kill sequence
# Fields that record when, how fast or where, not what: they differ between any two runs.
VARYING_FIELDS = ("wall_s", "tick_s", "img_per_s", "img_per_s/", "measure_s", "time_s/", "peak_", "energy_",
                  "train_s", "time", "seconds", "resumes", "out", "resume")


def run_options(root: Path, data: Path, config: str, seed: int) -> TrainOptions:
    run_dir = root / f"{config}-seed{seed}"
    return TrainOptions(config=tiny_config(config), data=str(data), out=run_dir, kimg=0.032, seed=seed,
                        resume=(run_dir / "checkpoint.pt").exists(), tick_kimg=0.008, snapshot_kimg=0.008,
                        checkpoint_kimg=0.008, fig8_samples=8, droplet_samples=2,
                        cache_dir=data.parent / "cache", progress="none", deterministic=True, threads=1,
                        device="cpu")


def run_suite(root: Path, data: Path, train_only: bool = False) -> None:
    """Train (or resume, or skip) every run, then FID and KID at each snapshot (stored keys skipped);
    with `train_only`, stop once the first unfinished run is trained."""
    from harness import metrics

    for config, seed in RUNS:
        options = run_options(root, data, config, seed)
        if not RunDir(options.out_dir).is_done():
            train(options)
            if train_only:
                return
        for snapshot in sorted((options.out_dir / "snapshots").glob("*.safetensors")):
            settings = metrics.MetricOptions(num_samples=32, features="random", device="cpu", kid_subsets=4,
                                             batch_size=16, cache_dir=str(root.parent / "feature-cache"))
            metrics.compute(options.out_dir, ["fid", "kid"], settings, snapshot=int(snapshot.stem) / 1000,
                            log=lambda *args: None)


def attempt_body(root: Path, data: Path, kill_at: int | None, match: str, train_only: bool) -> None:
    """What an attempt process runs: the suite, armed to die at the chosen fault point."""
    if kill_at is not None:
        os.environ[FAULT_KILL_AT], os.environ[FAULT_MATCH] = str(kill_at), match
    run_suite(root, data, train_only)


def attempt(root: Path, data: Path, kill_at: int | None = None, match: str = "", train_only=False) -> bool:
    """One attempt at the suite in its own process; True when a fault point killed it.

    Processes come from a fork server: forked (cheap, torch already imported) from a process that
    has never run a torch op, since forking one that has (pytest, after other tests) can hang the
    child in OpenMP.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["harness.train", "harness.metrics", __name__])
    process = context.Process(target=attempt_body, args=(root, data, kill_at, match, train_only))
    process.start()
    process.join()
    if process.exitcode == -signal.SIGKILL:
        return True
    assert process.exitcode == 0, f"attempt (kill at {kill_at} {match!r}) failed; see its traceback"
    return False


def next_phase(root: Path, data: Path) -> str | None:
    """What the next attempt starts with: 'train', 'metrics', or None when the suite is complete."""
    for config, seed in RUNS:
        run_dir = run_options(root, data, config, seed).out_dir
        if not RunDir(run_dir).is_done():
            return "train"
        rows = read_jsonl(run_dir / "metrics.jsonl") if (run_dir / "metrics.jsonl").exists() else []
        if len(rows) < ROWS_PER_RUN:
            return "metrics"
    return None


def without_timing(record: dict) -> dict:
    return {key: value for key, value in record.items()
            if not any(key == field or (field.endswith(("/", "_")) and key.startswith(field))
                       for field in VARYING_FIELDS)}


def differences(found, expected, where="") -> list[str]:
    """Where two JSON-like values differ (for a readable failure)."""
    if isinstance(found, dict) and isinstance(expected, dict):
        return [item for key in sorted(set(found) | set(expected), key=str)
                for item in differences(found.get(key), expected.get(key), f"{where}.{key}")]
    if isinstance(found, list) and isinstance(expected, list) and len(found) == len(expected):
        return [item for index, (a, b) in enumerate(zip(found, expected, strict=True))
                for item in differences(a, b, f"{where}[{index}]")]
    return [] if found == expected else [f"{where}: {found!r:.60} != {expected!r:.60}"]


def results_tree(root: Path) -> dict[str, object]:
    """Every file under the results root -> what must match between the two trees."""
    tree = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_dir() or path.name in ("environment.json", "checkpoint.json"):  # times, hashes of times
            tree[name] = None
        elif path.suffix == ".safetensors":  # tensors: safetensors orders its metadata at random
            tree[name] = {key: value.tolist() for key, value in load_file(path).items()}
        elif path.name == "checkpoint.pt":
            state = torch.load(path, weights_only=True)
            tree[name] = {key: repr(state[key]) for key in ("G", "G_ema", "D", "opt_G", "opt_D", "rng",
                                                              "pl_mean", "images_shown", "step")}
        elif path.name in ("stats.jsonl", "metrics.jsonl"):
            tree[name] = [without_timing(row) for row in read_jsonl(path)]
        elif path.suffix == ".json":
            record = json.loads(path.read_text())
            tree[name] = without_timing({**record, "sha256": None} if "snapshots" in name else record)
        else:
            tree[name] = path.read_bytes()
    return tree


@pytest.mark.slow
def test_suite_killed_at_random_points_resumes_to_the_uninterrupted_result(tmp_path):
    started = time.perf_counter()
    data = tmp_path / "data"
    data.mkdir()
    write_pngs(data, count=128, size=16)
    open_dataset(str(data), 16, cache_dir=tmp_path / "cache")  # both trees read one cache
    reference, faulted = tmp_path / "reference" / "results", tmp_path / "faulted" / "results"
    assert not attempt(reference, data)

    rng, kills, attempts, hit = random.Random(SEED), 0, 0, {category: 0 for category in CATEGORIES}
    training = [category for category in CATEGORIES if category != "metrics.jsonl"]
    while kills < MIN_KILLS or min(hit.values()) == 0:
        attempts += 1
        phase = next_phase(faulted, data)
        assert phase is not None and attempts <= 100, f"only {kills} kills ({hit}) before the suite finished"
        category = training[attempts % len(training)] if phase == "train" else "metrics.jsonl"
        if attempt(faulted, data, rng.randint(1, CATEGORIES[category]), category, phase == "train"):
            kills += 1
            hit[category] += 1
    assert not attempt(faulted, data)  # finish whatever the last kill interrupted

    expected, found = results_tree(reference), results_tree(faulted)
    assert sorted(found) == sorted(expected)
    assert {name: differences(found[name], expected[name]) for name in expected
            if found[name] != expected[name]} == {}
    for config, seed in RUNS:
        run_dir = run_options(faulted, data, config, seed).out_dir
        rows = read_jsonl(run_dir / "metrics.jsonl")
        assert len({metric_row_key(row) for row in rows}) == len(rows) == ROWS_PER_RUN
    assert not [path for path in faulted.rglob("*") if path.name.endswith(".tmp")]
    seconds = time.perf_counter() - started
    print(f"\n{kills} kills survived ({hit}) in {attempts + 2} attempts, {seconds:.0f} s")
    assert kills >= MIN_KILLS and min(hit.values()) >= 1
