import json

import pytest

from common.io import read_jsonl, write_jsonl_atomic
from harness.rundir import RunDir
from harness.suites.runner import measure_run, plan_records, plan_runs, stale_finished_runs, train_options
from harness.suites.scales import get_scale
from harness.suites.suite_files import suite_record
from harness.suites.tables import CAR, CHURCH, DATASET_COLUMNS, FFHQ, HORSE, SUITES, get_suites

OPENMOJI = lambda source: source.startswith("openmoji")  # noqa: E731  (what is installed, for planning)
PAPER_DATA = {column: f"/data/{column}" for column in DATASET_COLUMNS}


def test_each_run_is_planned_once_per_seed_under_its_first_suite():
    every_cell = get_scale("smoke", seeds=2, rows={}, columns=())
    runs = plan_runs(get_suites("all"), every_cell, OPENMOJI)
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
    planned = plan_runs(get_suites("all"), get_scale("smoke", max_evaluations=2), OPENMOJI)
    smoke = {(run.config, run.column): run.evaluations for run in planned}
    assert smoke[("E", "FFHQ")] == 2  # capped by the scale's max_evaluations


def test_train_options_carry_the_seed_the_dataset_settings_and_the_ema_rampup(tmp_path):
    scale = get_scale("smoke", seeds=2)
    runs = {(run.config, run.column, run.seed): run for run in plan_runs(get_suites("all"), scale, OPENMOJI)}
    ffhq = train_options(runs[("E", FFHQ, 1)], scale, tmp_path)
    assert ffhq.seed == 1 and ffhq.xflip and ffhq.config.ema_rampup == 0.05
    assert ffhq.config.r1_gamma == 100 * (16 / 1024) ** 2  # E's official 100, scaled to 16x16 from 1024
    assert ffhq.out == tmp_path / "table1/E__ffhq__seed1"
    # the learning check's early snapshot at 10% of the budget (16 kimg), on a tick (every 0.8 kimg)
    assert ffhq.first_snapshot_kimg == pytest.approx(1.6) and ffhq.tick_kimg == pytest.approx(0.8)
    church_f, church_a = (train_options(runs[(config, CHURCH, 0)], scale, tmp_path) for config in ("F", "A"))
    # official: --gamma=100 for F on Church, scaled to 16x16 from 256; the growing A keeps its 10
    assert church_f.config.r1_gamma == 100.0 / 256 and not church_f.xflip
    assert church_a.config.r1_gamma == 10.0
    unscaled = get_scale("smoke", r1_gamma_by_resolution=False)
    assert train_options(runs[("F", CHURCH, 0)], unscaled, tmp_path).config.r1_gamma == 100.0
    paper = get_scale("paper", datasets=PAPER_DATA)
    (horse_f,) = [run for run in plan_runs(get_suites("table3"), paper, OPENMOJI) if run.config == "F"
                  and run.column == HORSE]
    options = train_options(horse_f, paper, tmp_path)
    assert (options.kimg, options.config.r1_gamma, options.config.resolution) == (100000, 100.0, 256)
    assert options.config.ema_rampup is None  # the paper's fixed half-life
    assert options.first_snapshot_kimg is None  # and only the paper's snapshot interval


def test_growing_runs_reach_full_resolution_at_the_scales_growing_fraction(tmp_path):
    from harness.train.schedule import Schedule

    for fraction in (1 / 3, 0.5):
        scale = get_scale("smoke", growing_fraction=fraction)
        (run,) = [run for run in plan_runs(get_suites("table1"), scale, OPENMOJI)
                  if (run.config, run.column) == ("B", FFHQ)]
        options = train_options(run, scale, tmp_path)
        assert options.growing_fraction == fraction
        schedule = Schedule(options.config, round(options.kimg * 1000), options.growing_fraction)
        full = round(fraction * options.kimg * 1000)  # 8x8 stable, fade-in to 16x16, then 16x16 stable
        assert (schedule.state_at(full - 16).alpha < 1, schedule.state_at(full).resolution,
                schedule.state_at(full).alpha) == (True, 16, 1.0)


