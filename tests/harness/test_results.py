"""The results store: lowest-FID snapshot selection, seeds, shared runs, corrupt files, speed
(merging: test_results_merge.py)."""

import json
import math

import pytest

from harness.findings import run_shares
from harness.results import (
    ResultsError,
    load_metric_rows,
    load_results,
    load_speed,
    load_stats,
    resolve_run,
    select_metrics,
)
from tests.harness.fixtures import (
    XSS_DATASET,
    XSS_RUN_ID,
    metric_row,
    write_seeded_store,
    write_untrained_store,
)


def cell(frame, table, row, subcolumn=None):
    rows = frame[(frame["table"] == table) & (frame["row"] == row)]
    if subcolumn is not None:
        rows = rows[rows["subcolumn"] == subcolumn]
    assert len(rows) == 1, f"expected one {table}/{row} cell, found {len(rows)}"
    return rows.iloc[0]


def test_metrics_come_from_the_lowest_fid_snapshot(results_tree):
    frame = load_results(results_tree.root)
    a = cell(frame, "table1", "A")
    # FID 50 @1, 40 @2, 45 @3: snapshot 2 wins although 3 is the latest; pr @3 (0.99) is ignored.
    assert a["snapshot_kimg"] == 2.0 and a["fid"] == 40.0 and a["fid_std"] == 0.1
    assert (a["precision"], a["recall"]) == (0.60, 0.30)
    assert a["ppl"] == 300.0 and a["kid"] == 0.01 and a["pr_snapshot_kimg"] == 2.0


def test_select_metrics_falls_back_without_fid_and_for_missing_metrics():
    rows = [metric_row("ppl", 10.0, 1.0), metric_row("ppl", 8.0, 3.0), metric_row("kid", 0.5, 1.0)]
    selected = select_metrics(rows)
    assert selected["snapshot_kimg"] == 3.0 and selected["ppl"] == 8.0
    assert selected["kid"] == 0.5 and selected["kid_snapshot_kimg"] == 1.0  # its own latest snapshot
    # An unmeasured metric has no columns here; load_results shows the paper's ones as None.
    assert "fid" not in selected and selected["comparable"] is False
    # Two rows of the same snapshot: the one with more evaluations is reported, the later on a tie.
    again = select_metrics([metric_row("fid", 5.0, 1.0), metric_row("fid", 4.0, 1.0)])
    assert again["fid"] == 4.0
    more = select_metrics([metric_row("fid", 5.0, 1.0, repeats=3), metric_row("fid", 4.0, 1.0, repeats=1)])
    assert more["fid"] == 5.0 and more["fid_repeats"] == 3
    assert select_metrics([])["comparable"] is None


def test_shared_run_appears_in_every_suite_that_points_to_it(results_tree):
    frame = load_results(results_tree.root)
    table1_e = cell(frame, "table1", "E")
    table2_e = cell(frame, "table2", "G output skips", "D residual")
    figure8_e = cell(frame, "figure8", "(a) config E")
    assert table1_e["run"] == table2_e["run"] == figure8_e["run"] == "table1/E__ffhq"
    assert table2_e["column"] == "FFHQ" and table2_e["fid"] == table1_e["fid"] == 35.0


def test_descriptive_columns(results_tree):
    frame = load_results(results_tree.root)
    a = cell(frame, "table1", "A")
    assert a["status"] == "finished" and a["img_per_s"] == 100.0
    # No GPU energy: the CPU's 3000 J over 3000 images.
    assert a["energy_j"] == 3000.0 and a["energy_source"] == "rapl"
    assert a["energy_j_per_kimg"] == pytest.approx(3000.0 / 3.0) and a["peak_mem_bytes"] == 2**20
    assert a["feature_network"] == "efficientnet-lite0" and a["comparable"] is False
    assert a["licence"] == "CC BY-SA 4.0" and a["dataset"] == "openmoji:smileys-emotion"
    assert a["config_style_block"] == "adain" and a["config_growing"] is True
    assert a["env_torch"] == "2.13.0" and a["env_git_commit"] == "0123456789abcdef"
    assert a["scale"] == "smoke" and a["paper_dataset"] == "FFHQ"
    unfinished = cell(frame, "table1", "A-large")
    assert unfinished["status"] == "partial" and unfinished["run_id"] == XSS_RUN_ID
    assert unfinished["dataset"] == XSS_DATASET and unfinished["images_shown"] == 3000.0  # last tick


def test_a_run_never_trained_is_not_measured(results_tree):
    missing = cell(load_results(results_tree.root), "table3", "StyleGAN")
    assert missing["status"] == "missing" and math.isnan(missing["fid"])
    assert missing["dataset"] == "openmoji:travel-places"  # the cell's source stands in


def test_a_torn_metric_line_is_skipped_with_a_warning_and_the_run_still_loads(results_tree):
    path = results_tree.root / "table1/A__ffhq/metrics.jsonl"
    path.write_text(path.read_text() + '{"metric": "ki')  # an interrupted append
    with pytest.warns(UserWarning, match="metrics.jsonl:8: skipping a torn last line"):
        assert cell(load_results(results_tree.root), "table1", "A")["fid"] == 40.0


