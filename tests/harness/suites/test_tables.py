import pytest

from harness.suites.tables import CAR, CAT, CHURCH, DATASET_SETTINGS, FFHQ, HORSE, SUITES, get_suites, run_id


def test_table1_has_the_papers_cells():
    cells = SUITES["table1"].cells
    assert {c.row for c in cells if c.dataset == FFHQ} == {"A", "B", "C", "D", "E", "F", "A-large"}
    assert {c.row for c in cells if c.dataset == CAR} == {"A", "B", "C", "D", "E", "F"}


def test_table2_is_a_3x3_grid_per_dataset():
    cells = SUITES["table2"].cells
    assert len(cells) == 18
    assert len({c.config for c in cells}) == 9
    assert "G-original/D-skip" in {c.config for c in cells}
    assert "E" in {c.config for c in cells}  # the skip/residual cell is config E itself


def test_shared_runs_are_one_key():
    # Config E on FFHQ is Table 1's E, Table 2's skip/residual cell and Figure 8 (a): the runner keys
    # runs by (config, dataset), so Table 2's cell must name the same config as Table 1 or be distinct.
    all_runs = [run for suite in get_suites("all") for run in suite.runs()]
    assert ("E", FFHQ) in all_runs and ("F", CAR) in all_runs
    assert all_runs.count(("E", FFHQ)) == 3  # table1, table2 and figure8


def test_unknown_suite_lists_known():
    with pytest.raises(ValueError, match="known suites: all, table1, table2, table3, figure8"):
        get_suites("table4")


def test_run_id_is_folder_safe_and_names_the_seed():
    assert run_id("G-skip/D-residual", "LSUN Car", 2) == "G-skip_D-residual__lsun-car__seed2"


def test_evaluation_counts_follow_the_papers_captions():
    # Table 1's caption: each metric computed 10 times and averaged; the other tables: one evaluation
    assert {name: suite.evaluations for name, suite in SUITES.items()} == {
        "table1": 10, "table2": 1, "table3": 1, "figure8": 1}
    assert "10 times with different random seeds" in SUITES["table1"].evaluations_source
    assert all(suite.evaluations_source for suite in SUITES.values())


def test_dataset_settings_are_the_official_commands():
    # README of the official StyleGAN2: FFHQ mirrored; F on Church and Horse with gamma 100; lengths
    assert {column: settings.kimg for column, settings in DATASET_SETTINGS.items()} == {
        FFHQ: 25000, CAR: 57000, CAT: 88000, CHURCH: 88000, HORSE: 100000}
    assert [column for column, settings in DATASET_SETTINGS.items() if settings.xflip] == [FFHQ]
    overrides = {column: settings.config_overrides for column, settings in DATASET_SETTINGS.items()}
    assert overrides == {FFHQ: {}, CAR: {}, CAT: {}, CHURCH: {"F": {"r1_gamma": 100.0}},
                         HORSE: {"F": {"r1_gamma": 100.0}}}
    assert "--gamma=100" in DATASET_SETTINGS[CHURCH].source
    assert "--mirror-augment=true" in DATASET_SETTINGS[FFHQ].source
