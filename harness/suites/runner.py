"""One run of a suite: plan the unique runs, then train each (resuming) and measure it.

The store (docs/architecture.md): `results/<suite>/<run-id>/` is a run directory (harness.rundir),
one per (config, dataset column, training seed); a run that several suites need lives under the
first of them and the others' `suite.json` point to it. Every step is idempotent: a finished run
is skipped, an interrupted one resumes from its checkpoint, and metrics already in
`metrics.jsonl` with enough evaluations are not computed again. harness.suites.driver runs a
whole suite through an executor; this module imports neither.
"""

from dataclasses import dataclass
from pathlib import Path

from harness.rundir import RunDir, RunState
from harness.runlock import RunLockedError, run_lock
from harness.suites.scales import PAPER_CONTENT_HEIGHT, Scale, resolve_dataset
from harness.suites.tables import DATASET_SETTINGS, SUITES, Suite, run_id


@dataclass(frozen=True, kw_only=True)
class PlannedRun:
    """One training run: `config` on the paper's `column`, stood in for by `source`, with training
    seed `seed`; `evaluations` metric evaluations per number (the most any table using it needs)."""

    run_id: str
    config: str
    column: str
    source: str
    folder: str  # relative to the results root, e.g. "table1/E__ffhq__seed0"
    seed: int = 0
    evaluations: int = 1


def run_evaluations(scale: Scale, suites: tuple[Suite, ...] = ()) -> dict[tuple[str, str], int]:
    """(config, column) -> the largest evaluation count of any covered table using that run. Taken
    over every suite (the paper's and `suites`), not only those requested, so that a run's count
    does not depend on the command that trained it."""
    counts: dict[tuple[str, str], int] = {}
    for suite, cell in covered_cells(scale, suites):
        key = (cell.config, cell.dataset)
        counts[key] = max(counts.get(key, 1), scale.evaluations(suite))
    return counts


def covered_cells(scale: Scale, suites: tuple[Suite, ...] = ()):
    """(suite, cell) for every cell of the paper's suites and `suites` that `scale` covers."""
    for suite in {**SUITES, **{suite.name: suite for suite in suites}}.values():
        for cell in suite.cells:
            if scale.covers(suite.name, cell.row, cell.dataset):
                yield suite, cell


def plan_runs(suites: tuple[Suite, ...], scale: Scale, is_installed, missing_source=None) -> list[PlannedRun]:
    """Unique runs of the covered cells, seed by seed; each lives under the first suite needing it.

    `missing_source(column) -> str`, when given, stands in for a column without a source (dry runs)
    instead of the error that names the --data flag.
    """
    counts, sources = run_evaluations(scale, suites), {}
    planned: dict[tuple[str, str, int], PlannedRun] = {}
    for seed in range(scale.seeds):
        for suite in suites:
            for cell in suite.cells:
                key = (cell.config, cell.dataset, seed)
                if key in planned or not scale.covers(suite.name, cell.row, cell.dataset):
                    continue
                if cell.dataset not in sources:
                    sources[cell.dataset] = _source(scale, cell.dataset, is_installed, missing_source)
                rid = run_id(cell.config, cell.dataset, seed)
                planned[key] = PlannedRun(
                    run_id=rid, config=cell.config, column=cell.dataset, source=sources[cell.dataset],
                    folder=f"{suite.name}/{rid}", seed=seed,
                    evaluations=counts[(cell.config, cell.dataset)],
                )
    return list(planned.values())


def _source(scale: Scale, column: str, is_installed, missing_source) -> str:
    try:
        return resolve_dataset(scale, column, is_installed)
    except ValueError:
        if missing_source is None:
            raise
        return missing_source(column)


