"""The results store and its one DataFrame loader (docs/architecture.md, "the run directory").

Layout: `<root>/<suite>/suite.json` lists the suite's cells, one entry per (cell, training seed):
table, row, column, config, dataset source, `seed` (absent in older stores: seed 0) and `run` = run
folder relative to `<root>`; a run trained for several suites lives under the first of them.
`<root>/speed.json` (optional) holds img/s of several configurations timed side by side in one
process. `load_results` returns one row per (cell, seed) with the metrics of the snapshot with the
lowest FID (the paper's choice, Table 1 caption; harness.cells averages the seeds of a cell),
`load_metric_rows` / `load_stats` the long tables behind the curves, `load_speed` the side-by-side
timing (harness.results_merge unions stores written on several machines).

Run folders are read through harness.rundir.RunDir (its file names, its lowest-FID rule, its one
tolerant JSON-lines reader). A corrupt file raises CorruptFileError naming it (ResultsError for the
store's own files); the loaders turn that into a warning and an `error` column for the one run,
so one bad run never hides the others.
"""

import json
import math
import warnings
from pathlib import Path

import pandas as pd

from common.io import CorruptFileError, read_json_object
from harness.rundir import RunDir, lowest_fid_snapshot, reported_fields

# load_results column -> dataset.json field.
DATASET_COLUMNS = {
    "dataset": "name", "dataset_resolution": "resolution", "dataset_num_images": "num_images",
    "dataset_hash": "content_hash", "licence": "licence", "attribution": "attribution",
}
# Columns load_results always has (None where nothing was measured).
REPORTED_COLUMNS = (
    "status", "error", "dataset", "licence", "attribution", "kimg", "images_shown", "wall_s", "img_per_s",
    "energy_j", "energy_j_per_kimg", "snapshot_kimg", "fid", "fid_std", "kid", "kid_std", "precision",
    "precision_std", "recall", "recall_std", "ppl", "ppl_std", "ppl_distances_file", "feature_network",
    "comparable", "comparability", "comparability_reason", "droplet", "config_style_block",
    "config_pl_weight", "run_dir",
)
# Metric-row comparability labels, from the most to the least comparable with the paper's numbers.
COMPARABILITY = ("comparable", "approximately comparable", "not comparable")
SPEED_FILE = "speed.json"


class ResultsError(CorruptFileError):
    """A results-store file (suite.json, speed.json, a run path) that cannot be used; the message
    names it and what to do."""


def load_suites(root: Path | str = "results") -> list[dict]:
    """Every `<root>/<suite>/suite.json`, sorted by suite name; a corrupt one is skipped with a warning."""
    suites = []
    for path in sorted(Path(root).glob("*/suite.json")):
        try:
            suite = read_json_object(path)
            if not isinstance(suite.get("cells"), list):
                raise ResultsError(f"{path}: 'cells' must be a list of cell objects")
        except CorruptFileError as error:
            warnings.warn(f"skipping suite: {error}", stacklevel=2)
            continue
        suite.setdefault("suite", path.parent.name)
        suites.append(suite)
    return suites


def resolve_run(root: Path | str, run: str) -> Path:
    """The run folder a cell's `run` names, checked to stay inside the store."""
    root = Path(root).resolve()
    path = (root / run).resolve()
    if Path(run).is_absolute() or root not in path.parents:
        raise ResultsError(f"run path {run!r} must be relative to the results root and stay inside it")
    return path


def find_run_dirs(root: Path | str = "results") -> list[Path]:
    """Every run directory `<root>/<suite>/<run-id>/` (a folder holding any of RunDir.MARKERS)."""
    return sorted(path for path in Path(root).glob("*/*") if RunDir(path).is_run())


def select_metrics(rows: list[dict]) -> dict:
    """The reported metrics of one run from its metrics.jsonl rows.

    The snapshot is harness.rundir.lowest_fid_snapshot's (the lowest FID, the earlier snapshot on a
    tie; the latest one when no FID was measured); each metric the rows hold takes its row with the
    most evaluations at that snapshot (the latest of those), else its last row at its own latest
    snapshot.
    Returns flat columns: snapshot_kimg, <metric>_snapshot_kimg, and for each quantity q a row
    reports (harness.rundir.reported_fields: fid; precision and recall of 'pr'; a new metric's own)
    q, q_std, q_values, q_repeats, q_num_samples, q_feature_network, q_comparability;
    `comparability` is the least comparable label of the chosen rows (from `comparable_to_published`
    where a row has no label) and `comparable` their flag.
    """
    best = lowest_fid_snapshot(rows)
    selected: dict = {"snapshot_kimg": best}
    chosen_rows = []
    for metric in dict.fromkeys(row.get("metric") for row in rows if row.get("metric")):
        mine = [row for row in rows if row.get("metric") == metric]
        at_best = [row for row in mine if row.get("snapshot_kimg") == best]
        latest = max((row.get("snapshot_kimg", -1) for row in mine), default=None)
        # the most evaluations at the chosen snapshot (the reported ones), else the latest snapshot's last row
        pick = (max(reversed(at_best), key=lambda row: row.get("repeats") or 1) if at_best
                else [row for row in mine if row.get("snapshot_kimg", -1) == latest][-1])
        selected[f"{metric}_snapshot_kimg"] = pick.get("snapshot_kimg")
        chosen_rows.append(pick)
        selected.update(_metric_columns(pick))
    networks = sorted({str(row.get("feature_network")) for row in chosen_rows})
    selected["feature_network"] = ", ".join(networks) if networks else None
    # A row without the flag cannot claim comparability with the paper's numbers.
    selected["comparable"] = (
        all(row.get("comparable_to_published") is True for row in chosen_rows) if chosen_rows else None
    )
    labels = [_comparability(row) for row in chosen_rows]
    selected["comparability"] = max(labels, key=COMPARABILITY.index) if labels else None
    reasons = sorted({str(row.get("comparability_reason") or "") for row in chosen_rows} - {""})
    selected["comparability_reason"] = "; ".join(reasons) or None
    return selected