def test_suite_json_lists_one_cell_per_seed_with_evaluations_and_coverage():
    scale = get_scale("cpu", seeds=3)  # the planning rule, whatever the preset's seed count
    runs = plan_runs(get_suites("all"), scale, OPENMOJI)
    assert len(runs) == 10 * 3  # A, B, C, D and six Table 2 configs, 3 seeds each
    by_key = {(run.config, run.column, run.seed): run for run in runs}
    record = suite_record(SUITES["table1"], by_key, scale)
    assert record["seeds"] == 3 and record["scale"] == "cpu" and record["purpose"] == scale.purpose
    assert [(cell["row"], cell["seed"]) for cell in record["cells"]] == [
        (row, seed) for row in "ABCD" for seed in range(3)]
    assert set(record["cells"][0]) == {"table", "row", "column", "paper_dataset", "config", "dataset", "run",
                                       "seed"}
    assert record["cells"][7]["run"] == "table1/C__ffhq__seed1"
    assert record["evaluations"] == {"table1": 2}
    source = record["evaluations_source"]["table1"]
    assert "10 times" in source and "capped at 2" in source
    left_out = record["coverage"]["cells_not_covered"]
    assert {(cell["row"], cell["column"]) for cell in left_out} >= {("A", CAR), ("B", CAR), ("E", FFHQ)}
    assert list(record["dataset_settings"]) == [FFHQ]  # the columns the scale covers
    smoke_runs = {(run.config, run.column, run.seed): run
                  for run in plan_runs(get_suites("all"), get_scale("smoke"), OPENMOJI)}
    ffhq = suite_record(SUITES["table1"], smoke_runs, get_scale("smoke"))["dataset_settings"][FFHQ]
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

    def compute(run_dir, metrics, options, *, snapshot, **common):
        repeats = options.repeats
        calls.append((tuple(metrics), snapshot, options.num_samples, repeats))
        path = run_dir / "metrics.jsonl"
        rows = [{"metric": name, "value": fid_at[snapshot] if name == "fid" else 0.5, "repeats": repeats,
                 "snapshot_kimg": snapshot} for name in metrics]
        write_jsonl_atomic(path, (read_jsonl(path) if path.exists() else []) + rows)
        return rows

    monkeypatch.setattr("harness.metrics.compute", compute)
    monkeypatch.setattr("harness.metrics.options.network_for", lambda metric, options: networks[metric])
    scale = get_scale("smoke")
    measure_run(run_dir, scale, 1, log=lambda *args: None)
    samples = {"pr": scale.fid_samples, "ppl": scale.ppl_samples}
    assert calls == [(every_snapshot, kimg, scale.fid_samples, 1) for kimg in (1.0, 2.0, 3.0)] + [
        ((name,), 2.0, samples[name], 1) for name in at_best]
    calls.clear()
    measure_run(run_dir, scale, 1, log=lambda *args: None)  # everything measured: nothing again
    assert calls == []
    measure_run(run_dir, scale, 2, log=lambda *args: None)  # a table needing 2: its snapshot again
    assert calls == [(every_snapshot, 2.0, scale.fid_samples, 2)] + [
        ((name,), 2.0, samples[name], 2) for name in at_best]


def test_each_snapshot_is_measured_once_and_the_chosen_one_as_often_as_its_table_needs(tmp_path, monkeypatch):
    """The official workflow: one FID per snapshot picks the snapshot, whose repeated evaluations
    (here worse than the next snapshot's single one) do not move the choice."""
    run_dir = tmp_path / "run"
    (run_dir / "snapshots").mkdir(parents=True)
    for kimg in (1, 2, 3):
        (run_dir / "snapshots" / f"{kimg * 1000:06d}.safetensors").touch()
    (run_dir / "figures").mkdir()
    for name in ("samples.png", "samples_first.png"):
        (run_dir / "figures" / name).touch()
    first = {1.0: 30.0, 2.0: 10.0, 3.0: 11.0}
    calls = []

    def compute(run_dir, metrics, options, *, snapshot, **common):
        calls.append((tuple(metrics), snapshot, options.repeats))
        values = [first[snapshot]] + [first[snapshot] + 5.0] * (options.repeats - 1)  # later repeats higher
        rows = [{"metric": name, "value": sum(values) / len(values), "values": values,
                 "repeats": options.repeats, "snapshot_kimg": snapshot} for name in metrics]
        path = run_dir / "metrics.jsonl"
        write_jsonl_atomic(path, (read_jsonl(path) if path.exists() else []) + rows)
        return rows

    monkeypatch.setattr("harness.metrics.compute", compute)
    monkeypatch.setattr("harness.metrics.options.network_for", lambda metric, options: "efficientnet-lite0")
    scale = get_scale("smoke")
    measure_run(run_dir, scale, 3, log=lambda *args: None)
    assert calls == [(("fid", "kid", "pr"), kimg, 1) for kimg in (1.0, 2.0, 3.0)] + [
        (("fid", "kid", "pr"), 2.0, 3), (("ppl",), 2.0, 3)]
    assert RunDir(run_dir).best_snapshot_kimg() == 2.0  # its mean over 3 (13.3) is above 3.0's 11
    calls.clear()
    measure_run(run_dir, scale, 3, log=lambda *args: None)
    assert calls == []


