"""Run suites: plan the unique runs, train each (resuming), measure it, write suite.json files.

The store (docs/architecture.md): `results/<suite>/<run-id>/` is a run directory, one per
(config, dataset column, training seed); a run that several suites need lives under the first of
them and the others' `suite.json` point to it. Every step is idempotent: a finished run is
skipped, an interrupted one resumes from its checkpoint, and metrics already in `metrics.jsonl`
with enough evaluations are not computed again. After training, `speed.json` holds img/s of the
speed findings' configs timed side by side in one process (harness.measure.speed).
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from harness.io import read_jsonl
from harness.suites.scales import PAPER_CONTENT_HEIGHT, Scale, resolve_dataset
from harness.suites.tables import DATASET_SETTINGS, FFHQ, SUITES, Suite, dataset_slug, run_id

SPEED_CONFIGS = ("A", "B", "C", "E", "F")  # the configs the speed findings compare (Table 1 footnote)
SPEED_NAME = "speed.json"


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
    the official commands (tables.DATASET_SETTINGS: x-flips, per-config R1 gamma, paper length)."""
    import variants
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
        ema_rampup=scale.ema_rampup,
        **settings.config_overrides.get(run.config, {}),
    )
    run_dir = results_root / run.folder
    return TrainOptions(
        config=config,
        data=run.source,
        out=run_dir,
        kimg=scale.run_kimg(run.column),
        seed=run.seed,
        xflip=settings.xflip,
        resume=(run_dir / "checkpoint.pt").exists(),
        tick_kimg=scale.tick_kimg,
        snapshot_kimg=scale.snapshot_kimg,
        fig8_samples=scale.fig8_samples,
        device=scale.device,
    )


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


def is_trained(run_dir: Path) -> bool:
    summary = run_dir / "summary.json"
    return summary.exists() and json.loads(summary.read_text()).get("done") is True


def measured(run_dir: Path, evaluations: int) -> set[tuple[str, int]]:
    """(metric, snapshot images) pairs in the run's metrics.jsonl with at least `evaluations` repeats."""
    path = run_dir / "metrics.jsonl"
    rows = read_jsonl(path) if path.exists() else []
    return {(row["metric"], round(row["snapshot_kimg"] * 1000)) for row in rows
            if (row.get("repeats") or 1) >= evaluations}


def snapshot_kimgs(run_dir: Path) -> list[float]:
    return sorted(int(path.stem) / 1000 for path in (run_dir / "snapshots").glob("*.safetensors"))


def snapshot_metrics(features: str) -> list[str]:
    """FID plus the metrics that use FID's feature network under `features`: measured at every
    snapshot in one pass, they reuse its generated samples and features (KID always; precision/
    recall too when it does not use the published VGG-16, e.g. with EfficientNet-Lite0 offline)."""
    from harness.metrics.compute import MetricOptions, network_for

    options = MetricOptions(features=features)
    fid_network = network_for("fid", options)
    return ["fid"] + [name for name in ("kid", "pr") if network_for(name, options) == fid_network]


def evaluate(run_dir: Path, scale: Scale, names: list[str], kimg: float, num_samples: int,
             evaluations: int, log) -> None:
    """The one place the suites call metrics.compute: `names` at snapshot `kimg`."""
    from harness import metrics

    log(f"  {','.join(names)} @ {kimg:g} kimg ({evaluations} evaluation(s))")
    extra = {"feature_input_size": scale.feature_input_size} if scale.feature_input_size else {}
    metrics.compute(
        run_dir, names, snapshot=kimg, num_samples=num_samples, repeats=evaluations,
        features=scale.features, kid_subsets=scale.kid_subsets,
        device=None if scale.device == "auto" else scale.device,  # None: metrics.compute picks ("auto")
        **extra,
    )


