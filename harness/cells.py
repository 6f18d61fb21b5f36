"""Table cells over their training seeds (issue 14 point 3): mean, 95% t-interval and n per metric.

`load_results` gives one row per (cell, training seed), each metric already the mean of that
network's repeated evaluations; `summarize_cells` averages the seeds of each cell and keeps the
per-seed values, from which `cell_sample` builds the `harness.verdicts.Sample` that the table
cells and the findings compare with the one rule.
"""

import math

import pandas as pd

from harness.verdicts import Sample, as_number, t_interval

CELL_KEYS = ("suite", "table", "row", "column", "subcolumn")
# Per-seed quantities of training summarised per cell besides the metrics' (seed_quantities);
# droplet is the statistic at the end of training.
TRAINING_QUANTITIES = ("img_per_s", "energy_j_per_kimg", "droplet")
# Columns taken from a cell's first seed (they are the same for every seed of a cell).
DESCRIPTIVE = ("scale", "paper_dataset", "config", "dataset", "dataset_source", "feature_network",
               "comparable", "comparability", "comparability_reason")
STATUS_ORDER = ("error", "missing", "partial", "finished")  # a cell is as done as its least done seed
COMPARABILITY_ORDER = ("not comparable", "approximately comparable", "comparable")
TABLE_ORDER = {"table1": 0, "table2": 1, "table3": 2}


def summarize_cells(results: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (CELL_KEYS), in the order cells first appear.

    Columns: CELL_KEYS, DESCRIPTIVE (first seed's), seeds / runs / run_ids (tuples over seeds),
    n_seeds, status (the least finished seed's), and for each quantity m of `seed_quantities`: m (mean over
    seeds), m_ci95 (half-width of the 95% t-interval over seeds; None with one seed), m_n (seeds that
    measured it), m_values (the per-seed values), m_eval_std (root mean square over seeds of the
    repeats' std; None where not recorded), m_comparability (least comparable label over seeds).
    """
    if results.empty:
        return pd.DataFrame(columns=[*CELL_KEYS, "n_seeds"])
    groups: dict[tuple, list[dict]] = {}
    for record in results.to_dict("records"):
        key = tuple(None if _missing(record.get(name)) else record.get(name) for name in CELL_KEYS)
        groups.setdefault(key, []).append(record)
    quantities = seed_quantities(results)
    return pd.DataFrame([_summarize(key, seeds, quantities) for key, seeds in groups.items()])


def seed_quantities(results: pd.DataFrame) -> tuple[str, ...]:
    """What a cell summarises over seeds: every quantity a metric reported (load_results gives each
    one q with its evaluations' std in q_std: FID, KID, precision, recall, PPL, a new metric's) and
    TRAINING_QUANTITIES."""
    reported = [column for column in results.columns
                if f"{column}_std" in results and column not in TRAINING_QUANTITIES]
    return (*reported, *TRAINING_QUANTITIES)


def _summarize(key: tuple, seeds: list[dict], quantities: tuple[str, ...]) -> dict:
    seeds = sorted(seeds, key=lambda record: record.get("seed", 0))
    first = seeds[0]
    row = dict(zip(CELL_KEYS, key, strict=True))
    row.update({name: first.get(name) for name in DESCRIPTIVE})
    statuses = [record.get("status") for record in seeds]
    row.update(
        seeds=tuple(record.get("seed", 0) for record in seeds),
        runs=tuple(record.get("run") for record in seeds),
        run_ids=tuple(record.get("run_id") for record in seeds),
        n_seeds=len(seeds),
        status=min(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 0),
    )
    for metric in quantities:
        row.update(_metric_summary(metric, seeds))
    return row


def _metric_summary(metric: str, seeds: list[dict]) -> dict:
    measured = [record for record in seeds if as_number(record.get(metric)) is not None]
    values = tuple(float(record[metric]) for record in measured)
    mean, half_width, n = t_interval(values) if values else (None, None, 0)
    # Training quantities have no repeated evaluations to take a spread from.
    spread = [] if metric in TRAINING_QUANTITIES else [record.get(f"{metric}_std") for record in measured]
    stds = [std for std in map(as_number, spread) if std is not None]
    labels = [record.get(f"{metric}_comparability") for record in measured]
    labels = [label for label in labels if label in COMPARABILITY_ORDER]
    return {
        metric: mean,
        f"{metric}_ci95": half_width,
        f"{metric}_n": n,
        f"{metric}_values": values,
        f"{metric}_seeds": tuple(record.get("seed", 0) for record in measured),
        f"{metric}_eval_std": math.sqrt(sum(std * std for std in stds) / len(stds)) if stds else None,
        f"{metric}_comparability": min(labels, key=COMPARABILITY_ORDER.index) if labels else None,
    }


def in_paper_order(results: pd.DataFrame) -> pd.DataFrame:
    """`results` with Table 1's cells first, then Table 2's and Table 3's, then the rest (Figure 8),
    keeping the order within each table; runs shared by several tables then appear under the first."""
    if results.empty or "table" not in results:
        return results
    rank = results["table"].map(TABLE_ORDER).fillna(len(TABLE_ORDER))
    return results.iloc[rank.reset_index(drop=True).sort_values(kind="stable").index]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def find_cell(cells: pd.DataFrame, table: str, row: str, column: str, subcolumn: str | None = None):
    """The summary row of one cell as a dict (NaN as None), or None; `subcolumn` None matches cells
    without one."""
    if cells.empty:
        return None
    mask = (cells["table"] == table) & (cells["row"] == row) & (cells["column"] == column)
    mask &= cells["subcolumn"].isna() if subcolumn is None else cells["subcolumn"] == subcolumn
    matches = cells[mask]
    if matches.empty:
        return None
    return {name: None if _missing(value) else value for name, value in matches.iloc[0].items()}


def cell_sample(cell: dict | None, metric: str) -> Sample | None:
    """The per-seed values of one metric of a summary row as a Sample keyed by training seed (so two
    cells pair up seed by seed), or None when not measured."""
    values = (cell or {}).get(f"{metric}_values") or ()
    if not values:
        return None
    return Sample.keyed(values, cell.get(f"{metric}_seeds"), as_number(cell.get(f"{metric}_eval_std")))


def format_estimate(mean, half_width, n: int, digits: int) -> str | None:
    """'12.34 ± 0.56 (n=3)' with the 95% half-width, '12.34 (n=1)' with one seed; None if unmeasured."""
    if as_number(mean) is None:
        return None
    spread = f" ± {half_width:.{digits}f}" if as_number(half_width) is not None else ""
    return f"{mean:.{digits}f}{spread} (n={n})"


def cell_label(cell, separator: str = " | ") -> str:
    """A cell's row, with Table 2's D column after `separator` ("G original | D residual"); a cell
    is a summarize_cells row (dict or Series)."""
    subcolumn = cell.get("subcolumn")
    return f"{cell['row']}{separator}{subcolumn}" if isinstance(subcolumn, str) else str(cell["row"])