def test_a_corrupt_metric_line_names_file_and_line(results_tree):
    path = results_tree.root / "table1/A__ffhq/metrics.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{oops}", *lines[1:]]) + "\n")
    with pytest.warns(UserWarning, match=r"A__ffhq.*metrics.jsonl:2: corrupt JSON line"):
        frame = load_results(results_tree.root)
    assert cell(frame, "table1", "A")["status"] == "error" and cell(frame, "table1", "B")["fid"] > 0


def test_one_corrupt_run_warns_and_the_others_still_load(results_tree):
    (results_tree.root / "table1/B__ffhq/summary.json").write_text("{not json")
    with pytest.warns(UserWarning, match="B__ffhq.*summary.json: corrupt JSON"):
        frame = load_results(results_tree.root)
    b = cell(frame, "table1", "B")
    assert b["status"] == "error" and "summary.json" in b["error"]
    assert cell(frame, "table1", "A")["fid"] == 40.0


def test_corrupt_suite_file_is_skipped_with_a_warning(results_tree):
    (results_tree.root / "table3/suite.json").write_text("{")
    with pytest.warns(UserWarning, match="table3/suite.json"):
        frame = load_results(results_tree.root)
    assert "table3" not in set(frame["table"]) and "table1" in set(frame["table"])


def test_run_paths_must_stay_inside_the_store(tmp_path):
    with pytest.raises(ResultsError, match="stay inside"):
        resolve_run(tmp_path, "../elsewhere/run")


def test_long_tables_for_curves(results_tree):
    stats = load_stats(results_tree.root)
    e_ticks = stats[stats["run"] == "table1/E__ffhq"]
    assert list(e_ticks["kimg"]) == [1.0, 2.0, 3.0]
    assert list(e_ticks["fig8.16"]) == pytest.approx([0.10, 0.20, 0.30])
    assert "img_per_s/G_main" in stats
    # F's ticks use the contract's key; both read the same way.
    f_shares = run_shares(stats, "table1/F__ffhq")
    assert list(f_shares.columns) == ["kimg", 4, 8, 16]
    assert list(f_shares[16]) == pytest.approx([0.12, 0.30, 0.45])
    assert run_shares(stats, "table1/A__ffhq").empty  # original G: no Figure 8
    rows = load_metric_rows(results_tree.root)
    assert len(rows[rows["run"] == "table1/A__ffhq"]) == 7  # every snapshot kept for curves


def test_a_store_with_no_trained_run_still_has_every_column(tmp_path):
    write_untrained_store(tmp_path)
    frame = load_results(tmp_path)
    assert list(frame["status"]) == ["missing"] and frame["fid"].isna().all()
    assert list(frame["dataset"]) == ["openmoji"] and frame["comparable"].isna().all()


def test_older_stores_are_seed_0_and_the_droplet_is_the_last_ticks(results_tree):
    frame = load_results(results_tree.root)
    assert set(frame["seed"]) == {0}
    assert cell(frame, "table1", "A")["droplet"] == 0.30 and cell(frame, "table1", "B")["droplet"] == 0.05


def test_one_row_per_cell_and_training_seed(tmp_path):
    write_seeded_store(tmp_path, {"C": {"fid": [40.0, 41.0, 42.0]}, "D": {"fid": [30.0, 31.0]}})
    frame = load_results(tmp_path)
    assert list(zip(frame["row"], frame["seed"], frame["run_id"], strict=True)) == [
        ("C", 0, "C__ffhq__seed0"), ("C", 1, "C__ffhq__seed1"), ("C", 2, "C__ffhq__seed2"),
        ("D", 0, "D__ffhq__seed0"), ("D", 1, "D__ffhq__seed1")]
    assert list(frame["fid"]) == [40.0, 41.0, 42.0, 30.0, 31.0] and (frame["scale"] == "cpu").all()


def test_a_metric_row_written_twice_is_counted_once(results_tree):
    path = results_tree.root / "table1/A__ffhq/metrics.jsonl"
    before = load_metric_rows(results_tree.root)
    path.write_text(path.read_text() + path.read_text().splitlines(keepends=True)[1])  # FID @2 again
    after = load_metric_rows(results_tree.root)
    assert len(after) == len(before)
    assert cell(load_results(results_tree.root), "table1", "A")["fid"] == 40.0


def test_comparability_labels_per_metric_and_overall(tmp_path):
    rows = [metric_row("fid", 9.0, 1.0, comparability="approximately comparable",
                       comparability_reason="10,000 samples instead of 50,000"),
            metric_row("ppl", 5.0, 1.0, comparable_to_published=True)]  # an older row: flag only
    selected = select_metrics(rows)
    assert selected["fid_comparability"] == "approximately comparable"
    assert selected["ppl_comparability"] is None  # only labelled rows show a label in the tables
    assert selected["comparability"] == "approximately comparable" and selected["comparable"] is False
    assert selected["comparability_reason"] == "10,000 samples instead of 50,000"
    assert select_metrics([metric_row("fid", 9.0, 1.0)])["comparability"] == "not comparable"


def test_side_by_side_speed(tmp_path):
    assert load_speed(tmp_path) is None
    write_seeded_store(tmp_path, {"A": {"fid": [1.0]}}, speed={"A": [37.0, 36.0], "E": [61.0, 60.0]})
    assert load_speed(tmp_path)["img_per_s"]["E"] == [61.0, 60.0]
    (tmp_path / "speed.json").write_text(json.dumps({"img_per_s": {"A": []}}))
    with pytest.raises(ResultsError, match="speed.json: 'img_per_s' must map each configuration"):
        load_speed(tmp_path)
