"""Findings of SPEC.md section 6 on constructed per-seed data: every outcome of every finding."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.cells import summarize_cells
from harness.findings import (
    Evidence,
    evaluate_findings,
    finding_1_droplets,
    finding_2_precision_recall,
    finding_3_lazy_r1,
    finding_4_path_length,
    finding_5_architectures,
    finding_6_resolution_usage,
    finding_7_speed,
)
from harness.results import load_results, load_speed, load_stats
from harness.suites.tables import DATASET_COLUMNS
from harness.verdicts import Outcome, Verdict
from tests.harness.fixtures import write_seeded_store

REPRODUCED, CONTRADICTED = Outcome.REPRODUCED, Outcome.CONTRADICTED
INCONCLUSIVE, NOT_MEASURED = Outcome.INCONCLUSIVE, Outcome.NOT_MEASURED
NO_STATS = pd.DataFrame(columns=["run"])
JITTER = (-1.0, 0.0, 1.0)  # three seeds: a cell's values are its mean + scale * JITTER


def seeds(mean: float, spread: float = 0.01, n: int = 3) -> list[float]:
    return [mean + spread * mean * JITTER[i % 3] for i in range(n)]


def cells(*specs, eval_std: float | None = 0.001) -> pd.DataFrame:
    """Per-seed results rows. specs: (table, row, column, subcolumn, {metric: [value per seed]})."""
    rows = []
    for table, row, column, subcolumn, values in specs:
        for seed in range(max(len(v) for v in values.values() if isinstance(v, list))):
            record = dict(suite=table, table=table, row=row, column=column, subcolumn=subcolumn, config=row,
                          seed=seed, run=f"{table}/{row}/{subcolumn}/{column}/seed{seed}")
            for metric, per_seed in values.items():
                record[metric] = per_seed[seed] if isinstance(per_seed, list) else per_seed
                record[f"{metric}_std"] = eval_std
            rows.append(record)
    return pd.DataFrame(rows)


def evidence(results: pd.DataFrame, stats=NO_STATS, speed=None) -> Evidence:
    """speed: {config: [img/s per round]}, wrapped as speed.json holds it."""
    timing = None if speed is None else {"img_per_s": speed, "device": "cpu", "threads": 2}
    return Evidence(results=results, cells=summarize_cells(results), stats=stats, speed=timing)


def table1(values_by_row: dict, column="FFHQ", **options) -> pd.DataFrame:
    return cells(*[("table1", row, column, None, values) for row, values in values_by_row.items()], **options)


@pytest.mark.parametrize(
    "b_droplet, outcome",
    [(seeds(0.05), REPRODUCED), (seeds(0.60), CONTRADICTED), ([0.05], INCONCLUSIVE), (None, NOT_MEASURED)],
)
def test_finding_1_droplets_compares_a_and_b_over_seeds(b_droplet, outcome):
    b = {"droplet": b_droplet} if b_droplet is not None else {"fid": seeds(10.0)}
    a = {"droplet": seeds(0.30) if b_droplet is None or len(b_droplet) > 1 else [0.30]}
    finding = finding_1_droplets(evidence(table1({"A": a, "B": b})))
    assert finding.status is outcome
    if outcome is not NOT_MEASURED:
        assert "n=" in finding.claims[0].numbers and finding.claims[0].text == "FFHQ: droplet statistic B < A"


@pytest.mark.parametrize(
    "b, outcome",
    [
        (dict(fid=seeds(4.39), precision=seeds(0.70), recall=seeds(0.43)), REPRODUCED),
        (dict(fid=seeds(4.39), precision=seeds(0.75), recall=seeds(0.43)), CONTRADICTED),  # precision rose
        (dict(fid=seeds(6.00), precision=seeds(0.70), recall=seeds(0.43)), CONTRADICTED),  # FID not equal
        (dict(fid=seeds(4.39, 0.3), precision=seeds(0.70), recall=seeds(0.43)), INCONCLUSIVE),  # noisy FID
        (dict(fid=seeds(4.39), precision=seeds(0.70)), NOT_MEASURED),
    ],
)
def test_finding_2_precision_recall(b, outcome):
    a = {"fid": seeds(4.40), "precision": seeds(0.72), "recall": seeds(0.40)}
    finding = finding_2_precision_recall(evidence(table1({"A": a, "B": b})))
    assert finding.status is outcome
    verdicts = {claim.text: claim.verdict for claim in finding.claims}
    if outcome is REPRODUCED:
        assert verdicts == {"FFHQ: precision B < A": Verdict.LOWER, "FFHQ: recall B > A": Verdict.HIGHER,
                            "FFHQ: FID B ≈ A": Verdict.ABOUT_EQUAL}
        assert "95% CI" in finding.claims[0].numbers and "paired t over 3 matched pairs" in finding.tests[0]


SPEED = {"A": [37.0, 36.5, 37.5, 37.2], "B": [35.0, 35.5, 34.8, 35.2], "C": [40.0, 40.5, 39.6, 40.2],
         "E": [61.0, 60.0, 61.5, 60.8], "F": [31.0, 31.5, 30.6, 31.2]}


@pytest.mark.parametrize(
    "c_fid, speed, outcome",
    [
        (seeds(4.38), SPEED, REPRODUCED),
        (seeds(4.00), SPEED, REPRODUCED),  # lower FID is no harm either
        (seeds(4.38), {**SPEED, "C": [30.0, 30.5, 29.8, 30.1]}, CONTRADICTED),  # slower
        (seeds(6.00), SPEED, CONTRADICTED),  # harmed FID
        (seeds(4.38), None, NOT_MEASURED),  # no side-by-side timing: per-run img/s is not used
    ],
)
def test_finding_3_lazy_r1(c_fid, speed, outcome):
    # The runs' own img/s (B far faster) must be ignored: runs that shared a machine.
    results = table1({"B": {"fid": seeds(4.39), "img_per_s": [99.0] * 3},
                      "C": {"fid": c_fid, "img_per_s": [1.0] * 3}})
    finding = finding_3_lazy_r1(evidence(results, speed=speed))
    assert finding.status is outcome
    if speed is None:
        assert "no speed.json" in finding.claims[-1].numbers


def test_finding_4_path_length_in_every_column_and_with_one_seed():
    both = pd.concat([table1({"C": {"ppl": seeds(158.0)}, "D": {"ppl": seeds(122.5)}}),
                      table1({"C": {"ppl": seeds(981.6)}, "D": {"ppl": seeds(651.2)}}, column="LSUN Car")])
    assert finding_4_path_length(evidence(both)).status is REPRODUCED
    both.loc[(both["row"] == "D") & (both["column"] == "LSUN Car"), "ppl"] = 1100.0
    finding = finding_4_path_length(evidence(both))
    assert finding.status is CONTRADICTED
    assert [claim.outcome for claim in finding.claims] == [REPRODUCED, CONTRADICTED]
    # One seed: decided only when the difference exceeds 10x the evaluation spread.
    one = table1({"C": {"ppl": [158.0]}, "D": {"ppl": [122.5]}}, eval_std=1.0)
    assert finding_4_path_length(evidence(one)).status is REPRODUCED  # 35.5 > 10 x 1.41
    close = table1({"C": {"ppl": [158.0]}, "D": {"ppl": [150.0]}}, eval_std=1.0)
    assert finding_4_path_length(evidence(close)).status is INCONCLUSIVE  # 8 < 14.1
    unmeasured = finding_4_path_length(evidence(table1({"C": {"ppl": [1.0]}})))
    assert unmeasured.status is NOT_MEASURED and unmeasured.rule == "none of its claims was measured"


def test_a_finding_is_contradicted_only_when_a_claim_is_at_its_bonferroni_level():
    c = [100.0] * 5
    d = [101.0, 109.0, 105.0, 102.0, 108.0]  # paired t = 3.16: beyond 95% (2.78), within 97.5% (3.50)
    slightly_higher = table1({"C": {"ppl": c}, "D": {"ppl": d}})
    alone = finding_4_path_length(evidence(slightly_higher))
    assert alone.status is CONTRADICTED and alone.contradiction_level == pytest.approx(0.95)
    halved = [50.0, 51.0, 49.0, 50.5, 49.5]
    lower_elsewhere = table1({"C": {"ppl": c}, "D": {"ppl": halved}}, column="LSUN Car")
    two = finding_4_path_length(evidence(pd.concat([slightly_higher, lower_elsewhere])))
    assert [claim.outcome for claim in two.claims] == [CONTRADICTED, REPRODUCED]  # each at 95%
    assert two.status is INCONCLUSIVE and "contradicted at 97.5% (Bonferroni over 2 claims" in two.rule
    far = [130.0, 139.0, 135.0, 132.0, 138.0]
    both = pd.concat([table1({"C": {"ppl": c}, "D": {"ppl": far}}), lower_elsewhere])
    assert finding_4_path_length(evidence(both)).status is CONTRADICTED


def test_an_undecided_claim_says_how_many_seeds_would_decide_it_at_the_level_its_direction_needs():
    c = [100.0, 102.0, 98.0, 101.0, 99.0]
    higher = table1({"C": {"ppl": c}, "D": {"ppl": [106.0, 96.0, 108.0, 95.0, 105.0]}})  # against the claim
    lower = table1({"C": {"ppl": c}, "D": {"ppl": [95.0, 108.0, 90.0, 104.0, 93.0]}}, column="LSUN Car")
    finding = finding_4_path_length(evidence(pd.concat([higher, lower])))
    assert [claim.outcome for claim in finding.claims] == [INCONCLUSIVE, INCONCLUSIVE]
    against, along = (claim.numbers for claim in finding.claims)
    assert "to decide it at 97.5%: about" in against  # a contradiction needs the finding's Bonferroni level
    assert "to decide it at 95%: about" in along and "seeds per cell (80% power" in along
    halved = table1({"C": {"ppl": c}, "D": {"ppl": [50.0, 51.0, 49.0, 50.5, 49.0]}})
    decided = finding_4_path_length(evidence(halved))
    assert "to decide it" not in decided.claims[0].numbers


def test_a_claim_between_cells_counts_the_runs_that_learned():
    results = table1({"C": {"ppl": seeds(240.0)}, "D": {"ppl": seeds(150.0)}})
    learns = dict.fromkeys(results["run"], True) | {"table1/C/None/FFHQ/seed1": False}
    checked = replace(evidence(results), learns=learns)
    (part,) = finding_4_path_length(checked).claims
    assert part.outcome is REPRODUCED  # the count is stated beside the verdict, which it does not change
    assert part.numbers.endswith("; runs that learned: C 2 of 3, D 3 of 3")
    del learns["table1/D/None/FFHQ/seed2"]  # a run without a check: no count rather than a partial one
    assert "learned" not in finding_4_path_length(replace(checked, learns=learns)).claims[0].numbers
    assert "learned" not in finding_4_path_length(evidence(results)).claims[0].numbers


def test_a_true_finding_of_five_claims_is_called_contradicted_at_most_five_percent_of_the_time():
    """F3's "no harm" in all five columns with C = B in truth: each claim alone is falsely contradicted
    ("higher") 2.5% of the time, so about 12% of findings would be without the correction."""
    rng, experiments, n = np.random.default_rng(7), 200, 5
    uncorrected = corrected = 0
    for _ in range(experiments):
        results = pd.concat([table1({"B": {"fid": list(100.0 + rng.normal(0, 10, n))},
                                     "C": {"fid": list(100.0 + rng.normal(0, 10, n))}}, column=column)
                             for column in DATASET_COLUMNS])
        finding = finding_3_lazy_r1(evidence(results))
        uncorrected += any(claim.outcome is CONTRADICTED for claim in finding.claims)
        corrected += finding.status is CONTRADICTED
    assert corrected <= stats.binom.interval(0.999, experiments, 0.05)[1]
    assert uncorrected >= stats.binom.interval(0.999, experiments, 0.06)[0]  # the correction mattered


PAPER_FFHQ_TABLE2 = {
    ("G original", "D original"): (4.32, 265), ("G original", "D input skips"): (4.18, 235),
    ("G original", "D residual"): (3.58, 269), ("G output skips", "D original"): (4.33, 169),
    ("G output skips", "D input skips"): (3.77, 127), ("G output skips", "D residual"): (3.31, 125),
    ("G residual", "D original"): (4.35, 203), ("G residual", "D input skips"): (3.96, 229),
    ("G residual", "D residual"): (3.79, 243),
}


def table2(grid: dict) -> pd.DataFrame:
    """grid: {(G row, D column): (fid, ppl)} on FFHQ, three seeds around each."""
    return cells(*[("table2", g, "FFHQ", d, {"fid": seeds(fid), "ppl": seeds(ppl)})
                   for (g, d), (fid, ppl) in grid.items()])


def test_finding_5_architectures_on_the_papers_own_numbers():
    finding = finding_5_architectures(evidence(table2(PAPER_FFHQ_TABLE2)))
    assert finding.status is REPRODUCED and len(finding.claims) == 6
    broken = dict(PAPER_FFHQ_TABLE2)
    broken[("G output skips", "D input skips")] = (3.77, 300)  # skips no longer lower PPL here
    finding = finding_5_architectures(evidence(table2(broken)))
    assert finding.status is CONTRADICTED
    bad = [claim for claim in finding.claims if claim.outcome is CONTRADICTED]
    assert [claim.text for claim in bad] == ["FFHQ, D input skips: PPL G output skips < G original"]
    only_ppl = {key: value for key, value in PAPER_FFHQ_TABLE2.items() if key[1] != "D residual"}
    assert finding_5_architectures(evidence(table2(only_ppl))).status is NOT_MEASURED  # no residual D


def fig8_stats(e_tops: list, f_tops: list) -> pd.DataFrame:
    """Ticks of E-run<k> / F-run<k>: e_tops[k] = (first, last) top share of seed k."""
    rows = []
    for config, tops in (("E", e_tops), ("F", f_tops)):
        for seed, (first, last) in enumerate(tops):
            for kimg, top in ((1.0, first), (2.0, last)):
                rows.append({"run": f"{config}-run{seed}", "kimg": kimg, "fig8_shares.8": 1 - top,
                             "fig8_shares.16": top})
    return pd.DataFrame(rows)


def test_finding_6_resolution_usage_over_seeds():
    results = table1({"E": {"fid": seeds(3.31), "recall": seeds(0.449)},
                      "F": {"fid": seeds(2.84), "recall": seeds(0.492)}})
    results["run"] = results["row"] + "-run" + results["seed"].astype(str)
    e_tops = [(0.10, 0.30), (0.11, 0.31), (0.09, 0.29)]
    grows = fig8_stats(e_tops, [(0.10, 0.40), (0.12, 0.41), (0.11, 0.39)])
    assert finding_6_resolution_usage(evidence(results, grows)).status is REPRODUCED
    # F ends with a smaller top share than E.
    smaller = fig8_stats(e_tops, [(0.10, 0.20), (0.12, 0.21), (0.11, 0.19)])
    finding = finding_6_resolution_usage(evidence(results, smaller))
    assert finding.status is CONTRADICTED
    outcomes = {claim.text: claim.outcome for claim in finding.claims}
    assert outcomes["final top-resolution share F > E"] is CONTRADICTED
    assert finding_6_resolution_usage(evidence(results)).status is NOT_MEASURED


@pytest.mark.parametrize(
    "speed, outcome",
    [
        (SPEED, REPRODUCED),  # the paper's own numbers, timed in rounds
        ({**SPEED, "E": [37.0, 37.4, 36.6, 37.1]}, CONTRADICTED),  # E about equal to A (inside 5%)
        ({**SPEED, "E": [30.0, 52.0, 36.0, 48.0]}, INCONCLUSIVE),  # E too noisy to tell
        ({**SPEED, "F": [45.0, 45.5, 44.6, 45.2]}, CONTRADICTED),  # F faster than A
        ({"A": SPEED["A"], "E": SPEED["E"]}, NOT_MEASURED),
        (None, NOT_MEASURED),
    ],
)
def test_finding_7_speed_uses_the_side_by_side_timing(speed, outcome):
    # The runs' own img/s say the opposite and must be ignored: runs that shared a machine.
    run_speeds = (("A", 99.0), ("E", 1.0), ("F", 500.0))
    results = table1({row: {"img_per_s": [value] * 3} for row, value in run_speeds})
    finding = finding_7_speed(evidence(results, speed=speed))
    assert finding.status is outcome
    paper = "paper: E/A 1.65, F/A 0.84"  # from published.json
    assert all(paper in claim.numbers for claim in finding.claims)
    assert speed is not None or all(claim.outcome is NOT_MEASURED for claim in finding.claims)


def test_findings_on_an_empty_store_are_not_measured():
    findings = evaluate_findings(pd.DataFrame(), NO_STATS)
    assert [finding.number for finding in findings] == list(range(1, 8))
    assert {finding.status for finding in findings} == {NOT_MEASURED}


def test_findings_from_the_one_seed_fixture_store(results_tree):
    findings = evaluate_findings(load_results(results_tree.root), load_stats(results_tree.root))
    status = {finding.number: finding.status for finding in findings}
    # One seed, evaluation std 0.1 (PPL: 5% of it): no difference exceeds 10x the spread (C -> D PPL
    # 240 -> 150 against 10 x 14.2); the droplet statistic has no evaluation spread; no speed.json.
    assert status == {1: INCONCLUSIVE, 2: INCONCLUSIVE, 3: INCONCLUSIVE, 4: INCONCLUSIVE, 5: NOT_MEASURED,
                      6: INCONCLUSIVE, 7: NOT_MEASURED}


def test_findings_from_a_seeded_store_with_side_by_side_speed(tmp_path):
    write_seeded_store(tmp_path, {
        "A": {"fid": seeds(40.0), "precision": seeds(0.60), "recall": seeds(0.30), "droplet": seeds(0.30)},
        "B": {"fid": seeds(40.1), "precision": seeds(0.55), "recall": seeds(0.35), "droplet": seeds(0.05)},
        "C": {"fid": seeds(39.9), "ppl": seeds(240.0)},
        "D": {"fid": seeds(39.0), "ppl": seeds(150.0)},
    }, speed=SPEED)
    findings = evaluate_findings(load_results(tmp_path), load_stats(tmp_path), load_speed(tmp_path))
    status = {finding.number: finding.status for finding in findings}
    assert status == {1: REPRODUCED, 2: REPRODUCED, 3: REPRODUCED, 4: REPRODUCED, 5: NOT_MEASURED,
                      6: NOT_MEASURED, 7: REPRODUCED}