def measure_run(run_dir: Path, scale: Scale, evaluations: int = 1, log=print) -> None:
    """FID (with the metrics sharing its network) at every snapshot, then the other metrics at the
    lowest-FID one (the paper's choice), each `evaluations` times; then the sample grids of that
    snapshot and of the first one, and the feature maps."""
    done, every_snapshot = measured(run_dir, evaluations), snapshot_metrics(scale.features)
    for kimg in snapshot_kimgs(run_dir):
        missing = [name for name in every_snapshot if (name, round(kimg * 1000)) not in done]
        if missing:
            evaluate(run_dir, scale, missing, kimg, scale.fid_samples, evaluations, log)
    best = best_snapshot(run_dir)
    done = measured(run_dir, evaluations)
    for name, samples in (("kid", scale.fid_samples), ("pr", scale.fid_samples), ("ppl", scale.ppl_samples)):
        if (name, round(best * 1000)) not in done:
            evaluate(run_dir, scale, [name], best, samples, evaluations, log)
    from harness.train.distributed import current

    if current().is_main:  # under torchrun: once
        save_pictures(run_dir, best, snapshot_kimgs(run_dir)[0])


def best_snapshot(run_dir: Path) -> float:
    """kimg of the snapshot with the lowest mean FID (the latest if none was measured)."""
    rows = (
        [row for row in read_jsonl(run_dir / "metrics.jsonl") if row["metric"] == "fid"]
        if (run_dir / "metrics.jsonl").exists()
        else []
    )
    if rows:
        return min(rows, key=lambda row: row["value"])["snapshot_kimg"]
    return snapshot_kimgs(run_dir)[-1]


def save_pictures(run_dir: Path, best_kimg: float, first_kimg: float) -> None:
    """figures/samples.png and feature maps at the lowest-FID snapshot; figures/samples_first.png
    (the same latents) at the first snapshot, so the report shows what training changed."""
    import variants
    from harness.suites.artifacts import save_run_pictures, save_sample_grid

    def load(kimg: float):
        return variants.load_network(run_dir / "snapshots" / f"{round(kimg * 1000):06d}")

    figures = run_dir / "figures"
    if not (figures / "samples.png").exists():
        save_run_pictures(load(best_kimg), run_dir)
    if not (figures / "samples_first.png").exists():
        save_sample_grid(load(first_kimg), figures / "samples_first.png")


def save_reals(run: PlannedRun, scale: Scale, results_root: Path, suite_name: str) -> None:
    from harness.data import open_dataset
    from harness.suites.artifacts import SAMPLE_SEEDS, save_reals_grid

    path = results_root / suite_name / f"reals__{dataset_slug(run.column)}.png"
    if path.exists():
        return
    dataset = open_dataset(run.source, scale.run_resolution(run.column))
    count = min(len(SAMPLE_SEEDS), len(dataset))
    save_reals_grid(dataset.images[:count], path)


def execute_run(run: PlannedRun, scale: Scale, results_root: Path, log=print) -> str:
    """Train (or resume, or skip) one run and measure it. Safe to call in any process."""
    from harness.train import train
    from harness.train.rundir import RunLockedError, run_lock

    run_dir = Path(results_root) / run.folder
    try:
        with run_lock(run_dir):  # one process per run: a second suite process skips it
            if is_trained(run_dir):
                log(f"{run.run_id}: trained already")
            else:
                train(train_options(run, scale, Path(results_root)))
            measure_run(run_dir, scale, run.evaluations, log)
    except RunLockedError as error:
        log(f"{run.run_id}: skipped, another process owns it: {error.owner}")
    return run.run_id


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
        record = json.loads(path.read_text())
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
    plan_records(runs, scale, results_root, suites)
    speed_options(runs, scale, results_root)
    return runs


def run_suites(
    suites: tuple[Suite, ...], scale: Scale, results_root: Path, is_installed, log=print, executor=None
) -> list[PlannedRun]:
    """Plan and check every run, write the suite files, execute every run with `executor` (a
    harness.suites.executors.Executor; default: sequentially in this process), then time the speed
    findings' configs side by side."""
    from harness.suites.executors import LocalExecutor
    from harness.suites.suite_files import write_suite_files

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
            if is_trained(results_root / run.folder):
                save_reals(run, scale, results_root, owner[run.folder])
        log(f"executed {len(runs)} runs in {time.time() - started:.0f} s")
    measure_speed(runs, scale, results_root, log)
    return runs
