"""One self-contained HTML report from the results store (`python -m harness report`, harness.report_cli).

Tables 1-3 laid out as in the paper, each cell (mean over training seeds ± 95% CI, n) beside the
paper's number with the verdict of harness.verdicts on the change against the row the paper
compares it with and whether it agrees; the findings of SPEC.md section 6 with their claims, tests,
numbers and verdicts; training curves, seaborn figures and sample grids (lowest-FID and first
snapshot) embedded as data: URIs; the suites, seeds and dataset columns the scale covered, budget,
environment and dataset licences. Templates live in `report_templates/` and are rendered with
autoescaping on, so names from the store (run ids, dataset names) can never inject markup.
"""

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from common.io import CorruptFileError, write_text_atomic
from harness import figures
from harness.cells import cell_label, in_paper_order, summarize_cells
from harness.findings import evaluate_findings
from harness.learning import (
    EARLY_FRACTION,
    LEARNING_RATIO,
    LearningCheck,
    count_learned,
    learning_checks,
    learns_by_run,
)
from harness.published import load_published
from harness.report_tables import build_tables
from harness.results import (
    COMPARABILITY,
    load_metric_rows,
    load_results,
    load_speed,
    load_stats,
    load_suites,
)
from harness.rundir import RunDir
from harness.verdicts import (
    MARGINS,
    ONE_SEED_MULTIPLE,
    SEED_TO_EVAL_RATIO,
    as_number,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "report_templates"


@dataclass(frozen=True, kw_only=True)
class FigureView:
    title: str
    caption: str
    uri: str | None


@dataclass(frozen=True, kw_only=True)
class SampleGroup:
    column: str
    reals_uri: str | None
    # (label, lowest-FID snapshot's grid, first snapshot's grid), as data URIs
    runs: list[tuple[str, str | None, str | None]] = field(default_factory=list)


def comparability_banner(results: pd.DataFrame) -> dict:
    """Banner data: shown when any reported metric is not fully comparable with the paper's numbers
    (the metric rows' `comparability` label, else their `comparable_to_published` flag)."""
    if results.empty or "comparability" not in results:
        return {"show": False, "headline": "", "labels": [], "networks": [], "reasons": []}
    flagged = results[results["comparability"].notna() & (results["comparability"] != "comparable")]
    labels = sorted(set(flagged["comparability"]), key=COMPARABILITY.index)
    reasons = {str(reason) for reason in flagged.get("comparability_reason", pd.Series()).dropna()}
    return {
        "show": not flagged.empty,
        "headline": f"{labels[-1].capitalize()} to published values." if labels else "",
        "labels": labels,
        "networks": sorted({str(name) for name in flagged["feature_network"].dropna()}),
        "reasons": sorted(reasons),
    }


def _sample_groups(root: Path, results: pd.DataFrame) -> list[SampleGroup]:
    """Per dataset column: the real-image grid and each run's grids at its lowest-FID snapshot
    (figures/samples.png) and its first snapshot (figures/samples_first.png)."""
    groups = []
    if results.empty:
        return groups
    runs = in_paper_order(results).drop_duplicates("run")
    for column, members in runs.groupby("column", sort=False):
        slug = str(column).lower().replace(" ", "-")
        reals = next((uri for path in sorted(root.glob(f"*/reals__{slug}.png"))
                      if (uri := figures.png_file_uri(path))), None)
        group = SampleGroup(column=str(column), reals_uri=reals)
        for _, run in members.iterrows():
            folder = RunDir(run["run_dir"]) if isinstance(run.get("run_dir"), str) else None
            best, first = ((figures.png_file_uri(folder.figure(name)) if folder else None)
                           for name in (RunDir.SAMPLES, RunDir.SAMPLES_FIRST))
            group.runs.append((f"{run['config']}, seed {run.get('seed', 0)} ({run['run_id']})", best, first))
        groups.append(group)
    return groups


def _dataset_records(runs: pd.DataFrame, columns: list[str]) -> list[dict]:
    """One row per dataset and channel count trained. A run whose config.json predates img_channels
    trained RGB networks (Config's default 3), also on grayscale data; one not started has none."""
    records = runs.reindex(columns=columns)
    started = runs.reindex(columns=["config_resolution"])["config_resolution"].notna()
    channels = [int(value) if pd.notna(value) else 3 if run_started else None
                for value, run_started in zip(records["config_img_channels"], started, strict=True)]
    records["config_img_channels"] = pd.Series(channels, index=records.index, dtype=object)
    return records.drop_duplicates().to_dict("records")


def _figure_views(results: pd.DataFrame, stats: pd.DataFrame, metric_rows: pd.DataFrame,
                  speed: dict | None) -> list[FigureView]:
    cells = summarize_cells(results)

    def view(title, caption, png):
        return FigureView(title=title, caption=caption, uri=figures.data_uri(png) if png else None)

    return [
        view("Training progress: metrics at every snapshot",
             "Every metric measured at two or more snapshots of a run, against training images; one thin "
             "line per run (each training seed its own line), coloured by configuration, log scale. "
             "Falling curves show the networks learned.",
             figures.training_curves(metric_rows, results)),
        view("Figure 8: contribution of each resolution's ToRGB over training",
             "Standard deviation of each tRGB output over fixed latents, normalised to 100%; (a) config E, "
             "(b) config F (their first training seed).",
             figures.figure8_areas(results, stats)),
        view("Table 1: FID and PPL per configuration",
             "Bars: mean over training seeds; error bars: 95% CI over seeds, or with one seed the std of "
             "the metric's repeated evaluations of that network.",
             figures.metric_bars(cells, "table1")),
        view("Table 2: FID and PPL per G/D architecture",
             "Rows G x D columns, without growing; bars and error bars as above.",
             figures.metric_bars(cells, "table2")),
        view("Training speed, timed side by side",
             "img/s of each configuration's training step, timed in interleaved rounds in one process "
             "(speed.json): dots are rounds, bars the mean and its 95% CI. Findings 3 and 7 use these.",
             figures.speed_rounds(speed)),
        view("Training cost per configuration",
             "Training images per second and energy per thousand images of each run (mean over runs); runs "
             "that shared a machine slow each other, so no finding uses these img/s.",
             figures.cost_bars(results)),
        view("Droplet statistic: AdaIN vs demodulation",
             "Share of each feature map's |activation| held by its top 1% pixels (a droplet is a spike).",
             figures.droplet_figure(results, stats)),
        view("Figure 1: feature-map heat maps",
             "Mean |activation| of one sample's top-resolution feature maps.",
             figures.feature_map_heatmaps(results)),
        view("Figure 5: per-image path length",
             "Configurations with and without path length regularisation.",
             figures.ppl_histograms(results)),
    ]


@dataclass(frozen=True, kw_only=True)
class CellLearning:
    """How many of one table cell's runs (one per training seed) learn, of those checked."""

    table: str
    cell: str  # "G original, D residual (LSUN Car)": row, Table 2's D column, dataset column
    learned: int
    checked: int


def learning_by_cell(checks: list[LearningCheck], cells: pd.DataFrame) -> list[CellLearning]:
    """Per cell of `cells` (summarize_cells), in its order, the count of its runs that learn
    (harness.learning); a run two tables share counts in both cells, a cell with no check is left out."""
    learns = learns_by_run(checks)
    counts = []
    for cell in cells.to_dict("records") if not cells.empty else []:
        learned, checked = count_learned(learns, cell["runs"])
        if checked:
            label = f"{cell_label(cell, ', ')} ({cell['column']})"
            counts.append(CellLearning(table=cell["table"], cell=label, learned=learned, checked=checked))
    return counts


def coverage(suites: list[dict], results: pd.DataFrame, cells: pd.DataFrame) -> list[dict]:
    """What the scale covered, per suite: scale, training seeds per cell (planned and present), the
    dataset columns and cells present, the cells it left out, runs, and the evaluations per metric."""
    rows = []
    for suite in suites:
        mine = cells[cells["suite"] == suite["suite"]] if not cells.empty else cells
        runs = results[results["suite"] == suite["suite"]] if not results.empty else results
        left_out = (suite.get("coverage") or {}).get("cells_not_covered") or []
        rows.append({
            "suite": suite["suite"],
            "scale": suite.get("scale"),
            "seeds": suite.get("seeds", 1),
            "seeds_present": sorted(set(mine["n_seeds"])) if not mine.empty else [],
            "columns": list(dict.fromkeys(mine["column"])) if not mine.empty else [],
            "cells": len(mine),
            "left_out": len(left_out),
            "runs": runs["run"].nunique() if not runs.empty else 0,
            "evaluations": _evaluations_text(suite),
        })
    return rows


def _evaluations_text(suite: dict) -> str | None:
    """suite.json's evaluations ({table: count}) with evaluations_source ({table: text} or one text);
    older stores: the scale's repeats."""
    evaluations, sources = suite.get("evaluations"), suite.get("evaluations_source")
    if isinstance(evaluations, dict):
        sources = sources if isinstance(sources, dict) else {}
        text = "; ".join(f"{table}: {count}" + (f" ({sources[table]})" if sources.get(table) else "")
                         for table, count in evaluations.items() if table != "evaluations_source")
        source = evaluations.get("evaluations_source") or suite.get("evaluations_source")
        return text + (f" ({source})" if isinstance(source, str) else "")
    if evaluations is not None:
        return str(evaluations)
    repeats = (suite.get("scale_values") or {}).get("repeats")
    return None if repeats is None else f"{repeats} (the scale's repeats)"


def rule_context(cells: pd.DataFrame) -> dict:
    """The comparison rule as the report states it: margins with their reasons, and whether some
    cell has a single training seed (then only large differences against evaluation spread decide)."""
    one_seed = not cells.empty and bool((cells["n_seeds"] < 2).any())
    return {
        "margins": [{"metric": metric, "margin": margin.describe(), "reason": margin.reason}
                    for metric, margin in MARGINS.items()],
        "one_seed": one_seed,
        "one_seed_multiple": ONE_SEED_MULTIPLE,
        "seed_to_eval_ratio": SEED_TO_EVAL_RATIO,
    }


def _environments(results: pd.DataFrame) -> list[dict]:
    names = ("device", "torch", "cuda", "git_commit", "host", "python", "packages")
    columns = [f"env_{name}" for name in names]
    if results.empty or not set(columns) & set(results.columns):
        return []
    runs = results.drop_duplicates("run").reindex(columns=columns + ["run_id"])
    environments = []
    for key, group in runs.groupby(columns, dropna=False, sort=False):
        record = {name.removeprefix("env_"): value for name, value in zip(columns, key, strict=True)}
        packages = record.pop("packages")
        record["packages"] = json.loads(packages) if isinstance(packages, str) else {}
        record["runs"] = sorted(group["run_id"])
        environments.append(record)
    return environments


def _load_speed_or_warn(root: Path) -> dict | None:
    try:
        return load_speed(root)
    except CorruptFileError as error:
        warnings.warn(f"side-by-side speed not used: {error}", stacklevel=2)
        return None


def build_context(results_root: Path | str = "results") -> dict:
    """Everything the templates show, from the store at `results_root`."""
    root = Path(results_root)
    results, stats, published = load_results(root), load_stats(root), load_published()
    cells, speed, suites = summarize_cells(results), _load_speed_or_warn(root), load_suites(root)
    runs = results.drop_duplicates("run") if not results.empty else results
    metric_rows = load_metric_rows(root)
    learning = learning_checks(metric_rows, results)
    columns = ["table", "row", "column", "subcolumn", "seed", "run_id", "status", "dataset",
               "config_r1_gamma", "kimg", "snapshot_kimg", "wall_s", "img_per_s", "energy_j", "error"]
    datasets = ["paper_dataset", "dataset", "dataset_source", "dataset_resolution", "dataset_num_images",
                "config_img_channels", "licence", "attribution"]
    return {
        "title": "StyleGAN2 ablations: reproduction report",
        "tables": build_tables(published, cells),
        "findings": evaluate_findings(results, stats, speed, learning),
        "rule": rule_context(cells),
        "learning": learning,
        "learning_cells": learning_by_cell(learning, cells),
        "learning_rule": {"ratio": LEARNING_RATIO, "early_fraction": EARLY_FRACTION},
        "figures_list": _figure_views(results, stats, metric_rows, speed),
        "samples": _sample_groups(root, results),
        "comparability": comparability_banner(results),
        "scale_groups": scale_groups(suites),
        "coverage": coverage(suites, results, cells),
        "cells": results.reindex(columns=columns).to_dict("records") if not results.empty else [],
        "datasets": [] if runs.empty else _dataset_records(runs, datasets),
        "environments": _environments(results),
        "totals": _totals(runs),
        "published_notes": published.notes,
        "throughput_source": published.throughput.get("source"),
    }


def scale_groups(suites: list[dict]) -> list[dict]:
    """Suites that ran at the same scale values, shown once: {scale, scale_values, suites: [(suite,
    description)], dataset_notes: [(column, note)] without repeats}, in suite order."""
    groups: dict[tuple, dict] = {}
    for suite in suites:
        values = suite.get("scale_values") or {}
        group = groups.setdefault((suite.get("scale"), json.dumps(values, sort_keys=True, default=str)), {
            "scale": suite.get("scale"), "scale_values": values, "suites": [], "dataset_notes": []})
        group["suites"].append((suite.get("suite"), suite.get("description")))
        for column, settings in sorted((suite.get("dataset_settings") or {}).items()):
            note = (column, settings.get("note") if isinstance(settings, dict) else None)
            if note[1] and note not in group["dataset_notes"]:
                group["dataset_notes"].append(note)
    return list(groups.values())


def _totals(runs: pd.DataFrame) -> dict:
    def total(column):
        if runs.empty or column not in runs:
            return None
        values = [value for value in runs[column] if as_number(value) is not None]
        return sum(values) if values else None

    return {
        "runs": len(runs),
        "wall_s": total("wall_s"),
        "energy_j": total("energy_j"),
        "images_shown": total("images_shown"),
    }


def render_html(context: dict, templates_dir: Path | str = TEMPLATES_DIR) -> str:
    """Render base.html.j2 with autoescaping on (any `<script>` in the data is shown as text)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["fmt"] = _fmt
    return environment.get_template("base.html.j2").render(**context)


def _fmt(value, digits: int = 2) -> str:
    """Template filter: numbers with `digits` decimals, missing values as an en dash."""
    number = as_number(value)
    if number is None:
        return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return f"{number:,.{digits}f}"


def render_report(results_root: Path | str = "results", out_path: Path | str | None = None) -> Path:
    """Write the report for the store at `results_root` to `out_path` (default
    `<results_root>/report.html`) atomically; returns the path."""
    root = Path(results_root)
    if not root.is_dir():
        raise ValueError(f"results root {root} does not exist; run `python -m harness ablate` first")
    out = Path(out_path) if out_path is not None else root / "report.html"
    return write_text_atomic(out, render_html(build_context(root)))
