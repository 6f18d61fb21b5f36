"""Run suites: plan the unique runs, train each (resuming), measure it, write suite.json files.

The store (docs/architecture.md): `results/<suite>/<run-id>/` is a run directory; a run that
several suites need lives under the first of them and the others' `suite.json` point to it.
Every step is idempotent: a finished run is skipped, an interrupted one resumes from its
checkpoint, and metrics already in `metrics.jsonl` are not computed again.
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from harness.io import read_jsonl, write_json_atomic
from harness.suites.scales import PAPER_CONTENT_HEIGHT, Scale, resolve_dataset
from harness.suites.tables import Suite, run_id


@dataclass(frozen=True, kw_only=True)
class PlannedRun:
    """One training run of a suite: `config` on the paper's `column`, stood in for by `source`."""

    run_id: str
    config: str
    column: str
    source: str
    folder: str  # relative to the results root, e.g. "table1/E__ffhq"


def plan_runs(suites: tuple[Suite, ...], scale: Scale, is_installed) -> list[PlannedRun]:
    """Unique runs of `suites` in order; each lives under the first suite that needs it."""
    planned: dict[tuple[str, str], PlannedRun] = {}
    for suite in suites:
        for config, column in suite.runs():
            if (config, column) not in planned:
                rid = run_id(config, column)
                planned[(config, column)] = PlannedRun(
                    run_id=rid,
                    config=config,
                    column=column,
                    source=resolve_dataset(scale, column, is_installed),
                    folder=f"{suite.name}/{rid}",
                )
    return list(planned.values())


def train_options(run: PlannedRun, scale: Scale, results_root: Path):
    """The TrainOptions of a planned run at `scale` (the config's overrides come from the scale)."""
    import variants
    from harness.train import TrainOptions

    resolution = scale.run_resolution(run.column)
    content_height = PAPER_CONTENT_HEIGHT.get(run.column) if scale.name == "paper" else None
    config = variants.get_config(
        run.config,
        resolution=resolution,
        width_multiplier=scale.width_multiplier,
        batch_size=scale.batch_size,
        mapping_layers=scale.mapping_layers,
        fmap_max=scale.fmap_max,
        content_height=content_height,
    )
    run_dir = results_root / run.folder
    return TrainOptions(
        config=config,
        data=run.source,
        out=run_dir,
        kimg=scale.run_kimg(run.column),
        seed=0,
        resume=(run_dir / "checkpoint.pt").exists(),
        tick_kimg=scale.tick_kimg,
        snapshot_kimg=scale.snapshot_kimg,
        fig8_samples=scale.fig8_samples,
        device=scale.device,
    )


def is_trained(run_dir: Path) -> bool:
    summary = run_dir / "summary.json"
    return summary.exists() and json.loads(summary.read_text()).get("done") is True


def measured(run_dir: Path) -> set[tuple[str, int]]:
    """(metric, snapshot_kimg) pairs already in the run's metrics.jsonl."""
    path = run_dir / "metrics.jsonl"
    rows = read_jsonl(path) if path.exists() else []
    return {(row["metric"], round(row["snapshot_kimg"] * 1000)) for row in rows}


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


