from harness.suites.runner import plan_runs
from harness.suites.scales import get_scale
from harness.suites.tables import get_suites


def test_each_run_is_planned_once_under_its_first_suite():
    runs = plan_runs(get_suites("all"), get_scale("smoke"), lambda source: source.startswith("openmoji"))
    keys = [(run.config, run.column) for run in runs]
    assert len(keys) == len(set(keys))
    by_key = {(run.config, run.column): run for run in runs}
    assert by_key[("E", "FFHQ")].folder == "table1/E__ffhq"  # also Figure 8's (a)
    assert by_key[("A", "LSUN Cat")].folder == "table3/A__lsun-cat"
    assert by_key[("F", "LSUN Car")].source == "openmoji:travel-places"
    # 13 Table 1 runs, 16 new Table 2 runs (E shared), 6 new Table 3 runs (Car shared), 0 for Figure 8
    assert len(runs) == 13 + 16 + 6
