"""One self-contained HTML report from the results store (`python -m harness report`).

Tables 1-3 laid out as in the paper, each cell beside the paper's number with the direction of the
change against the row the paper compares it with and whether it agrees; the findings of SPEC.md
section 6; seaborn figures and sample grids embedded as data: URIs; scale, budget, environment and
dataset licences. Templates live in `report_templates/` and are rendered with autoescaping on, so
names from the store (run ids, dataset names) can never inject markup.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness import figures
from harness.findings import evaluate_findings
from harness.io import write_text_atomic
from harness.published import Published, combined_std, direction, load_published
from harness.results import load_results, load_stats, load_suites

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "report_templates"
DECIMALS = {"fid": 2, "kid": 4, "ppl": 1, "precision": 3, "recall": 3}


@dataclass(frozen=True, kw_only=True)
class CellView:
    """One metric of one table cell: measured value beside the paper's, and their directions."""

    measured: str | None  # formatted "12.34 ± 0.05", None when not measured
    paper: str | None
    paper_verified: bool
    measured_direction: str | None  # ↑ ↓ ≈ against the comparison row
    paper_direction: str | None
    agrees: bool | None
    compared_with: str | None
    note: str


@dataclass(frozen=True, kw_only=True)
class RowView:
    label: str
    cells: list[CellView]
    runs: list[str]


@dataclass(frozen=True, kw_only=True)
class TableView:
    id: str
    title: str
    groups: list[tuple[str, int]]  # (column label, number of metric cells under it)
    subgroups: list[tuple[str, int]]  # Table 2's D columns, else empty
    metric_labels: list[str]
    rows: list[RowView]
    measured_cells: int


@dataclass(frozen=True, kw_only=True)
class FigureView:
    title: str
    caption: str
    uri: str | None


@dataclass(frozen=True, kw_only=True)
class SampleGroup:
    column: str
    reals_uri: str | None
    runs: list[tuple[str, str | None]] = field(default_factory=list)  # (label, data URI)


def _number(value) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _measured(cells: pd.DataFrame, row: str, column: str, subcolumn, metric: str):
    """(value, std, run) of one cell, or (None, None, None)."""
    if cells.empty or metric not in cells:
        return None, None, None
    mask = (cells["row"] == row) & (cells["column"] == column)
    mask &= cells["subcolumn"].isna() if subcolumn is None else cells["subcolumn"] == subcolumn
    for _, cell in cells[mask].iterrows():
        std = cell.get(f"{metric}_std")
        return _number(cell[metric]), _number(std), cell["run_id"]
    return None, None, None


def _format(metric: str, value, std=None) -> str | None:
    if value is None:
        return None
    digits = DECIMALS.get(metric, 3)
    return f"{value:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def _cell_view(published: Published, cells, table: str, row: str, column: str, subcolumn, metric: str):
    value, std, _ = _measured(cells, row, column, subcolumn, metric)
    paper = published.value(table, row, column, metric, subcolumn)
    comparison = published.baseline(table, row, subcolumn)
    measured_dir = paper_dir = compared = None
    if comparison is not None:
        base_row, base_sub = comparison.baseline_row, comparison.baseline_subcolumn
        compared = base_row if base_sub is None or base_sub == subcolumn else f"{base_row}, {base_sub}"
        base_value, base_std, _ = _measured(cells, base_row, column, base_sub, metric)
        measured_dir = direction(value, base_value, combined_std(std, base_std))
        base_paper = published.value(table, base_row, column, metric, base_sub)
        if paper is not None and base_paper is not None:
            paper_dir = direction(paper.value, base_paper.value)
    agrees = None if measured_dir is None or paper_dir is None else measured_dir == paper_dir
    return CellView(
        measured=_format(metric, value, std),
        paper=_format(metric, paper.value) if paper else None,
        paper_verified=bool(paper and paper.verified),
        measured_direction=measured_dir,
        paper_direction=paper_dir,
        agrees=agrees,
        compared_with=compared,
        note=paper.note if paper else "the paper has no number for this cell",
    )


