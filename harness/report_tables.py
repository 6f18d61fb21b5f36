"""Tables 1-3 of the report as the paper prints them: each cell's mean over training seeds (± 95% CI,
n) beside the paper's number, with harness.verdicts' verdict on the change against the row the paper
compares it with, the paper's own direction, and whether the two agree."""

from dataclasses import dataclass

import pandas as pd

from harness.cells import cell_sample, find_cell, format_estimate
from harness.published import Published
from harness.verdicts import Outcome, compare, judge, published_verdict

DECIMALS = {"fid": 2, "kid": 4, "ppl": 1, "precision": 3, "recall": 3}


@dataclass(frozen=True, kw_only=True)
class CellView:
    """One metric of one table cell: measured value beside the paper's, and their directions."""

    measured: str | None  # "12.34 ± 0.56 (n=3)": mean over seeds ± 95% CI; None when not measured
    paper: str | None
    paper_verified: bool
    measured_direction: str | None  # ↑ ↓ ≈ ? (harness.verdicts) against the comparison row
    paper_direction: str | None
    agrees: bool | None  # None while the verdict is inconclusive
    compared_with: str | None
    note: str
    verdict_detail: str = ""  # the test and the numbers behind measured_direction
    comparability: str | None = None  # the metric rows' label, where they carry one


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


AGREEMENT = {Outcome.REPRODUCED: True, Outcome.CONTRADICTED: False}  # else None: undecided


def _cell_view(published: Published, cells, table: str, row: str, column: str, subcolumn, metric: str):
    cell = find_cell(cells, table, row, column, subcolumn) or {}
    paper = published.value(table, row, column, metric, subcolumn)
    comparison = published.baseline(table, row, subcolumn)
    measured_dir = paper_dir = compared = agrees = None
    detail = ""
    if comparison is not None:
        base_row, base_sub = comparison.baseline_row, comparison.baseline_subcolumn
        compared = base_row if base_sub is None or base_sub == subcolumn else f"{base_row}, {base_sub}"
        base_paper = published.value(table, base_row, column, metric, base_sub)
        paper_verdict = published_verdict(metric, base_paper and base_paper.value, paper and paper.value)
        paper_dir = paper_verdict.symbol if paper_verdict else None
        base = cell_sample(find_cell(cells, table, base_row, column, base_sub), metric)
        other = cell_sample(cell, metric)
        if base is not None and other is not None:
            change = compare(metric, base, other)  # the rule the findings use too
            measured_dir = change.verdict.symbol
            detail = f"{change.verdict}: {change.describe()}; {change.test}"
            agrees = AGREEMENT.get(judge(paper_verdict, change)) if paper_verdict else None
    digits = DECIMALS.get(metric, 3)
    estimate = (cell.get(metric), cell.get(f"{metric}_ci95"), cell.get(f"{metric}_n"))
    return CellView(
        measured=format_estimate(*estimate, digits),
        paper=f"{paper.value:.{digits}f}" if paper else None,
        paper_verified=bool(paper and paper.verified),
        measured_direction=measured_dir,
        paper_direction=paper_dir,
        agrees=agrees,
        compared_with=compared,
        note=paper.note if paper else "the paper has no number for this cell",
        verdict_detail=detail,
        comparability=cell.get(f"{metric}_comparability"),
    )


def build_table(published: Published, cells: pd.DataFrame, table: str, columns=None) -> TableView:
    """The view of Table 1, 2 or 3 (or the `columns` subset) from `cells` (harness.cells.
    summarize_cells): rows as in the paper, cells per (dataset column, D column, metric)."""
    layout = published.tables[table]
    columns = list(columns or layout["columns"])
    cells = cells[cells["table"] == table] if not cells.empty else cells
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
        runs = sorted({run for run_ids in mine["run_ids"] for run in run_ids}) if not mine.empty else []
        row_label = label if label.startswith(row_id) else f"{row_id}  {label}"
        rows.append(RowView(label=row_label, cells=views, runs=runs))
    suffix = f": {', '.join(columns)}" if columns != layout["columns"] else ""
    return TableView(
        id=table if not suffix else f"{table}-{'-'.join(columns).lower().replace(' ', '-')}",
        title=layout["title"] + suffix,
        groups=[(column, len(subcolumns) * len(metrics)) for column in columns],
        subgroups=[(sub, len(metrics)) for _ in columns for sub in layout["subcolumns"] or []],
        metric_labels=[published.metrics.get(metric, {}).get("label", metric) for metric in metrics]
        * (len(positions) // len(metrics)),
        rows=rows,
        measured_cells=sum(view.measured is not None for row in rows for view in row.cells),
    )


def build_tables(published: Published, cells: pd.DataFrame) -> list[TableView]:
    """Tables 1-3 as the paper prints them: Table 2 is one G x D grid per dataset."""
    views = []
    for table, layout in published.tables.items():
        if layout["subcolumns"]:
            views += [build_table(published, cells, table, [column]) for column in layout["columns"]]
        else:
            views.append(build_table(published, cells, table))
    return views
