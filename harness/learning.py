"""Did each run learn? One rule (issue 14's), read by the report and by the committed-example tests.

A run learns when its final FID is at most `LEARNING_RATIO` times the FID of its first snapshot
taken after at least `EARLY_FRACTION` of its training budget. The reference is a snapshot of a
network that has trained a while, not the untrained one: any training at all lowers the FID of
random weights, so a fall from there would not show that a run keeps learning.
"""

from dataclasses import dataclass

import pandas as pd

LEARNING_RATIO = 0.5  # final FID at most half the early one
EARLY_FRACTION = 0.1  # the early snapshot: the first after 10% of the budget


@dataclass(frozen=True, kw_only=True)
class LearningCheck:
    """One run's check: FIDs at the early and the final snapshot (kimg = thousands of images)."""

    run: str
    early_kimg: float
    early_fid: float
    final_kimg: float
    final_fid: float
    budget_kimg: float

    @property
    def ratio(self) -> float:
        """final / early FID (below LEARNING_RATIO: the run learns)."""
        return self.final_fid / self.early_fid

    @property
    def reached_the_end(self) -> bool:
        return self.final_kimg >= self.budget_kimg - 1e-9

    @property
    def learns(self) -> bool:
        return self.reached_the_end and self.final_kimg > self.early_kimg and self.ratio <= LEARNING_RATIO


def check_run(run: str, fid_by_kimg: dict[float, float], budget_kimg: float) -> LearningCheck | None:
    """The check of one run from its FID per snapshot {kimg: FID}; None when no snapshot qualifies."""
    early = [kimg for kimg in fid_by_kimg if kimg >= EARLY_FRACTION * budget_kimg - 1e-9]
    if not early:
        return None
    first, last = min(early), max(fid_by_kimg)
    return LearningCheck(run=run, early_kimg=first, early_fid=fid_by_kimg[first], final_kimg=last,
                         final_fid=fid_by_kimg[last], budget_kimg=budget_kimg)


def learning_checks(metric_rows: pd.DataFrame, results: pd.DataFrame) -> list[LearningCheck]:
    """One check per run of `results` (load_results: `run`, `kimg` = budget) from its FID rows in
    `metric_rows` (load_metric_rows: `run`, `metric`, `snapshot_kimg`, `value`), in run order."""
    if metric_rows.empty or results.empty or "metric" not in metric_rows:
        return []
    fid = metric_rows[metric_rows["metric"] == "fid"]
    checks = []
    for run, budget in results.drop_duplicates("run").set_index("run")["kimg"].items():
        rows = fid[fid["run"] == run]
        by_kimg = {float(kimg): float(value) for kimg, value in zip(rows["snapshot_kimg"], rows["value"],
                                                                     strict=True)}
        check = check_run(run, by_kimg, float(budget)) if by_kimg and pd.notna(budget) else None
        if check is not None:
            checks.append(check)
    return sorted(checks, key=lambda check: check.run)


def learns_by_run(checks: list[LearningCheck]) -> dict[str, bool]:
    """run -> whether it learns; a run without a check is absent."""
    return {check.run: check.learns for check in checks}


def count_learned(learns: dict[str, bool], runs) -> tuple[int, int]:
    """(runs that learn, runs checked) among `runs`, from learns_by_run."""
    checked = [learns[run] for run in runs if run in learns]
    return sum(checked), len(checked)
