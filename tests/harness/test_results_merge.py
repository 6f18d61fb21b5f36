"""Merging results stores: missing runs copied, the further-trained run kept, metric rows and suite
cells unioned, stores of different scales refused."""

import json
import shutil

import pytest

from common.io import read_jsonl
from harness.results import load_results
from harness.results_merge import merge_results
from harness.rundir import RunDir
from tests.harness.fixtures import metric_row, summary_for, ticks_for, write_run, write_seeded_store


def test_merge_copies_missing_runs_suites_and_pictures(results_tree, tmp_path):
    dest = tmp_path / "merged"
    report = merge_results([results_tree.root], dest)
    assert "table1/A__ffhq" in report.copied_runs and report.suites_written == (
        "figure8", "table1", "table2", "table3",
    )
    assert (dest / "table1/reals__ffhq.png").exists()
    assert load_results(dest)["fid"].equals(load_results(results_tree.root)["fid"])
    again = merge_results([results_tree.root], dest)  # idempotent: nothing new the second time
    assert again.copied_runs == () and again.metric_rows_added == 0 and again.suites_written == ()


def test_merge_conflict_keeps_the_finished_run_and_unions_metrics(tmp_path):
    machine_a, machine_b = tmp_path / "a", tmp_path / "b"
    # Machine A: interrupted at 2 kimg, but it measured KID. Machine B: finished, measured FID.
    write_run(machine_a / "table1/E__ffhq", "E", metrics=[metric_row("kid", 0.2, 1.0)],
              ticks=ticks_for(100.0, 0.1)[:2], summary=None)
    write_run(machine_b / "table1/E__ffhq", "E", metrics=[metric_row("fid", 9.0, 3.0)],
              ticks=ticks_for(100.0, 0.1), summary=summary_for(100.0))
    dest = tmp_path / "dest"
    shutil.copytree(machine_a, dest)
    report = merge_results([machine_b], dest)
    assert report.replaced_runs == ("table1/E__ffhq",) and report.metric_rows_added == 1
    assert RunDir(dest / "table1/E__ffhq").is_done()
    metrics = {row["metric"] for row in read_jsonl(dest / "table1/E__ffhq/metrics.jsonl")}
    assert metrics == {"fid", "kid"}
    # Merging the unfinished copy back keeps the finished run and adds no duplicate rows.
    report = merge_results([machine_a, machine_b], dest)
    assert report.kept_runs == ("table1/E__ffhq", "table1/E__ffhq") and report.metric_rows_added == 0
    assert RunDir(dest / "table1/E__ffhq").is_done()


def test_merge_conflict_between_unfinished_runs_keeps_more_images(tmp_path):
    short, long = tmp_path / "short", tmp_path / "long"
    write_run(short / "s/run", "E", ticks=ticks_for(1.0, 0.1)[:1], summary=None)
    write_run(long / "s/run", "E", ticks=ticks_for(1.0, 0.1), summary=None)
    assert merge_results([long], short).replaced_runs == ("s/run",)
    assert len(read_jsonl(short / "s/run/stats.jsonl")) == 3


def test_merge_refuses_different_scales(results_tree, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(results_tree.root, other)
    suite = json.loads((other / "table1/suite.json").read_text())
    (other / "table1/suite.json").write_text(json.dumps({**suite, "scale": "paper"}))
    with pytest.raises(ValueError, match="scale 'paper'.*scale 'smoke'"):
        merge_results([other], results_tree.root)


def test_merge_keeps_every_training_seed_of_a_cell(tmp_path):
    machine_a, machine_b, dest = tmp_path / "a", tmp_path / "b", tmp_path / "dest"
    write_seeded_store(machine_a, {"C": {"fid": [10.0]}})  # seed 0 trained on one machine
    write_seeded_store(machine_b, {"C": {"fid": [10.0, 12.0]}})  # seeds 0 and 1 on another
    merge_results([machine_a, machine_b], dest)
    frame = load_results(dest)
    assert sorted(frame["seed"]) == [0, 1] and sorted(frame["fid"]) == [10.0, 12.0]