def _comparability(row: dict) -> str:
    label = row.get("comparability")
    if label in COMPARABILITY:
        return label
    return "comparable" if row.get("comparable_to_published") is True else "not comparable"


def _metric_columns(row: dict) -> dict:
    columns = {}
    for name, (value, std, values) in reported_fields(row).items():
        columns.update({
            name: row.get(value), f"{name}_std": row.get(std), f"{name}_values": row.get(values),
            f"{name}_repeats": row.get("repeats"), f"{name}_num_samples": row.get("num_samples"),
            f"{name}_feature_network": row.get("feature_network"),
            f"{name}_comparability": row.get("comparability"),  # only rows that carry the label show it
        })
    if row.get("distances_file"):
        columns[f"{row['metric']}_distances_file"] = row["distances_file"]
    return columns


def _environment_columns(env: dict) -> dict:
    # Accepts both the flat contract ({torch, cuda, device, git_commit}) and harness.environment's
    # nested record ({accelerator: {...}, git: {...}, packages: {...}}).
    accelerator = env.get("accelerator") or {}
    packages = env.get("packages") or {}
    git = env.get("git") or {}
    device = env.get("device") or " ".join(
        str(part) for part in (accelerator.get("name"), accelerator.get("device")) if part
    )
    return {
        "env_torch": env.get("torch") or packages.get("torch"),
        "env_cuda": env.get("cuda") or accelerator.get("cuda_version"),
        "env_device": device or None,
        "env_git_commit": env.get("git_commit") or git.get("commit"),
        "env_host": env.get("host"),
        "env_python": env.get("python"),
        "env_time": env.get("time") or env.get("time_utc"),
        "env_packages": json.dumps(packages, sort_keys=True) if packages else None,
    }


def _config_columns(config: dict) -> dict:
    return {
        f"config_{key}": value
        if isinstance(value, str | int | float | bool) or value is None
        else json.dumps(value)
        for key, value in config.items()
    }


def load_run(run_dir: Path) -> dict:
    """One run's flat record: status, dataset, summary, selected metrics, config and environment.

    Raises CorruptFileError for a corrupt file (naming it).
    """
    run = RunDir(run_dir)
    if not run.path.is_dir():
        return {"status": "missing", "run_dir": str(run.path)}
    summary, dataset, ticks = run.summary(), run.read_json(RunDir.DATASET), run.stats()
    gpu_energy, cpu_energy = summary.get("energy_j"), summary.get("energy_j/cpu")
    record = {
        "run_dir": str(run.path),
        "status": "finished" if run.is_done() else "partial",
        **{column: dataset.get(key) for column, key in DATASET_COLUMNS.items()},
        "kimg": summary.get("kimg", ticks[-1].get("kimg") if ticks else None),
        "images_shown": run.images_shown(),
        "wall_s": summary.get("wall_s"),
        "img_per_s": summary.get("img_per_s", _mean([tick.get("img_per_s") for tick in ticks])),
        # GPU energy (NVML) where measured, else the CPU package's (RAPL) on CPU-only runs.
        "energy_j": gpu_energy if gpu_energy is not None else cpu_energy,
        "energy_source": summary.get("energy_source" if gpu_energy is not None else "energy_source/cpu"),
        "peak_mem_bytes": next(
            (summary[key] for key in ("peak_mem_bytes", "peak_gpu_mem_bytes", "peak_rss_bytes")
             if summary.get(key) is not None),
            None,
        ),
    }
    energy, shown = record["energy_j"], record["images_shown"]
    record["energy_j_per_kimg"] = energy / (shown / 1000) if energy is not None and shown else None
    droplets = [tick["droplet"] for tick in ticks if _mean([tick.get("droplet")]) is not None]
    record["droplet"] = droplets[-1] if droplets else None  # the statistic at the end of training
    record.update(select_metrics(run.metric_rows()))  # one row per key, never double-counted
    for column in [column for column in record if column.endswith("_distances_file")]:
        record[column] = str(run.file(record[column]))  # a path a reader can open
    record.update(_config_columns(run.read_json(RunDir.CONFIG)))
    record.update(_environment_columns(run.read_json(RunDir.ENVIRONMENT)))
    return record


