"""Cells over training seeds: mean, 95% t-interval, n, evaluation spread, Samples for the rule."""

import math

import pandas as pd
import pytest
from scipy import stats

from harness.cells import cell_sample, find_cell, format_estimate, summarize_cells
from harness.results import load_results
from tests.harness.fixtures import write_seeded_store


def test_summary_averages_seeds_with_a_t_interval(tmp_path):
    write_seeded_store(tmp_path, {"C": {"fid": [40.0, 41.0, 45.0], "ppl": [200.0, 210.0, 190.0]},
                                  "D": {"fid": [30.0]}}, eval_std=0.5)
    cells = summarize_cells(load_results(tmp_path))
    c = find_cell(cells, "table1", "C", "FFHQ")
    low, high = stats.t.interval(0.95, 2, loc=42.0, scale=stats.sem([40.0, 41.0, 45.0]))
    assert c["fid"] == pytest.approx(42.0) and c["fid_ci95"] == pytest.approx((high - low) / 2)
    assert (c["fid_n"], c["n_seeds"], c["seeds"]) == (3, 3, (0, 1, 2))
    assert c["run_ids"] == ("C__ffhq__seed0", "C__ffhq__seed1", "C__ffhq__seed2")
    assert c["fid_values"] == (40.0, 41.0, 45.0) and c["fid_eval_std"] == pytest.approx(0.5)
    assert c["fid_seeds"] == (0, 1, 2) and cell_sample(c, "fid").keys == (0, 1, 2)  # pairs up by seed
    assert c["status"] == "finished" and c["scale"] == "cpu"
    d = find_cell(cells, "table1", "D", "FFHQ")
    assert d["fid"] == 30.0 and d["fid_ci95"] is None and d["ppl"] is None and d["ppl_n"] == 0
    assert find_cell(cells, "table1", "E", "FFHQ") is None


def test_a_cell_is_as_finished_as_its_least_finished_seed():
    results = pd.DataFrame([
        dict(suite="t", table="t", row="A", column="X", subcolumn=None, seed=0, status="finished", fid=1.0,
             fid_std=0.3),
        dict(suite="t", table="t", row="A", column="X", subcolumn=None, seed=1, status="partial",
             fid=math.nan, fid_std=0.4),
    ])
    cell = summarize_cells(results).iloc[0].to_dict()
    assert cell["status"] == "partial" and cell["fid_n"] == 1 and cell["fid_eval_std"] == pytest.approx(0.3)
    assert cell["fid_seeds"] == (0,)  # the seeds whose values the cell holds, not every seed it ran


def test_samples_and_formatting():
    cell = {"fid_values": (1.0, 2.0), "fid_eval_std": 0.2, "ppl_values": ()}
    sample = cell_sample(cell, "fid")
    assert sample.values == (1.0, 2.0) and sample.eval_std == 0.2 and sample.keys is None  # no seeds: Welch
    assert cell_sample(cell, "ppl") is None and cell_sample(None, "fid") is None
    assert format_estimate(12.345, 0.5612, 3, 2) == "12.35 ± 0.56 (n=3)"
    assert format_estimate(12.345, None, 1, 1) == "12.3 (n=1)" and format_estimate(None, None, 0, 2) is None
    assert summarize_cells(pd.DataFrame()).empty
