import importlib
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from harness.io import read_jsonl, write_jsonl_atomic
from harness.suites.executors import LocalExecutor
from harness.suites.runner import measure_run, plan_runs, run_suites, train_options
from harness.suites.scales import get_scale
from harness.suites.suite_files import suite_record
from harness.suites.tables import CHURCH, DATASET_COLUMNS, FFHQ, HORSE, SUITES, Cell, Suite, get_suites

OPENMOJI = lambda source: source.startswith("openmoji")  # noqa: E731  (what is installed, for planning)
PAPER_DATA = {column: f"/data/{column}" for column in DATASET_COLUMNS}


def test_each_run_is_planned_once_per_seed_under_its_first_suite():
    runs = plan_runs(get_suites("all"), get_scale("smoke", seeds=2), OPENMOJI)
    keys = [(run.config, run.column, run.seed) for run in runs]
    assert len(keys) == len(set(keys))
    by_key = {(run.config, run.column, run.seed): run for run in runs}
    assert by_key[("E", "FFHQ", 0)].folder == "table1/E__ffhq__seed0"  # also Table 2's and Figure 8's
    assert by_key[("E", "FFHQ", 1)].folder == "table1/E__ffhq__seed1"
    assert by_key[("A", "LSUN Cat", 1)].folder == "table3/A__lsun-cat__seed1"
    assert by_key[("F", "LSUN Car", 0)].source == "openmoji:travel-places"
    # 13 Table 1 runs, 16 new Table 2 runs (E shared), 6 new Table 3 runs (Car shared), 0 for Figure 8
    assert len(runs) == 2 * (13 + 16 + 6)
    assert [run.seed for run in runs[:35]] == [0] * 35  # seed by seed: one seed everywhere comes first


def test_a_shared_run_gets_the_largest_evaluation_count_it_needs():
    paper = get_scale("paper", datasets=PAPER_DATA)
    planned = plan_runs(get_suites("all"), paper, OPENMOJI)
    by_key = {(run.config, run.column): run.evaluations for run in planned}
    assert by_key[("E", "FFHQ")] == 10  # Table 1 (10) beats Table 2 and Figure 8 (1)
    assert by_key[("G-original/D-skip", "FFHQ")] == 1
    assert by_key[("F", "LSUN Car")] == 10 and by_key[("F", "LSUN Cat")] == 1
    # the count does not depend on which suites a command names
    (table2_e,) = [run for run in plan_runs(get_suites("table2"), paper, OPENMOJI)
                   if (run.config, run.column) == ("E", "FFHQ")]
    assert table2_e.evaluations == 10
    planned = plan_runs(get_suites("all"), get_scale("smoke"), OPENMOJI)
    smoke = {(run.config, run.column): run.evaluations for run in planned}
    assert smoke[("E", "FFHQ")] == 2  # capped by the smoke scale's max_evaluations


def test_train_options_carry_the_seed_the_dataset_settings_and_the_ema_rampup(tmp_path):
    scale = get_scale("smoke", seeds=2)
    runs = {(run.config, run.column, run.seed): run for run in plan_runs(get_suites("all"), scale, OPENMOJI)}
    ffhq = train_options(runs[("E", FFHQ, 1)], scale, tmp_path)
    assert ffhq.seed == 1 and ffhq.xflip and ffhq.config.ema_rampup == 0.05 and ffhq.config.r1_gamma == 100
    assert ffhq.out == tmp_path / "table1/E__ffhq__seed1"
    church_f, church_a = (train_options(runs[(config, CHURCH, 0)], scale, tmp_path) for config in ("F", "A"))
    assert church_f.config.r1_gamma == 100.0 and not church_f.xflip  # official: --gamma=100 for F on Church
    assert church_a.config.r1_gamma == 10.0
    paper = get_scale("paper", datasets=PAPER_DATA)
    (horse_f,) = [run for run in plan_runs(get_suites("table3"), paper, OPENMOJI) if run.config == "F"
                  and run.column == HORSE]
    options = train_options(horse_f, paper, tmp_path)
    assert (options.kimg, options.config.r1_gamma, options.config.resolution) == (100000, 100.0, 256)
    assert options.config.ema_rampup is None  # the paper's fixed half-life