def _mean(values) -> float | None:
    numbers = [value for value in values if isinstance(value, int | float) and math.isfinite(value)]
    return sum(numbers) / len(numbers) if numbers else None


def _load_run_or_warn(root: Path, run: str) -> dict:
    try:
        return load_run(resolve_run(root, run))
    except (CorruptFileError, OSError) as error:
        warnings.warn(f"run {run!r} could not be loaded: {error}", stacklevel=3)
        return {"status": "error", "error": str(error)}


def split_column(table: str, column: str) -> tuple[str, str | None]:
    """Table 2's columns read '<dataset> / <D architecture>'; returns (dataset column, D label)."""
    if table == "table2" and " / " in column:
        dataset, d_label = column.split(" / ", 1)
        return dataset, d_label
    return column, None


def load_results(root: Path | str = "results") -> pd.DataFrame:
    """One row per (suite cell, training seed), with the run's selected metrics and descriptive
    columns; harness.cells.summarize_cells turns it into one row per cell.

    Columns: suite, scale, table, row, column (the paper's dataset column), subcolumn (Table 2's D
    label), seed, paper_dataset, config, dataset_source, run, run_id, status (finished | partial |
    missing | error), error, dataset, licence, attribution, kimg, images_shown, wall_s, img_per_s
    (training images/s), energy_j (joules), energy_j_per_kimg, snapshot_kimg, fid, fid_std, kid,
    precision, recall, ppl, ppl_std, ppl_distances_file, feature_network, comparable, comparability,
    droplet (the last tick's droplet statistic), config_<field> and env_<field>. Each metric is the
    mean of its repeated evaluations of that seed's network. Metrics not measured are NaN/None.
    """
    root = Path(root)
    runs: dict[str, dict] = {}
    rows = []
    for suite in load_suites(root):
        for cell in suite["cells"]:
            run = str(cell.get("run", ""))
            if run not in runs:
                runs[run] = _load_run_or_warn(root, run)
            table = str(cell.get("table", suite["suite"]))
            column, subcolumn = split_column(table, str(cell.get("column", "")))
            rows.append(
                {
                    "suite": suite["suite"],
                    "scale": suite.get("scale"),
                    "table": table,
                    "row": str(cell.get("row", "")),
                    "column": column,
                    "subcolumn": subcolumn,
                    "seed": int(cell.get("seed", 0)),
                    "paper_dataset": cell.get("paper_dataset", column),
                    "config": cell.get("config"),
                    "dataset_source": cell.get("dataset"),
                    "run": run,
                    "run_id": Path(run).name,
                    "error": None,
                    **runs[run],
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for column in REPORTED_COLUMNS:  # present even when no run of the store has been trained yet
        if column not in frame:
            frame[column] = None
    frame["dataset"] = frame["dataset"].fillna(frame["dataset_source"])
    return frame


def load_speed(root: Path | str = "results") -> dict | None:
    """`<root>/speed.json`, or None when absent: img/s of several configurations measured side by
    side in one process (interleaved short timings of each configuration's training step), as
    {"img_per_s": {config: [img/s per round]}, "method", "device", "threads", "dataset",
    "resolution", "batch_size", "rounds", "steps_per_round", "written"}. Raises CorruptFileError for a
    malformed file."""
    path = Path(root) / SPEED_FILE
    if not path.exists():
        return None
    speed = read_json_object(path)
    rounds = speed.get("img_per_s")
    if not isinstance(rounds, dict) or not all(
        isinstance(values, list) and values and all(_mean([value]) is not None for value in values)
        for values in rounds.values()
    ):
        raise ResultsError(f"{path}: 'img_per_s' must map each configuration to a non-empty list of "
                           "finite img/s per round; re-run the speed measurement")
    return speed


def load_metric_rows(root: Path | str = "results") -> pd.DataFrame:
    """Every metrics.jsonl row of every run (all snapshots, for curves; one row per key), with a
    `run` column."""
    return _load_long(root, RunDir.METRICS, RunDir.metric_rows)


def load_stats(root: Path | str = "results") -> pd.DataFrame:
    """Every stats.jsonl tick of every run with a `run` column; nested objects are flattened with
    dots (`phase_img_per_s.G_main`, `fig8_shares.64`, `losses.G`)."""
    return _load_long(root, RunDir.STATS, RunDir.stats)


def _load_long(root: Path | str, name: str, read) -> pd.DataFrame:
    """`read(RunDir)` of every run as one long frame; `name` (the file read) is for warnings."""
    root = Path(root)
    frames = []
    for run_dir in find_run_dirs(root):
        try:
            rows = read(RunDir(run_dir))
        except (CorruptFileError, OSError) as error:
            warnings.warn(f"skipping {name} of {run_dir}: {error}", stacklevel=3)
            continue
        if rows:
            frame = pd.json_normalize(rows, sep=".")
            frame.insert(0, "run", run_dir.relative_to(root).as_posix())
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run"])
