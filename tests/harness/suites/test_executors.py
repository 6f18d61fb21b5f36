"""Executors: a two-run smoke suite gives bit-identical results sequentially, on a local Ray
cluster and through submitit's local executor; failures name the run and keep the others."""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from common.io import read_jsonl
from harness.suites import cli
from harness.suites.executors import (
    LocalExecutor,
    RayExecutor,
    RequeueingTask,
    RunsFailed,
    SlurmExecutor,
    _init_local_worker,
    get_executor,
)
from harness.suites.runner import PlannedRun, plan_runs
from harness.suites.scales import get_scale
from harness.suites.tables import FFHQ, Cell, Suite

REPO_ROOT = Path(__file__).resolve().parents[3]
TINY_SUITE = Suite(
    name="tiny",
    description="two runs that take seconds",
    cells=tuple(
        Cell(table="tiny", row=config, column=FFHQ, config=config, dataset=FFHQ)
        for config in ("E", "G-original/D-original")
    ),
    evaluations=1,
    evaluations_source="a test suite",
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """(scale, runs) of TINY_SUITE on 32 random 16x16 PNGs; worker processes find the repo and a
    private dataset cache through the environment they inherit."""
    folder = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(0)
    for index in range(32):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{index:02d}.png")
    scale = get_scale(
        "smoke", kimg=0.02, snapshot_kimg=0.02, tick_kimg=0.01, fid_samples=32, ppl_samples=8,
        max_evaluations=1, features="random", feature_input_size=32, resolution=16, width_multiplier=1 / 32,
        batch_size=4, datasets={FFHQ: str(folder)},
    )
    runs = plan_runs((TINY_SUITE,), scale, is_installed=lambda source: False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        python_path = filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
        patch.setenv("PYTHONPATH", os.pathsep.join(python_path))
        yield scale, runs


@pytest.fixture(scope="module")
def sequential_root(smoke, tmp_path_factory):
    """The reference: both runs one after the other in this process, one torch thread each."""
    scale, runs = smoke
    root = tmp_path_factory.mktemp("sequential")
    assert LocalExecutor(jobs=1, threads_per_task=1).map_runs(runs, scale, root) == [r.run_id for r in runs]
    return root


def assert_same_results(root: Path, reference: Path, runs: list[PlannedRun]) -> None:
    """Every G_ema snapshot tensor equal bit for bit, and every metric value equal."""
    for run in runs:
        snapshots = sorted((reference / run.folder / "snapshots").glob("*.safetensors"))
        assert snapshots, f"the reference has no snapshots for {run.folder}"
        for path in snapshots:
            expected, actual = load_file(path), load_file(root / run.folder / "snapshots" / path.name)
            assert expected.keys() == actual.keys()
            for name in expected:
                assert torch.equal(expected[name], actual[name]), f"{run.folder} {path.name}: {name} differs"
        expected_rows, actual_rows = (
            {(row["metric"], row["snapshot_kimg"]): row["value"] for row in read_jsonl(path)}
            for path in (reference / run.folder / "metrics.jsonl", root / run.folder / "metrics.jsonl")
        )
        assert {metric for metric, _ in expected_rows} == {"fid", "kid", "pr", "ppl"}
        assert actual_rows == expected_rows


@pytest.mark.slow
def test_ray_cluster_with_staging_equals_sequential(smoke, sequential_root, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install ray)")
    scale, runs = smoke
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        executor = RayExecutor(num_cpus_per_task=1, stage_dir=tmp_path / "stage")
        finished = executor.map_runs(runs, scale, tmp_path / "results")
    finally:
        ray.shutdown()
    assert finished == [run.run_id for run in runs]
    for run in runs:  # each task wrote only its own stage root; the driver merged them
        assert sorted(p.relative_to(tmp_path / "stage" / run.run_id).as_posix()
                      for p in (tmp_path / "stage" / run.run_id).glob("*/*")) == [run.folder]
    assert_same_results(tmp_path / "results", sequential_root, runs)


@pytest.mark.slow
def test_submitit_local_executor_equals_sequential(smoke, sequential_root, tmp_path):
    pytest.importorskip("submitit", reason="submitit is not installed (pip install submitit)")
    scale, runs = smoke
    executor = SlurmExecutor(folder=tmp_path / "jobs", cluster="local", gpus_per_node=0, cpus_per_task=1,
                             timeout_min=10)
    assert executor.map_runs(runs, scale, tmp_path / "results") == [run.run_id for run in runs]
    assert_same_results(tmp_path / "results", sequential_root, runs)


@pytest.mark.slow
def test_failed_run_is_named_and_finished_runs_are_kept(smoke, sequential_root, tmp_path):
    """Parallel workers: a finished run is skipped (its stage copy merged back unchanged), a run
    with a missing dataset fails, and the error names it after the other run ended."""
    scale, runs = smoke
    root = tmp_path / "results"
    shutil.copytree(sequential_root / runs[0].folder, root / runs[0].folder)
    snapshot = root / runs[0].folder / "snapshots" / "000020.safetensors"
    before = snapshot.stat().st_mtime_ns
    broken = PlannedRun(run_id="E__lsun-cat__seed0", config="E", column="LSUN Cat",
                        source=str(tmp_path / "missing"), folder="tiny/E__lsun-cat__seed0")
    with pytest.raises(RunsFailed) as failure:
        LocalExecutor(jobs=2, threads_per_task=1, stage_dir=tmp_path / "stage").map_runs(
            [runs[0], broken], scale, root
        )
    assert list(failure.value.failures) == ["E__lsun-cat__seed0"]
    assert "E on LSUN Cat (tiny/E__lsun-cat__seed0) failed" in str(failure.value)
    assert str(tmp_path / "missing") in str(failure.value)
    assert "1 other run(s) finished" in str(failure.value)
    assert (tmp_path / "stage" / runs[0].run_id / runs[0].folder / "summary.json").exists()
    assert snapshot.stat().st_mtime_ns == before  # not trained again
    assert_same_results(root, sequential_root, runs[:1])


def test_get_executor_builds_by_name_and_rejects_unknown_names_and_options(tmp_path):
    assert get_executor("local", jobs=3, stage_dir=None) == LocalExecutor(jobs=3)
    assert get_executor("slurm", partition="gpu", folder=tmp_path).partition == "gpu"
    with pytest.raises(ValueError, match="unknown executor 'kubernetes'; known executors: local, ray, slurm"):
        get_executor("kubernetes")
    with pytest.raises(ValueError, match=r"unknown ray executor option\(s\) \['jobs'\]; known: address, "):
        get_executor("ray", jobs=2)
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        LocalExecutor(jobs=0)


def test_cli_builds_the_named_executor_and_rejects_options_of_another(tmp_path):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--executor", "slurm", "--slurm-partition", "gpu", "--slurm-timeout-min", "60",
                              "--slurm-folder", str(tmp_path), "--stage-dir", str(tmp_path / "stage")])
    assert cli.executor_from_args(args) == SlurmExecutor(
        partition="gpu", timeout_min=60, folder=tmp_path, stage_dir=tmp_path / "stage"
    )
    assert cli.executor_from_args(parser.parse_args(["--jobs", "4"])) == LocalExecutor(jobs=4)
    args = parser.parse_args(["--executor", "ray", "--ray-address", "auto", "--ray-gpus-per-task", "1"])
    assert cli.executor_from_args(args) == RayExecutor(address="auto", num_gpus_per_task=1)
    with pytest.raises(ValueError, match="--ray-address applies to --executor ray, not --executor local"):
        cli.executor_from_args(parser.parse_args(["--ray-address", "auto"]))