def test_suite_json_lists_one_cell_per_seed_with_evaluations_and_coverage():
    scale = get_scale("cpu")
    runs = plan_runs(get_suites("all"), scale, OPENMOJI)
    assert len(runs) == 9 * 3  # B, C, D and six Table 2 configs, 3 seeds each
    by_key = {(run.config, run.column, run.seed): run for run in runs}
    record = suite_record(SUITES["table1"], by_key, scale)
    assert record["seeds"] == 3 and record["scale"] == "cpu" and record["purpose"] == scale.purpose
    assert [(cell["row"], cell["seed"]) for cell in record["cells"]] == [
        (row, seed) for row in "BCD" for seed in range(3)]
    assert set(record["cells"][0]) == {"table", "row", "column", "paper_dataset", "config", "dataset", "run",
                                       "seed"}
    assert record["cells"][4]["run"] == "table1/C__ffhq__seed1"
    assert record["evaluations"] == {"table1": 2}
    source = record["evaluations_source"]["table1"]
    assert "10 times" in source and "capped at 2" in source
    left_out = record["coverage"]["cells_not_covered"]
    assert {(cell["row"], cell["column"]) for cell in left_out} >= {("A", FFHQ), ("B", "LSUN Car")}
    ffhq = record["dataset_settings"][FFHQ]
    assert ffhq["xflip"] and not ffhq["metric_reals_mirrored"] and "mirrors each real" in ffhq["note"]
    table3 = suite_record(SUITES["table3"], by_key, scale)
    assert table3["cells"] == [] and len(table3["coverage"]["cells_not_covered"]) == 8


@pytest.mark.parametrize(("networks", "every_snapshot", "at_best"), [
    # offline: one network for FID, KID and precision/recall, so all three share each snapshot's samples
    ({"fid": "efficientnet-lite0", "kid": "efficientnet-lite0", "pr": "efficientnet-lite0"},
     ("fid", "kid", "pr"), ["ppl"]),
    # published files: precision/recall uses VGG-16, so it is measured at the lowest-FID snapshot only
    ({"fid": "inception", "kid": "inception", "pr": "vgg16"}, ("fid", "kid"), ["pr", "ppl"]),
])
def test_fid_at_every_snapshot_with_its_network_then_the_rest_at_the_lowest_fid_one(
        tmp_path, monkeypatch, networks, every_snapshot, at_best):
    run_dir = tmp_path / "run"
    (run_dir / "snapshots").mkdir(parents=True)
    for kimg in (1, 2, 3):
        (run_dir / "snapshots" / f"{kimg * 1000:06d}.safetensors").touch()
    (run_dir / "figures").mkdir()
    for name in ("samples.png", "samples_first.png"):  # pictures exist: no network is loaded
        (run_dir / "figures" / name).touch()
    fid_at = {1.0: 30.0, 2.0: 10.0, 3.0: 20.0}
    calls = []

    def compute(run_dir, metrics, snapshot, num_samples, repeats, **common):
        calls.append((tuple(metrics), snapshot, num_samples, repeats))
        path = run_dir / "metrics.jsonl"
        rows = [{"metric": name, "value": fid_at[snapshot] if name == "fid" else 0.5, "repeats": repeats,
                 "snapshot_kimg": snapshot} for name in metrics]
        write_jsonl_atomic(path, (read_jsonl(path) if path.exists() else []) + rows)
        return rows

    monkeypatch.setattr("harness.metrics.compute", compute)
    compute_module = importlib.import_module("harness.metrics.compute")  # harness.metrics.compute: a function
    monkeypatch.setattr(compute_module, "network_for", lambda metric, options: networks[metric])
    scale = get_scale("smoke")
    measure_run(run_dir, scale, 1, log=lambda *args: None)
    samples = {"pr": scale.fid_samples, "ppl": scale.ppl_samples}
    assert calls == [(every_snapshot, kimg, scale.fid_samples, 1) for kimg in (1.0, 2.0, 3.0)] + [
        ((name,), 2.0, samples[name], 1) for name in at_best]
    calls.clear()
    measure_run(run_dir, scale, 1, log=lambda *args: None)  # everything measured: nothing again
    assert calls == []
    measure_run(run_dir, scale, 2, log=lambda *args: None)  # a table needing 2 evaluations: measured again
    assert {call[3] for call in calls} == {2} and len(calls) == 3 + len(at_best)


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
    monkeypatch.setattr("harness.suites.runner.SPEED_CONFIGS", ("A", "E"))  # two configs keep it short
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