def build_table(published: Published, results: pd.DataFrame, table: str, columns=None) -> TableView:
    """The view of Table 1, 2 or 3 (or the `columns` subset): rows as in the paper, cells per
    (dataset column, D column, metric)."""
    layout = published.tables[table]
    columns = list(columns or layout["columns"])
    cells = results[results["table"] == table] if not results.empty else results
    subcolumns = layout["subcolumns"] or [None]
    metrics = layout["metrics"]
    positions = [(column, sub, metric) for column in columns for sub in subcolumns for metric in metrics]
    rows = []
    for row_id, label in layout["rows"]:
        views = [
            _cell_view(published, cells, table, row_id, column, sub, metric)
            for column, sub, metric in positions
        ]
        mine = cells[(cells["row"] == row_id) & cells["column"].isin(columns)] if not cells.empty else cells
        runs = sorted(set(mine["run_id"])) if not mine.empty else []
        row_label = label if label.startswith(row_id) else f"{row_id}  {label}"
        rows.append(RowView(label=row_label, cells=views, runs=runs))
    suffix = f": {', '.join(columns)}" if columns != layout["columns"] else ""
    return TableView(
        id=table if not suffix else f"{table}-{'-'.join(columns).lower().replace(' ', '-')}",
        title=layout["title"] + suffix,
        groups=[(column, len(subcolumns) * len(metrics)) for column in columns],
        subgroups=[(sub, len(metrics)) for _ in columns for sub in layout["subcolumns"] or []],
        metric_labels=[published.metrics[metric]["label"] for metric in metrics]
        * (len(positions) // len(metrics)),
        rows=rows,
        measured_cells=sum(view.measured is not None for row in rows for view in row.cells),
    )


def build_tables(published: Published, results: pd.DataFrame) -> list[TableView]:
    """Tables 1-3 as the paper prints them: Table 2 is one G x D grid per dataset."""
    views = []
    for table, layout in published.tables.items():
        if layout["subcolumns"]:
            views += [build_table(published, results, table, [column]) for column in layout["columns"]]
        else:
            views.append(build_table(published, results, table))
    return views


def comparability_banner(results: pd.DataFrame) -> dict:
    """Banner data: whether any reported metric used feature networks other than the paper's."""
    if results.empty or "comparable" not in results:
        return {"show": False, "networks": []}
    measured = results[results["comparable"].notna()]
    flagged = measured[measured["comparable"] != True]  # noqa: E712 (object column of True/False)
    networks = sorted({str(name) for name in flagged["feature_network"].dropna()})
    return {"show": not flagged.empty, "networks": networks}


def _sample_groups(root: Path, results: pd.DataFrame) -> list[SampleGroup]:
    groups = []
    if results.empty:
        return groups
    runs = results.drop_duplicates("run")
    for column, members in runs.groupby("column", sort=False):
        slug = str(column).lower().replace(" ", "-")
        reals = next(
            (
                uri
                for path in sorted(root.glob(f"*/reals__{slug}.png"))
                if (uri := figures.png_file_uri(path))
            ),
            None,
        )
        group = SampleGroup(column=str(column), reals_uri=reals)
        for _, run in members.iterrows():
            samples = (
                Path(str(run["run_dir"])) / "figures" / "samples.png"
                if isinstance(run.get("run_dir"), str)
                else None
            )
            group.runs.append(
                (f"{run['config']} ({run['run_id']})", figures.png_file_uri(samples) if samples else None)
            )
        groups.append(group)
    return groups


def _figure_views(results: pd.DataFrame, stats: pd.DataFrame) -> list[FigureView]:
    def view(title, caption, png):
        return FigureView(title=title, caption=caption, uri=figures.data_uri(png) if png else None)

    return [
        view(
            "Figure 8: contribution of each resolution's ToRGB over training",
            "Standard deviation of each tRGB output over fixed latents, normalised to 100%; (a) config E, "
            "(b) config F.",
            figures.figure8_areas(results, stats),
        ),
        view(
            "Table 1: FID and PPL per configuration",
            "Bars: mean over repeats; error bars: std across repeats.",
            figures.metric_bars(results, "table1"),
        ),
        view(
            "Table 2: FID and PPL per G/D architecture",
            "Rows G x D columns, without growing.",
            figures.metric_bars(results, "table2"),
        ),
        view(
            "Training cost per configuration",
            "Training images per second and energy per thousand images.",
            figures.cost_bars(results),
        ),
        view(
            "Droplet statistic: AdaIN vs demodulation",
            "Share of each feature map's |activation| held by its top 1% pixels (a droplet is a spike).",
            figures.droplet_figure(results, stats),
        ),
        view(
            "Figure 1: feature-map heat maps",
            "Mean |activation| of one sample's top-resolution feature maps.",
            figures.feature_map_heatmaps(results),
        ),
        view(
            "Figure 5: per-image path length",
            "Configurations with and without path length regularisation.",
            figures.ppl_histograms(results),
        ),
    ]


def _environments(results: pd.DataFrame) -> list[dict]:
    columns = [
        "env_device",
        "env_torch",
        "env_cuda",
        "env_git_commit",
        "env_host",
        "env_python",
        "env_packages",
    ]
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


def build_context(results_root: Path | str = "results") -> dict:
    """Everything the templates show, from the store at `results_root`."""
    root = Path(results_root)
    results, stats, published = load_results(root), load_stats(root), load_published()
    runs = results.drop_duplicates("run") if not results.empty else results
    columns = [
        "table",
        "row",
        "column",
        "subcolumn",
        "run_id",
        "status",
        "dataset",
        "kimg",
        "snapshot_kimg",
        "wall_s",
        "img_per_s",
        "energy_j",
        "error",
    ]
    datasets = [
        "paper_dataset",
        "dataset",
        "dataset_source",
        "dataset_resolution",
        "dataset_num_images",
        "licence",
        "attribution",
    ]
    return {
        "title": "StyleGAN2 ablations: reproduction report",
        "tables": build_tables(published, results),
        "findings": evaluate_findings(results, stats),
        "figures_list": _figure_views(results, stats),
        "samples": _sample_groups(root, results),
        "comparability": comparability_banner(results),
        "suites": [
            {key: suite.get(key) for key in ("suite", "scale", "scale_values", "description")}
            for suite in load_suites(root)
        ],
        "cells": results.reindex(columns=columns).to_dict("records") if not results.empty else [],
        "datasets": runs.reindex(columns=datasets).drop_duplicates().to_dict("records")
        if not runs.empty
        else [],
        "environments": _environments(results),
        "totals": _totals(runs),
        "published_notes": published.notes,
        "throughput_source": published.throughput.get("source"),
    }


def _totals(runs: pd.DataFrame) -> dict:
    def total(column):
        if runs.empty or column not in runs:
            return None
        values = [value for value in runs[column] if _number(value) is not None]
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
    number = _number(value)
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


def add_arguments(parser) -> None:
    parser.add_argument("--results", type=Path, default=Path("results"), help="results store root")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default: <results>/report.html)")


def run(args) -> int:
    path = render_report(args.results, args.out)
    print(f"report written to {path}")
    return 0
