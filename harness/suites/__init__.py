"""Declarative suites (Tables 1-3, Figure 8), scale presets, the runner that trains and measures one
run, and the driver that fills the store."""

from harness.suites.driver import run_suites
from harness.suites.runner import PlannedRun, execute_run, plan_runs
from harness.suites.scales import SCALES, Scale, get_scale
from harness.suites.tables import DATASET_SETTINGS, SUITES, Cell, DatasetSettings, Suite, get_suites, run_id

__all__ = [
    "DATASET_SETTINGS",
    "SCALES",
    "SUITES",
    "Cell",
    "DatasetSettings",
    "PlannedRun",
    "Scale",
    "Suite",
    "execute_run",
    "get_scale",
    "get_suites",
    "plan_runs",
    "run_id",
    "run_suites",
]
