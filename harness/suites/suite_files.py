"""`<results>/<suite>/suite.json`: what a suite's cells are, which runs fill them, how they were set up.

Keys: suite, description, scale, purpose, scale_values (every Scale field), seeds (training seeds
per cell), cells (one entry per (cell, seed): table, row, column, paper_dataset, config, dataset,
run, seed), evaluations ({table: metric evaluations per number at this scale}) and
evaluations_source ({table: where the paper's count comes from, and the scale's cap}), coverage
(the cells this scale leaves out), dataset_settings (per paper dataset: the official commands'
settings, their source, and whether the metrics mirror the reals as the official metric code
does), written.
"""

import time
from pathlib import Path

from common.io import write_json_atomic
from harness.suites.scales import Scale
from harness.suites.tables import DATASET_SETTINGS, Suite

# Official metric code for mirrored datasets: NVlabs/stylegan2 metrics/metric_base.py, _iterate_reals
# (and run_metrics.py --mirror-augment=true for FFHQ in its README) flips each real at random with
# probability 1/2 (training/misc.py apply_mirror_augment) before FID and the other real statistics.
MIRRORED_REALS_NOTE = (
    "trained with x-flips; the official metric code (NVlabs/stylegan2 metrics/metric_base.py "
    "_iterate_reals, run_metrics.py --mirror-augment=true) mirrors each real at random with probability "
    "1/2 for the real statistics, the harness's metrics use the reals unmirrored"
)


def suite_record(suite: Suite, by_key: dict, scale: Scale) -> dict:
    """The suite.json object of `suite`; `by_key` maps (config, column, seed) to its PlannedRun."""
    covered = [cell for cell in suite.cells if scale.covers(suite.name, cell.row, cell.dataset)]
    cells = [
        dict(table=cell.table, row=cell.row, column=cell.column, paper_dataset=cell.dataset,
             config=cell.config, dataset=run.source, run=run.folder, seed=seed)
        for cell in covered
        for seed in range(scale.seeds)
        for run in [by_key[(cell.config, cell.dataset, seed)]]
    ]
    count = scale.evaluations(suite)
    source = suite.evaluations_source
    if count < suite.evaluations:
        source += f"; capped at {count} by scale {scale.name!r} (max_evaluations)"
    columns = dict.fromkeys(cell.dataset for cell in covered)
    return dict(
        suite=suite.name,
        description=suite.description,
        scale=scale.name,
        purpose=scale.purpose,
        scale_values=scale.to_dict(),
        seeds=scale.seeds,
        cells=cells,
        evaluations={suite.name: count},
        evaluations_source={suite.name: source},
        coverage=dict(
            suites=list(scale.suites), rows={key: list(rows) for key, rows in scale.rows.items()},
            columns=list(scale.columns),
            cells_not_covered=[dict(table=cell.table, row=cell.row, column=cell.column)
                               for cell in suite.cells if cell not in covered],
        ),
        dataset_settings={column: dataset_settings(column) for column in columns},
        written=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


def dataset_settings(column: str) -> dict:
    settings = DATASET_SETTINGS[column]
    record = dict(kimg_paper=settings.kimg, xflip=settings.xflip, config_overrides=settings.config_overrides,
                  source=settings.source, metric_reals_mirrored=False)
    if settings.xflip:
        record["note"] = MIRRORED_REALS_NOTE
    return record


def write_suite_files(suites, runs, scale: Scale, results_root: Path) -> None:
    by_key = {(run.config, run.column, run.seed): run for run in runs}
    for suite in suites:
        write_json_atomic(Path(results_root) / suite.name / "suite.json", suite_record(suite, by_key, scale))
