"""The paper's numbers as data (`harness/published.json`).

Every value carries its provenance (table, row, column, Table 2's D column, metric, source,
verified). `comparisons` records which row the paper compares each row with (B vs A, ..., Table 2
against G original / D original, Table 3 StyleGAN2 vs StyleGAN), so the report can show the
verdict on every change (harness.verdicts) beside the paper's direction; `throughput` holds the
paper's training img/s.
"""

import json
from dataclasses import dataclass
from pathlib import Path

PUBLISHED_PATH = Path(__file__).with_name("published.json")


@dataclass(frozen=True, kw_only=True)
class PublishedValue:
    table: str
    row: str
    column: str
    subcolumn: str | None
    metric: str
    value: float
    source: str
    verified: bool
    note: str


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Cell (row, subcolumn) of `table` is compared with (baseline_row, baseline_subcolumn)."""

    table: str
    row: str
    subcolumn: str | None
    baseline_row: str
    baseline_subcolumn: str | None


@dataclass(frozen=True, kw_only=True)
class Published:
    values: tuple[PublishedValue, ...]
    comparisons: tuple[Comparison, ...]
    metrics: dict  # quantity -> {"label"}; directions are the metrics' own (register_metric)
    tables: dict  # table -> {"title", "rows": [[id, label]], "columns", "subcolumns", "metrics"}
    throughput: dict
    notes: tuple[str, ...]

    def value(self, table: str, row: str, column: str, metric: str, subcolumn: str | None = None):
        """The PublishedValue of one cell and metric, or None where the paper has none."""
        for value in self.values:
            if (value.table, value.row, value.column, value.subcolumn, value.metric) == (
                table,
                row,
                column,
                subcolumn,
                metric,
            ):
                return value
        return None

    def baseline(self, table: str, row: str, subcolumn: str | None = None) -> Comparison | None:
        """The comparison the paper draws for this cell, or None for a baseline cell."""
        for comparison in self.comparisons:
            if (comparison.table, comparison.row, comparison.subcolumn) == (table, row, subcolumn):
                return comparison
        return None


def load_published(path: Path | str = PUBLISHED_PATH) -> Published:
    """Read published.json; a malformed file raises ValueError naming it."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        return Published(
            values=tuple(PublishedValue(**value) for value in document["values"]),
            comparisons=tuple(Comparison(**comparison) for comparison in document["comparisons"]),
            metrics=document["metrics"],
            tables=document["tables"],
            throughput=document.get("throughput", {}),
            notes=tuple(document.get("notes", ())),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: malformed published numbers ({error!r})") from error