def measure_run(run_dir: Path, scale: Scale, log=print) -> None:
    """FID (with the metrics sharing its network) at every snapshot, then the other metrics at the
    lowest-FID one (the paper's choice), then the sample grid and feature maps of that snapshot."""
    from harness import metrics

    # metrics.compute picks the device itself when given None (its "auto")
    common = dict(
        features=scale.features,
        device=None if scale.device == "auto" else scale.device,
        kid_subsets=scale.kid_subsets,
    )
    if scale.feature_input_size:
        common["feature_input_size"] = scale.feature_input_size
    done, every_snapshot = measured(run_dir), snapshot_metrics(scale.features)
    for kimg in snapshot_kimgs(run_dir):
        missing = [name for name in every_snapshot if (name, round(kimg * 1000)) not in done]
        if missing:
            log(f"  {','.join(missing)} @ {kimg:g} kimg")
            metrics.compute(
                run_dir,
                missing,
                snapshot=kimg,
                num_samples=scale.fid_samples,
                repeats=scale.repeats,
                **common,
            )
    best = best_snapshot(run_dir)
    done = measured(run_dir)
    for name, samples in (("kid", scale.fid_samples), ("pr", scale.fid_samples), ("ppl", scale.ppl_samples)):
        if (name, round(best * 1000)) not in done:
            log(f"  {name} @ {best:g} kimg")
            metrics.compute(
                run_dir, [name], snapshot=best, num_samples=samples, repeats=scale.repeats, **common
            )
    from harness.train.distributed import current

    if current().is_main and not (run_dir / "figures" / "samples.png").exists():  # under torchrun: once
        save_pictures(run_dir, best)


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


def save_pictures(run_dir: Path, kimg: float) -> None:
    import variants
    from harness.suites.artifacts import save_run_pictures

    generator = variants.load_network(run_dir / "snapshots" / f"{round(kimg * 1000):06d}")
    save_run_pictures(generator, run_dir)


def save_reals(run: PlannedRun, scale: Scale, results_root: Path, suite_name: str) -> None:
    from harness.data import open_dataset
    from harness.suites.artifacts import SAMPLE_SEEDS, save_reals_grid

    path = results_root / suite_name / f"reals__{run.column.lower().replace(' ', '-')}.png"
    if path.exists():
        return
    dataset = open_dataset(run.source, scale.run_resolution(run.column))
    count = min(len(SAMPLE_SEEDS), len(dataset))
    save_reals_grid(dataset.images[:count], path)


def write_suite_files(suites, runs: list[PlannedRun], scale: Scale, results_root: Path) -> None:
    by_key = {(run.config, run.column): run for run in runs}
    for suite in suites:
        cells = [
            dict(
                table=cell.table,
                row=cell.row,
                column=cell.column,
                paper_dataset=cell.dataset,
                config=cell.config,
                dataset=by_key[(cell.config, cell.dataset)].source,
                run=by_key[(cell.config, cell.dataset)].folder,
            )
            for cell in suite.cells
        ]
        write_json_atomic(
            results_root / suite.name / "suite.json",
            dict(
                suite=suite.name,
                description=suite.description,
                scale=scale.name,
                scale_values=scale.to_dict(),
                cells=cells,
                written=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            ),
        )


def execute_run(run: PlannedRun, scale: Scale, results_root: Path, log=print) -> str:
    """Train (or resume, or skip) one run and measure it. Safe to call in any process."""
    from harness.train import train

    run_dir = Path(results_root) / run.folder
    if is_trained(run_dir):
        log(f"{run.run_id}: trained already")
    else:
        train(train_options(run, scale, Path(results_root)))
    measure_run(run_dir, scale, log)
    return run.run_id


def run_suites(
    suites: tuple[Suite, ...], scale: Scale, results_root: Path, is_installed, log=print, executor=None
) -> list[PlannedRun]:
    """Plan, write the suite files, then execute every run with `executor` (a
    harness.suites.executors.Executor; default: sequentially in this process)."""
    from harness.suites.executors import LocalExecutor

    results_root = Path(results_root)
    runs = plan_runs(suites, scale, is_installed)
    write_suite_files(suites, runs, scale, results_root)  # first, so partial results are reportable
    executor = executor or LocalExecutor()
    started = time.time()
    log(f"{len(runs)} runs with {executor}")
    try:
        executor.map_runs(runs, scale, results_root)
    finally:
        owner = {run.folder: run.folder.split("/")[0] for run in runs}
        for run in runs:
            if is_trained(results_root / run.folder):
                save_reals(run, scale, results_root, owner[run.folder])
        log(f"executed {len(runs)} runs in {time.time() - started:.0f} s")
    return runs
