"""The paper's numbers as data (`harness/published.json`), and how a measured change compares.

Every value carries its provenance (table, row, column, Table 2's D column, metric, source,
verified). `comparisons` records which row the paper compares each row with (B vs A, ..., Table 2
against G original / D original, Table 3 StyleGAN2 vs StyleGAN), so the report can show the
direction of every change beside the paper's direction.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

PUBLISHED_PATH = Path(__file__).with_name("published.json")
# A relative change below this counts as "about equal" (the paper's A->B FID: 4.40 -> 4.39).
RELATIVE_TOLERANCE = 0.02
UP, DOWN, SAME = "↑", "↓", "≈"


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
    metrics: dict  # metric -> {"label", "higher_is_better"}
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


def direction(value, baseline, spread: float | None = None) -> str | None:
    """↑ / ↓ / ≈ for value relative to baseline; None when either is missing.

    ≈ when |value - baseline| is within `spread` (the combined std of repeats, when known) or below
    RELATIVE_TOLERANCE of |baseline|.
    """
    if not _is_number(value) or not _is_number(baseline):
        return None
    change = value - baseline
    tolerance = max(RELATIVE_TOLERANCE * abs(baseline), spread if _is_number(spread) else 0.0)
    if abs(change) <= tolerance:
        return SAME
    return UP if change > 0 else DOWN


def combined_std(*stds) -> float | None:
    """sqrt(sum std^2) of the known standard deviations (None when none is known)."""
    known = [std for std in stds if _is_number(std)]
    return math.sqrt(sum(std * std for std in known)) if known else None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
