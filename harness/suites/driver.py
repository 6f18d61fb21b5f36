"""The suite driver: check the plan, write the suite files, hand every run to an executor, then time
the speed findings' configs side by side.

The import order is one way: driver -> executors -> (multiprocess ->) runner. After training,
`<results>/speed.json` holds img/s of the speed findings' configs timed side by side in one process
(harness.measure.speed).
"""

import time
from pathlib import Path

from common.io import read_json_object
from harness.rundir import RunDir
from harness.suites.executors import LocalExecutor
from harness.suites.runner import PlannedRun, plan_records, plan_runs, stale_finished_runs, train_options
from harness.suites.scales import Scale
from harness.suites.suite_files import write_suite_files
from harness.suites.tables import FFHQ, Suite, dataset_slug

SPEED_CONFIGS = ("A", "B", "C", "E", "F")  # the configs the speed findings compare (Table 1 footnote)
SPEED_NAME = "speed.json"


def save_reals(run: PlannedRun, scale: Scale, results_root: Path, suite_name: str) -> None:
    from harness.data import open_dataset
    from harness.suites.artifacts import SAMPLE_SEEDS, save_reals_grid

    path = results_root / suite_name / f"reals__{dataset_slug(run.column)}.png"
    if path.exists():
        return
    dataset = open_dataset(run.source, scale.run_resolution(run.column))
    count = min(len(SAMPLE_SEEDS), len(dataset))
    save_reals_grid(dataset.images[:count], path)


def speed_options(runs: list[PlannedRun], scale: Scale, results_root: Path) -> dict:
    """{config: TrainOptions} of SPEED_CONFIGS on the FFHQ column's data (else the first planned
    column's) at the scale's resolution, width and batch; nothing when the scale times no rounds."""
    if scale.speed_rounds == 0 or not runs:
        return {}
    column = FFHQ if any(run.column == FFHQ for run in runs) else runs[0].column
    source = next(run.source for run in runs if run.column == column)
    return {
        name: train_options(PlannedRun(run_id=f"speed-{name}", config=name, column=column, source=source,
                                       folder=f"speed/{name}"), scale, Path(results_root))
        for name in SPEED_CONFIGS
    }


def measure_speed(runs: list[PlannedRun], scale: Scale, results_root: Path, log=print) -> None:
    """Write `<results>/speed.json` unless one of the same settings is there already."""
    from harness.measure.speed import measure_speed as time_side_by_side

    options = speed_options(runs, scale, results_root)
    if not options:
        return
    path = Path(results_root) / SPEED_NAME
    first = next(iter(options.values()))
    wanted = dict(dataset=first.data, resolution=first.config.resolution, batch_size=first.config.batch_size,
                  rounds=scale.speed_rounds, steps_per_round=scale.speed_steps, configs=sorted(options))
    if path.exists():
        record = read_json_object(path)
        if {**{key: record.get(key) for key in wanted}, "configs": sorted(record["img_per_s"])} == wanted:
            log(f"speed: {path} has these settings already")
            return
    time_side_by_side(options, scale.speed_rounds, scale.speed_steps, path, log)


def check_plan(suites: tuple[Suite, ...], scale: Scale, results_root: Path, is_installed) -> list[PlannedRun]:
    """The planned runs, after checking that every run's config and options (and the speed timing's)
    are valid: a ValueError or TypeError here names the problem before anything trains."""
    runs = plan_runs(suites, scale, is_installed)
    if not runs:
        names = ", ".join(suite.name for suite in suites)
        raise ValueError(f"scale {scale.name!r} covers no cell of {names} (it covers suites "
                         f"{list(scale.suites) or 'all'}, columns {list(scale.columns) or 'all'}); choose "
                         f"another --suite or --scale")
    records = plan_records(runs, scale, results_root, suites)
    speed_options(runs, scale, results_root)
    stale = stale_finished_runs(records)
    if stale:  # a finished run is reused as it is, so one trained otherwise would mix settings in a table
        more = " ..." if len(stale) > 3 else ""
        raise ValueError(f"{len(stale)} finished run(s) in {results_root} were trained with other settings "
                         f"than this command plans: {'; '.join(stale[:3])}{more}. Pass another --results for "
                         f"these settings, or move those run folders away to train them again (nothing has "
                         f"been changed)")
    return runs


def run_suites(
    suites: tuple[Suite, ...], scale: Scale, results_root: Path, is_installed, log=print, executor=None
) -> list[PlannedRun]:
    """Plan and check every run, write the suite files, execute every run with `executor` (a
    harness.suites.executors.Executor; default: sequentially in this process), then time the speed
    findings' configs side by side."""
    results_root = Path(results_root)
    runs = check_plan(suites, scale, results_root, is_installed)
    write_suite_files(suites, runs, scale, results_root)  # first, so partial results are reportable
    executor = executor or LocalExecutor()
    started = time.time()
    log(f"{len(runs)} runs ({scale.seeds} seed(s) per cell) with {executor}")
    try:
        executor.map_runs(runs, scale, results_root)
    finally:
        owner = {run.folder: run.folder.split("/")[0] for run in runs}
        for run in runs:
            if RunDir(results_root / run.folder).is_done():
                save_reals(run, scale, results_root, owner[run.folder])
        log(f"executed {len(runs)} runs in {time.time() - started:.0f} s")
        report_owned_runs(runs, results_root, log)
    measure_speed(runs, scale, results_root, log)
    return runs


def report_owned_runs(runs: list[PlannedRun], results_root: Path, log=print) -> list[str]:
    """Log (and return) the runs that are not done because another process holds them, with the
    owner, so a user sees at the end which runs a second suite process left to the first."""
    owned = []
    for run in runs:
        folder = RunDir(results_root / run.folder)
        owner = None if folder.is_done() else folder.lock_owner()
        if owner:
            owned.append(f"{run.run_id} (owned by {owner})")
    if owned:
        log(f"{len(owned)} run(s) left to another process, rerun this command when it ends: "
            + "; ".join(owned))
    return owned