def train_options(run: PlannedRun, scale: Scale, results_root: Path):
    """The TrainOptions of a planned run at `scale`: the scale's sizes, the dataset's settings of
    the official commands (tables.DATASET_SETTINGS: x-flips, per-config R1 gamma, paper length),
    R1 gamma of a non-growing config scaled to the run's resolution (Scale.r1_gamma_factor)."""
    import variants
    from harness.data import source_channels
    from harness.train import TrainOptions

    settings = DATASET_SETTINGS[run.column]
    resolution = scale.run_resolution(run.column)
    content_height = PAPER_CONTENT_HEIGHT.get(run.column) if scale.resolution == 0 else None
    config = variants.get_config(
        run.config,
        resolution=resolution,
        width_multiplier=scale.width_multiplier,
        batch_size=scale.batch_size,
        mapping_layers=scale.mapping_layers,
        fmap_max=scale.fmap_max,
        content_height=content_height,
        img_channels=source_channels(run.source),  # train() sets it from the dataset; the plan shows it
        ema_rampup=scale.ema_rampup,
        **({} if scale.lr is None else {"lr": scale.lr, "growing_lr_by_res": ((4, scale.lr),)}),
        **settings.config_overrides.get(run.config, {}),
    )
    config = config.replace(r1_gamma=config.r1_gamma * scale.r1_gamma_factor(run.column, config.growing))
    run_dir = results_root / run.folder
    return TrainOptions(
        config=config,
        data=run.source,
        out=run_dir,
        kimg=scale.run_kimg(run.column),
        seed=run.seed,
        xflip=settings.xflip,
        resume=RunDir(run_dir).has_checkpoint(),
        tick_kimg=scale.tick_kimg,
        snapshot_kimg=scale.snapshot_kimg,
        first_snapshot_kimg=scale.first_snapshot_kimg(run.column),
        growing_fraction=scale.growing_fraction,
        fig8_samples=scale.fig8_samples,
        device=scale.device,
    )


def stale_finished_runs(records: list[dict]) -> list[str]:
    """'<folder> (differences)' for each plan record (plan_records) whose run folder holds a finished
    run trained with other settings (config, data, seed, x-flips, budget) than the record plans."""
    from harness.train.rundir import finished_run_differences

    stale = []
    for record in records:
        differences = finished_run_differences(record["options"])
        if differences:
            stale.append(f"{record['run']} ({'; '.join(differences)})")
    return stale


def plan_records(runs: list[PlannedRun], scale: Scale, results_root: Path, suites=()) -> list[dict]:
    """One JSON-ready record per run: the cells it fills and its resolved TrainOptions (the dry
    run's output; building them also checks every run's settings before anything trains)."""
    tables: dict[tuple[str, str], list[str]] = {}
    for suite, cell in covered_cells(scale, suites):
        tables.setdefault((cell.config, cell.dataset), []).append(f"{suite.name}: {cell.row} | {cell.column}")
    return [
        dict(run=run.folder, config=run.config, paper_dataset=run.column, dataset=run.source, seed=run.seed,
             evaluations=run.evaluations, cells=tables[(run.config, run.column)],
             settings_source=DATASET_SETTINGS[run.column].source,
             options=train_options(run, scale, Path(results_root)).to_dict())
        for run in runs
    ]


def measured(run_dir: Path, evaluations: int) -> set[tuple[str, int]]:
    """(metric, snapshot images) pairs in the run's metrics.jsonl with at least `evaluations` repeats."""
    return {(row["metric"], round(row["snapshot_kimg"] * 1000)) for row in RunDir(run_dir).metric_rows()
            if (row.get("repeats") or 1) >= evaluations}


def snapshot_metrics(features: str) -> list[str]:
    """FID plus the metrics that use FID's feature network under `features`: measured at every
    snapshot in one pass, they reuse its generated samples and features (KID always; precision/
    recall too when it does not use the published VGG-16, e.g. with EfficientNet-Lite0 offline)."""
    from harness.metrics.options import MetricOptions, network_for

    options = MetricOptions(features=features)
    fid_network = network_for("fid", options)
    return ["fid"] + [name for name in ("kid", "pr") if network_for(name, options) == fid_network]


