import pandas as pd
import pytest

from harness.learning import check_run, learning_checks


def test_the_early_snapshot_is_the_first_after_ten_percent_of_the_budget():
    fids = {0.5: 3000.0, 1.0: 2000.0, 2.0: 1500.0, 10.0: 1000.0}
    check = check_run("r", fids, budget_kimg=10)
    assert (check.early_kimg, check.early_fid) == (1.0, 2000.0)
    assert (check.final_kimg, check.final_fid) == (10.0, 1000.0)
    assert check.ratio == 0.5 and check.learns  # exactly half: learns
    assert not check_run("r", {**fids, 10.0: 1001.0}, budget_kimg=10).learns
    assert check_run("r", {0.5: 3000.0}, budget_kimg=10) is None  # no snapshot after 10%


@pytest.mark.parametrize("fids", [
    {1.0: 2000.0, 5.0: 800.0},  # stopped at half the budget
    {10.0: 900.0},  # one snapshot: nothing to compare
])
def test_a_run_that_did_not_reach_its_end_or_has_one_snapshot_does_not_learn(fids):
    assert not check_run("r", fids, budget_kimg=10).learns


def test_checks_read_the_fid_rows_of_every_run_and_its_budget():
    results = pd.DataFrame({"run": ["t1/a", "t1/a", "t1/b"], "kimg": [4.0, 4.0, 4.0]})
    rows = pd.DataFrame({
        "run": ["t1/a", "t1/a", "t1/a", "t1/b", "t1/b"],
        "metric": ["fid", "kid", "fid", "fid", "fid"],
        "snapshot_kimg": [2.0, 4.0, 4.0, 2.0, 4.0],
        "value": [1000.0, 0.1, 400.0, 1000.0, 800.0],
    })
    checks = learning_checks(rows, results)
    assert [(check.run, check.ratio, check.learns) for check in checks] == [("t1/a", 0.4, True),
                                                                              ("t1/b", 0.8, False)]
    assert learning_checks(pd.DataFrame(columns=["run"]), results) == []