def test_preempted_slurm_task_requeues_the_same_run():
    pytest.importorskip("submitit", reason="submitit is not installed (pip install submitit)")
    task = RequeueingTask()
    run = PlannedRun(run_id="E__ffhq__seed0", config="E", column=FFHQ, source="x",
                     folder="tiny/E__ffhq__seed0")
    delayed = task.checkpoint(run, get_scale("smoke"), "/results", 1, None)
    assert delayed.function is task
    assert delayed.args == (run, get_scale("smoke"), "/results", 1, None)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the job process in Linux /proc")
def test_preempted_submitit_job_is_requeued_and_resumes_from_its_checkpoint(smoke, tmp_path):
    """Slurm's preemption signal (SIGUSR2) mid-training: the job checkpoints, is requeued, resumes."""
    submitit = pytest.importorskip("submitit", reason="submitit is not installed (pip install submitit)")
    scale, runs = smoke
    scale = scale.replace(kimg=0.06)  # a checkpoint every 20 images: 40 images left to interrupt
    executor = submitit.AutoExecutor(folder=tmp_path / "jobs", cluster="local")
    executor.update_parameters(timeout_min=10)
    job = executor.submit(RequeueingTask(), runs[0], scale, str(tmp_path), 1, None)
    run_dir = tmp_path / runs[0].folder
    deadline = time.monotonic() + 60
    while not (run_dir / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (run_dir / "summary.json").exists(), "training ended before it could be interrupted"
    controller = job._process.pid  # submitit's local controller; the task is its child
    (task,) = Path(f"/proc/{controller}/task/{controller}/children").read_text().split()
    os.kill(int(task), signal.SIGUSR2)
    assert job.result() == runs[0].run_id
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["done"] and summary["images_shown"] == 60 and summary["resumes"] == 1
    assert {row["metric"] for row in read_jsonl(run_dir / "metrics.jsonl")} == {"fid", "kid", "pr", "ppl"}


def test_each_local_worker_takes_the_gpu_of_its_slot(monkeypatch):
    slots = multiprocessing.get_context("spawn").Queue()
    slots.put(4)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert LocalExecutor(jobs=2, gpus=(1, 0))._gpus() == ("1", "0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert LocalExecutor(jobs=2)._gpus() == ("2", "3")  # a restriction already in place is kept
    threads = torch.get_num_threads()
    try:
        _init_local_worker(slots, 1, ("2", "3"), 1)
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "2" and torch.get_num_threads() == 1  # slot 4 of 2 GPUs
        slots.put(1)
        _init_local_worker(slots, 1, ("0", "1", "2", "3", "4", "5", "6", "7"), 4)
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,5,6,7"  # the second of two 4-GPU workers
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("executor", ["local", "ray", "slurm"])
def test_processes_per_run_must_be_a_positive_int(executor):
    with pytest.raises(ValueError, match="processes_per_run must be an int >= 1"):
        get_executor(executor, processes_per_run=0)


@pytest.mark.slow
def test_a_run_on_two_processes_matches_one_process(smoke, tmp_path):
    """torchrun inside the task: 2 gloo processes give the weights and metrics of 1 process with the
    same global batch, up to float rounding; rank 0 alone wrote the run directory."""
    scale, runs = smoke
    # 4 images per process (one minibatch-std group each) in every minibatch: 3 of 8, no remainder.
    # Without the EMA ramp-up G_ema stays near its initial weights, as this test has always compared
    # it; with it G_ema follows G, whose first Adam steps turn rounding-level gradient differences
    # into steps of up to 2 * lr in about 1% of the weights.
    scale = scale.replace(batch_size=8, kimg=0.024, snapshot_kimg=0.024, tick_kimg=0.008, ema_rampup=None)
    run = runs[0]
    one, two = tmp_path / "one", tmp_path / "two"
    assert LocalExecutor(jobs=1, threads_per_task=1).map_runs([run], scale, one) == [run.run_id]
    assert LocalExecutor(jobs=1, threads_per_task=1, processes_per_run=2).map_runs([run], scale, two) == [
        run.run_id]
    summary = json.loads((two / run.folder / "summary.json").read_text())
    assert summary["done"] and summary["world_size"] == 2
    one_summary = json.loads((one / run.folder / "summary.json").read_text())
    assert summary["images_shown"] == one_summary["images_shown"] == 24
    for path in sorted((one / run.folder / "snapshots").glob("*.safetensors")):
        expected, actual = load_file(path), load_file(two / run.folder / "snapshots" / path.name)
        for name in expected:
            torch.testing.assert_close(actual[name], expected[name], rtol=1e-4, atol=1e-5, msg=name)
    rows = {path: {(row["metric"], row["snapshot_kimg"]): row for row in read_jsonl(path / run.folder /
                                                                                      "metrics.jsonl")}
            for path in (one, two)}
    assert rows[one].keys() == rows[two].keys() and {metric for metric, _ in rows[two]} == {
        "fid", "kid", "pr", "ppl"}
    written = [len(read_jsonl(root / run.folder / "metrics.jsonl")) for root in (one, two)]
    assert written[0] == written[1] == len(rows[two])  # each metric row once: only rank 0 appended
    for key, row in rows[two].items():
        assert row["num_samples"] == rows[one][key]["num_samples"]
        assert row["value"] == pytest.approx(rows[one][key]["value"], rel=1e-3, abs=1e-4), key
    assert (two / run.folder / "figures" / "samples.png").exists()
    assert not list(two.glob(".task-*.json"))  # the task file is removed


_ORPHAN_SCRIPT = """
import multiprocessing, os, sys, time
from harness.suites.executors import die_with_parent

def child(parent_pid):
    die_with_parent(parent_pid)
    print(os.getpid(), flush=True)
    time.sleep(120)

if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=child, args=(os.getpid(),))
    process.start()
    process.join()
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has exited; PID 1 of a container may not reap it


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="parent-death signal is Linux-only")
def test_a_local_worker_stops_when_the_suite_driver_is_killed(tmp_path):
    """Found live: after `kill` of an ablate driver its pool workers trained on into the store."""
    import subprocess
    import sys

    script = tmp_path / "driver.py"
    script.write_text(_ORPHAN_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    worker = int(driver.stdout.readline())
    assert _alive(worker)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 20
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)
