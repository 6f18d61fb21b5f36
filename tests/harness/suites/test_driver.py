"""The suite driver end to end: plan, train and measure every seed through an executor, write the
suite files and the side-by-side speed timing, and do nothing again on a second call."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from common.io import read_jsonl
from harness.suites.driver import run_suites
from harness.suites.executors import LocalExecutor
from harness.suites.scales import get_scale
from harness.suites.tables import FFHQ, Cell, Suite


@pytest.mark.slow
def test_two_seeds_train_and_measure_independently_end_to_end(tmp_path, monkeypatch):
    """A one-cell suite with 2 seeds on 16 random PNGs: two run folders, each trained with its seed,
    measured, with both sample grids; suite.json has a cell per seed; speed.json is written; a second
    call trains and times nothing again."""
    folder = tmp_path / "pngs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(16):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{index:02d}.png")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    suite = Suite(name="tiny", description="one cell", evaluations=1, evaluations_source="a test",
                  cells=(Cell(table="tiny", row="E", column=FFHQ, config="E", dataset=FFHQ),))
    scale = get_scale("smoke", seeds=2, kimg=0.016, snapshot_kimg=0.008, tick_kimg=0.008, fid_samples=16,
                      ppl_samples=4, max_evaluations=1, features="random", feature_input_size=32,
                      width_multiplier=1 / 64, batch_size=4, fig8_samples=4, kid_subsets=2, speed_rounds=1,
                      device="cpu", datasets={FFHQ: str(folder)})
    monkeypatch.setattr("harness.suites.driver.SPEED_CONFIGS", ("A", "E"))  # two configs keep it short
    root = tmp_path / "results"
    one_thread = LocalExecutor(jobs=1, threads_per_task=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the speed timing runs in this process
    try:
        runs = run_suites((suite,), scale, root, lambda source: False, lambda *args: None, one_thread)
        stamps = {path: path.stat().st_mtime_ns for path in root.rglob("*")
                  if path.is_file() and not path.name.endswith(".lock")}  # run locks are taken again
        run_suites((suite,), scale, root, lambda source: False, lambda *args: None, one_thread)
    finally:
        torch.set_num_threads(previous)
    assert [run.folder for run in runs] == ["tiny/E__ffhq__seed0", "tiny/E__ffhq__seed1"]
    record = json.loads((root / "tiny" / "suite.json").read_text())
    assert record["seeds"] == 2 and [(c["run"], c["seed"]) for c in record["cells"]] == [
        ("tiny/E__ffhq__seed0", 0), ("tiny/E__ffhq__seed1", 1)]
    snapshots = []
    for seed, run in enumerate(runs):
        run_dir = root / run.folder
        options = json.loads((run_dir / "options.json").read_text())
        assert options["seed"] == seed and options["xflip"] is True
        assert {row["metric"] for row in read_jsonl(run_dir / "metrics.jsonl")} == {"fid", "kid", "pr", "ppl"}
        assert all((run_dir / "figures" / name).exists() for name in ("samples.png", "samples_first.png"))
        snapshots.append(load_file(run_dir / "snapshots" / "000016.safetensors"))
    assert any(not (snapshots[0][name] == snapshots[1][name]).all() for name in snapshots[0])  # seeds differ
    speed = json.loads((root / "speed.json").read_text())
    assert set(speed) == {"method", "device", "threads", "dataset", "resolution", "batch_size", "rounds",
                          "steps_per_round", "img_per_s", "written"}
    assert [speed[key] for key in ("rounds", "steps_per_round", "resolution", "batch_size")] == [1, 16, 16, 4]
    assert set(speed["img_per_s"]) == {"A", "E"}
    assert all(len(values) == 1 and values[0] > 0 for values in speed["img_per_s"].values())
    changed = [path.name for path, stamp in stamps.items() if path.stat().st_mtime_ns != stamp]
    assert changed == ["suite.json"]  # the second call trained, measured and timed nothing again


def test_the_driver_names_the_runs_another_process_holds(tmp_path):
    from harness.suites.driver import report_owned_runs
    from harness.suites.runner import PlannedRun
    from tests.harness.test_rundir import start_holder

    runs = [PlannedRun(run_id=f"E__ffhq__seed{seed}", config="E", column=FFHQ, source="x",
                       folder=f"t/E__ffhq__seed{seed}", seed=seed) for seed in (0, 1)]
    holder = start_holder(tmp_path / runs[1].folder)
    try:
        logged = []
        owned = report_owned_runs(runs, tmp_path, logged.append)
    finally:
        holder.kill()
        holder.wait()
    assert len(owned) == 1 and owned[0].startswith(f"E__ffhq__seed1 (owned by process {holder.pid} on")
    assert logged == [f"1 run(s) left to another process, rerun this command when it ends: {owned[0]}"]
    assert report_owned_runs(runs, tmp_path, logged.append) == []  # the owner died: nothing held