def test_a_measured_run_without_its_weights_is_left_as_it_is(tmp_path, monkeypatch):
    """An exported store (the committed examples) has rows and pictures but no snapshots: extending
    it with more seeds re-measures its finished runs, which must need nothing it removed."""
    run_dir = tmp_path / "run"
    (run_dir / "figures").mkdir(parents=True)
    for name in ("samples.png", "samples_first.png"):
        (run_dir / "figures" / name).touch()
    rows = [{"metric": name, "value": 1.0, "repeats": 1, "snapshot_kimg": 2.0}
            for name in ("fid", "kid", "pr", "ppl")]
    write_jsonl_atomic(run_dir / "metrics.jsonl", rows)
    monkeypatch.setattr("harness.metrics.compute", lambda *args, **kwargs: pytest.fail("nothing to compute"))
    said = []
    measure_run(run_dir, get_scale("smoke"), 1, log=said.append)
    assert said == []
    (run_dir / "figures" / "samples.png").unlink()
    measure_run(run_dir, get_scale("smoke"), 1, log=said.append)
    assert said == [f"  {run_dir}: no snapshots left, so no sample grids are drawn"]


def _finish(run_dir, options) -> None:
    """A finished run as training leaves it, as far as reuse reads it: options.json and a done summary."""
    run_dir.mkdir(parents=True)
    (run_dir / "options.json").write_text(json.dumps(options.to_dict()))
    (run_dir / "summary.json").write_text(json.dumps({"done": True}))


def test_a_finished_run_trained_with_other_settings_stops_the_plan_before_anything_trains(tmp_path):
    """A results root from before a settings change (here the official R1 gamma, unscaled) holds
    finished runs the driver would reuse as they are; the plan names them and the difference."""
    from harness.suites.driver import check_plan

    scale, suites = get_scale("smoke"), get_suites("table1")
    runs = {run.run_id: run for run in plan_runs(suites, scale, OPENMOJI)}
    old = get_scale("smoke", r1_gamma_by_resolution=False)
    _finish(tmp_path / runs["E__ffhq__seed0"].folder, train_options(runs["E__ffhq__seed0"], old, tmp_path))
    _finish(tmp_path / runs["A__ffhq__seed0"].folder, train_options(runs["A__ffhq__seed0"], scale, tmp_path))
    assert stale_finished_runs(plan_records(list(runs.values()), scale, tmp_path, suites)) == [
        "table1/E__ffhq__seed0 (config.r1_gamma: 100.0 in options.json, 0.0244140625 now)"]
    with pytest.raises(ValueError, match=r"1 finished run\(s\) .* table1/E__ffhq__seed0 \(config.r1_gamma: "
                                         r"100.0 .*Pass another --results"):
        check_plan(suites, scale, tmp_path, OPENMOJI)
    assert check_plan(suites, old.replace(kimg=6), tmp_path / "elsewhere", OPENMOJI)  # another root plans
    longer = get_scale("smoke", kimg=12)  # the budget counts too: a 10 kimg run is not a 12 kimg one
    longer_plan = plan_records(list(runs.values()), longer, tmp_path, suites)
    stale = stale_finished_runs(longer_plan)
    assert any(f"kimg: {scale.kimg:g} in options.json, 12" in line for line in stale)