def evaluate(run_dir: Path, scale: Scale, names: list[str], kimg: float, num_samples: int,
             evaluations: int, log) -> None:
    """The one place the suites call metrics.compute: `names` at snapshot `kimg`."""
    from harness import metrics

    log(f"  {','.join(names)} @ {kimg:g} kimg ({evaluations} evaluation(s))")
    options = metrics.MetricOptions(num_samples=num_samples, repeats=evaluations, features=scale.features,
                                    kid_subsets=scale.kid_subsets, device=scale.device,
                                    feature_input_size=scale.feature_input_size or None)
    metrics.compute(run_dir, names, options, snapshot=kimg)


def measure_run(run_dir: Path, scale: Scale, evaluations: int = 1, log=print) -> None:
    """FID (with the metrics sharing its network) once at every snapshot, then every registered
    metric `evaluations` times at the lowest-FID one, as the official workflow measures once per
    snapshot while training and evaluates the chosen snapshot again for the paper's tables
    (harness.rundir.lowest_fid_snapshot chooses on the single evaluations, so the repeats never move
    it); then the sample grids of that snapshot and of the first one, and the feature maps."""
    run = RunDir(run_dir)
    done, every_snapshot = measured(run_dir, 1), snapshot_metrics(scale.features)
    for kimg in run.snapshot_kimgs():
        missing = [name for name in every_snapshot if (name, round(kimg * 1000)) not in done]
        if missing:
            evaluate(run_dir, scale, missing, kimg, scale.fid_samples, 1, log)
    best = run.best_snapshot_kimg()
    done = measured(run_dir, evaluations)
    missing = [name for name in every_snapshot if (name, round(best * 1000)) not in done]
    if missing:  # in one pass, as above: they share the generated samples and their features
        evaluate(run_dir, scale, missing, best, scale.fid_samples, evaluations, log)
    from harness.metrics import METRICS

    # every other registered metric: those on features first, then the perceptual ones (PPL)
    specs = {name: METRICS.get(name) for name in METRICS.names() if name not in every_snapshot}
    for name in sorted(specs, key=lambda name: specs[name].perceptual):
        samples = scale.ppl_samples if specs[name].perceptual else scale.fid_samples
        if (name, round(best * 1000)) not in done:
            evaluate(run_dir, scale, [name], best, samples, evaluations, log)
    from harness.distributed import current

    if current().is_main:  # under torchrun: once
        save_pictures(run_dir, best, log)


def save_pictures(run_dir: Path, best_kimg: float, log=print) -> None:
    """figures/samples.png and feature maps at the lowest-FID snapshot; figures/samples_first.png
    (the same latents) at the first snapshot, so the report shows what training changed. Only the
    missing ones are drawn: an exported store (results/*-example) keeps the pictures, not the weights."""
    import variants
    from harness.suites.artifacts import save_run_pictures, save_sample_grid

    run = RunDir(run_dir)
    missing_best, missing_first = (not run.figure(name).exists()
                                   for name in (RunDir.SAMPLES, RunDir.SAMPLES_FIRST))
    if not (missing_best or missing_first):
        return
    snapshots = run.snapshot_kimgs()
    if not snapshots:
        log(f"  {run_dir}: no snapshots left, so no sample grids are drawn")
        return
    if missing_best:
        save_run_pictures(variants.load_network(run.snapshot_at(best_kimg)), run_dir)
    if missing_first:
        first = variants.load_network(run.snapshot_at(snapshots[0]))
        save_sample_grid(first, run.figure(RunDir.SAMPLES_FIRST))


def execute_run(run: PlannedRun, scale: Scale, results_root: Path, log=print) -> str:
    """Train (or resume, or skip) one run and measure it. Safe to call in any process."""
    from harness.train import train

    run_dir = Path(results_root) / run.folder
    try:
        with run_lock(run_dir):  # one process per run: a second suite process skips it
            if RunDir(run_dir).state() is RunState.DONE:
                log(f"{run.run_id}: trained already")
            else:
                train(train_options(run, scale, Path(results_root)))
            measure_run(run_dir, scale, run.evaluations, log)
    except RunLockedError as error:
        log(f"{run.run_id}: skipped, another process owns it: {error.owner}")
    return run.run_id
