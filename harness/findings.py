"""The seven findings of SPEC.md section 6, each decided from the results store with one rule.

A finding is a list of claims. Each claim compares two cells (their per-seed values), two sets of
runs (Figure 8 shares) or two configurations timed side by side (speed.json) with
`harness.verdicts.compare`, and `harness.verdicts.judge` says whether the data reproduce it,
contradict it, cannot decide, or did not measure it, each at 95%. A finding of k measured claims is
reproduced when all are (an intersection-union test: still 95%), contradicted when a claim is
contradicted at 1 - 5%/k (Bonferroni, so a true finding is called contradicted at most 5% of the
time however many claims it has), inconclusive when any claim is undecided at its level, else not
measured.
"""

from dataclasses import dataclass, field, replace

import pandas as pd

from harness.cells import cell_sample, find_cell, summarize_cells
from harness.learning import count_learned, learns_by_run
from harness.published import load_published
from harness.verdicts import (
    CONFIDENCE,
    MOST_SEEDS,
    PLANNING_POWER,
    Outcome,
    Sample,
    Verdict,
    accepts,
    compare,
    direction_of,
    format_number,
    format_percent,
    judge,
    seeds_to_decide,
    t_interval,
)

LOWER, HIGHER, ABOUT_EQUAL = Verdict.LOWER, Verdict.HIGHER, Verdict.ABOUT_EQUAL
NO_HARM = frozenset({Verdict.LOWER, Verdict.ABOUT_EQUAL})  # "does no harm" to a lower-is-better metric
RELATION = {LOWER: "<", HIGHER: ">", ABOUT_EQUAL: "≈", NO_HARM: "≤ (or ≈)"}
LABELS = {"fid": "FID", "kid": "KID", "ppl": "PPL", "precision": "precision", "recall": "recall",
          "img_per_s": "img/s", "droplet": "droplet statistic", "top_share": "top-resolution share"}


@dataclass(frozen=True, kw_only=True)
class Claim:
    text: str  # what is claimed, e.g. "FFHQ: precision B < A"
    test: str  # how the verdict was decided
    numbers: str  # the means, their 95% CI and n, and the difference
    verdict: Verdict | None  # None when not measured
    outcome: Outcome
    # What it was decided from, so that its finding can decide it again at a stricter level.
    metric: str = field(default="", repr=False)
    accepted: Verdict | frozenset = field(default=frozenset(), repr=False)
    samples: tuple[Sample, Sample] | None = field(default=None, repr=False)
    unit: str = field(default="seeds", repr=False)  # what the samples' values are one per

    def planned(self, level: float) -> "Claim":
        """An undecided claim with the seeds per cell it would take to decide (verdicts.seeds_to_decide)
        at the level its finding needs in the measured direction: `level` against the claim, 95% for it."""
        if self.outcome is not Outcome.INCONCLUSIVE or self.samples is None:
            return self
        baseline, other = self.samples
        confidence = CONFIDENCE if accepts(self.accepted, direction_of(other.mean - baseline.mean)) else level
        seeds = seeds_to_decide(baseline, other, confidence)
        if seeds is None:
            return self
        count = f"more than {MOST_SEEDS}" if seeds > MOST_SEEDS else f"about {seeds}"
        plan = (f"; to decide it at {format_percent(confidence)}: {count} {self.unit} per cell "
                f"({format_percent(PLANNING_POWER)} power if the measured difference and spread are true)")
        return replace(self, numbers=self.numbers + plan)

    def at_level(self, confidence: float) -> "Claim":
        """This claim decided at `confidence` instead of 95%, its numbers saying so (itself when it
        has no samples to decide again)."""
        if self.samples is None or confidence == CONFIDENCE:
            return self
        comparison = compare(self.metric, *self.samples, confidence=confidence)
        outcome = judge(self.accepted, comparison)
        numbers = f"{self.numbers}; at the finding's level: {comparison.describe()}, {outcome.value}"
        return replace(self, numbers=numbers, verdict=comparison.verdict, outcome=outcome)


def _measured(claims) -> int:
    return sum(part.outcome is not Outcome.NOT_MEASURED for part in claims)


def contradiction_level(claims) -> float:
    """1 - 5%/k over the k measured `claims` (Bonferroni): the level one of them must be contradicted
    at to contradict their finding."""
    return 1 - (1 - CONFIDENCE) / max(_measured(claims), 1)


@dataclass(frozen=True, kw_only=True)
class Finding:
    number: int
    claim: str
    status: Outcome
    claims: tuple[Claim, ...]

    @property
    def contradiction_level(self) -> float:
        return contradiction_level(self.claims)

    @property
    def rule(self) -> str:
        measured = _measured(self.claims)
        if measured == 0:
            return "none of its claims was measured"
        if measured == 1:
            return "decided by its one measured claim, at 95%"
        return (f"reproduced when all {measured} measured claims are, each at 95%; contradicted when one is "
                f"contradicted at {format_percent(self.contradiction_level)} (Bonferroni over {measured} "
                "claims: a true finding is called contradicted at most 5% of the time)")

    @property
    def tests(self) -> list[str]:
        """The distinct tests its claims were decided by, in order."""
        return list(dict.fromkeys(part.test for part in self.claims if part.test))


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What the findings read: per-seed results, their per-cell summary, ticks, side-by-side speed, and
    whether each run learned (run -> harness.learning's verdict; a run not in it was not checked)."""

    results: pd.DataFrame
    cells: pd.DataFrame
    stats: pd.DataFrame
    speed: dict | None = None
    learns: dict[str, bool] = field(default_factory=dict)


def _combine(number: int, claim: str, claims: list[Claim]) -> Finding:
    level = contradiction_level(claims)
    outcomes = {part.outcome for part in claims}
    # A stricter interval only widens, so only claims contradicted at 95% can be contradicted at `level`;
    # those are shown with their numbers at `level` too (the verdict column stays the 95% one).
    strict = [part.at_level(level) if part.outcome is Outcome.CONTRADICTED else None for part in claims]
    claims = [replace(part, numbers=tight.numbers) if tight else part.planned(level)
              for part, tight in zip(claims, strict, strict=True)]
    if any(tight and tight.outcome is Outcome.CONTRADICTED for tight in strict):
        status = Outcome.CONTRADICTED
    elif outcomes == {Outcome.REPRODUCED}:
        status = Outcome.REPRODUCED
    elif outcomes & {Outcome.INCONCLUSIVE, Outcome.CONTRADICTED}:
        status = Outcome.INCONCLUSIVE  # includes a claim contradicted at 95% but not at the finding's level
    else:
        status = Outcome.NOT_MEASURED
    return Finding(number=number, claim=claim, status=status, claims=tuple(claims))


def estimate(sample: Sample, unit: str = "seeds") -> str:
    """'40.12 ± 1.23 (95% CI, n=3 seeds)'; one value: '40.12 (n=1, evaluation std 0.10)'."""
    mean, half_width, n = t_interval(sample.values)
    if half_width is not None:
        return f"{format_number(mean)} ± {format_number(half_width)} (95% CI, n={n} {unit})"
    spread = f", evaluation std {format_number(sample.eval_std)}" if sample.eval_std is not None else ""
    return f"{format_number(mean)} (n=1{spread})"


def claim(text: str, metric: str, accepted, pair: tuple[str, str], baseline: Sample | None,
          other: Sample | None, unit: str = "seeds") -> Claim:
    """Compare `other` with `baseline` (labelled pair[0], pair[1]) and judge the claim `accepted`."""
    if baseline is None or other is None:
        missing = " and ".join(label for label, sample in zip(pair, (baseline, other), strict=True)
                               if sample is None)
        return Claim(text=text, test="", numbers=f"{LABELS[metric]} of {missing} not measured", verdict=None,
                     outcome=Outcome.NOT_MEASURED)
    comparison = compare(metric, baseline, other)
    numbers = (f"{pair[0]} {estimate(baseline, unit)} vs {pair[1]} {estimate(other, unit)}; "
               f"{comparison.describe()}")
    return Claim(text=text, test=comparison.test, numbers=numbers, verdict=comparison.verdict,
                 outcome=judge(accepted, comparison), metric=metric, accepted=accepted,
                 samples=(baseline, other), unit=unit)


def cell_claims(evidence: Evidence, table: str, base: tuple, other: tuple, metric: str,
                accepted) -> list[Claim]:
    """One claim per dataset column holding both cells: base and other are (row, subcolumn)."""
    cells = evidence.cells
    if cells.empty:
        return []
    claims = []
    for column in dict.fromkeys(cells.loc[cells["table"] == table, "column"]):
        a, b = (find_cell(cells, table, row, column, sub) for row, sub in (base, other))
        if a is None or b is None:
            continue
        if base[1] == other[1]:  # two rows of one column (Table 2: in one D column)
            where, names = ", ".join(filter(None, (column, base[1]))), (base[0], other[0])
        else:  # one row (a Table 2 G row), two D columns
            where, names = f"{column}, {base[0]}", (base[1], other[1])
        text = f"{where}: {LABELS[metric]} {names[1]} {RELATION[accepted]} {names[0]}"
        part = claim(text, metric, accepted, names, cell_sample(a, metric), cell_sample(b, metric))
        claims.append(replace(part, numbers=part.numbers + _learned_runs(evidence, names, (a, b))))
    return claims


def _learned_runs(evidence: Evidence, names: tuple[str, str], cells: tuple) -> str:
    """'; runs that learned: A 6 of 8, B 8 of 8' for two cells whose runs were all checked, else ''
    (a verdict on networks that did not learn compares runs far from what their configs reach)."""
    counts = [(name, *count_learned(evidence.learns, cell["runs"]), len(cell["runs"]))
              for name, cell in zip(names, cells, strict=True)]
    if any(checked < total for _, _, checked, total in counts):
        return ""
    learned = ", ".join(f"{name} {count} of {total}" for name, count, _, total in counts)
    return f"; runs that learned: {learned}"


def _or_missing(claims: list[Claim], what: str) -> list[Claim]:
    return claims or [Claim(text=what, test="", numbers="not measured", verdict=None,
                            outcome=Outcome.NOT_MEASURED)]


def finding_1_droplets(evidence: Evidence) -> Finding:
    claims = cell_claims(evidence, "table1", ("A", None), ("B", None), "droplet", LOWER)
    return _combine(1, "AdaIN generators show droplet artifacts; demodulation removes them (Fig. 1, 3)",
                    _or_missing(claims, "droplet statistic of B (demod) < A (AdaIN)"))


def finding_2_precision_recall(evidence: Evidence) -> Finding:
    claims = [part for metric, accepted in (("precision", LOWER), ("recall", HIGHER), ("fid", ABOUT_EQUAL))
              for part in cell_claims(evidence, "table1", ("A", None), ("B", None), metric, accepted)]
    return _combine(2, "Demodulation shifts precision towards recall at about equal FID (Table 1, A -> B)",
                    _or_missing(claims, "precision, recall and FID of A and B"))


def speed_claim(evidence: Evidence, base: str, other: str, accepted) -> Claim:
    """img/s of two configurations from the side-by-side timing (paired over its rounds)."""
    text = f"img/s {other} {RELATION[accepted]} {base}, timed side by side in one process"
    rounds = (evidence.speed or {}).get("img_per_s", {})
    if base not in rounds or other not in rounds:
        why = "no speed.json" if evidence.speed is None else f"speed.json has no {base} and {other}"
        return Claim(text=text, test="", numbers=f"not measured ({why}; img/s of runs that shared a machine "
                     "is not evidence)", verdict=None, outcome=Outcome.NOT_MEASURED)
    # Round r times every config in turn, so the rounds of two configs pair up.
    samples = [Sample.keyed(rounds[name], range(len(rounds[name]))) for name in (base, other)]
    measured = claim(text, "img_per_s", accepted, (base, other), *samples, unit="rounds")
    setting = ("device", "threads", "resolution", "batch_size")
    speed = evidence.speed
    where = ", ".join(f"{key} {speed[key]}" for key in setting if speed.get(key) is not None)
    return replace(measured, test=f"{measured.test} ({where})")


def finding_3_lazy_r1(evidence: Evidence) -> Finding:
    claims = _or_missing(cell_claims(evidence, "table1", ("B", None), ("C", None), "fid", NO_HARM),
                         "FID of C ≤ (or ≈) B")
    claims.append(speed_claim(evidence, "B", "C", HIGHER))
    return _combine(3, "Lazy R1 (every 16 minibatches) does no harm and is cheaper (Table 1, B -> C)", claims)


def finding_4_path_length(evidence: Evidence) -> Finding:
    claims = cell_claims(evidence, "table1", ("C", None), ("D", None), "ppl", LOWER)
    return _combine(4, "Path length regularisation lowers PPL (Table 1, C -> D)",
                    _or_missing(claims, "PPL of D < C"))


TABLE2_D = ("D original", "D input skips", "D residual")
TABLE2_G = ("G original", "G output skips", "G residual")


def finding_5_architectures(evidence: Evidence) -> Finding:
    skips = [part for d in TABLE2_D for part in cell_claims(
        evidence, "table2", ("G original", d), ("G output skips", d), "ppl", LOWER)]
    residual = [part for g in TABLE2_G for part in cell_claims(
        evidence, "table2", (g, "D original"), (g, "D residual"), "fid", LOWER)]
    claims = _or_missing(skips, "PPL of G output skips < G original, in any D column")
    claims += _or_missing(residual, "FID of D residual < D original, in any G row")
    text = "Output skips in G lower PPL in every D configuration; a residual D lowers FID (Table 2)"
    return _combine(5, text, claims)


# Figure 8 shares in stats.jsonl: harness.train writes `fig8` ({resolution: share}); the store's
# contract also allows `fig8_shares`. Flattened by load_stats to "<key>.<resolution>" columns.
SHARE_PREFIXES = ("fig8.", "fig8_shares.")


def run_shares(stats: pd.DataFrame, run: str) -> pd.DataFrame:
    """Figure 8 shares of one run: [kimg, <resolution>...] (ints as column names, ascending), one row
    per tick where they were measured; empty when the run has none."""
    if stats.empty or "run" not in stats:
        return pd.DataFrame()
    ticks = stats[stats["run"] == run]
    for prefix in SHARE_PREFIXES:
        columns = {
            int(name[len(prefix):]): name for name in ticks.columns
            if name.startswith(prefix) and name[len(prefix):].isdigit() and ticks[name].notna().any()
        }
        if columns:
            ordered = [columns[res] for res in sorted(columns)]
            shares = ticks.dropna(subset=ordered)[["kimg", *ordered]]
            return shares.set_axis(["kimg", *sorted(columns)], axis=1).reset_index(drop=True)
    return pd.DataFrame()


def top_share_curve(stats: pd.DataFrame, run: str) -> pd.DataFrame:
    """[kimg, top_share] ticks of `run` where Figure 8 shares were measured (empty when none)."""
    shares = run_shares(stats, run)
    if shares.empty:
        return pd.DataFrame(columns=["kimg", "top_share"])
    return pd.DataFrame({"kimg": shares["kimg"], "top_share": shares[shares.columns[-1]]})


def figure8_runs(results: pd.DataFrame) -> dict[str, list[str]]:
    """{'E': [run per seed], 'F': [...]} for Figure 8, preferring the figure8 suite's cells over
    Table 1's FFHQ cells; runs ordered by training seed."""
    runs: dict[str, list[str]] = {}
    if results.empty:
        return runs
    for table in ("table1", "figure8"):  # later tables override earlier ones
        cells = results[results["table"] == table]
        cells = cells.sort_values("seed", kind="stable") if "seed" in cells else cells
        found: dict[str, list[str]] = {}
        for _, cell in cells.iterrows():
            config = cell.get("config") or cell.get("config_name")
            if config in ("E", "F") and (table == "figure8" or cell["column"] == "FFHQ"):
                found.setdefault(config, []).append(cell["run"])
        runs.update({config: list(dict.fromkeys(members)) for config, members in found.items()})
    return runs


def _top_shares(evidence: Evidence, config: str, index: int) -> Sample | None:
    """The top-resolution share at tick `index` (0 first, -1 last) of each seed's run of `config`,
    keyed by training seed (so the start and end of one run, and seed k of E and F, pair up)."""
    results = evidence.results
    seed_of = dict(zip(results["run"], results["seed"], strict=True)) if "seed" in results else {}
    values, keys = [], []
    for run in figure8_runs(results).get(config, []):
        curve = top_share_curve(evidence.stats, run)
        if len(curve) >= 2:
            values.append(float(curve["top_share"].iloc[index]))
            keys.append(seed_of.get(run))
    return Sample.keyed(values, keys) if values else None


def finding_6_resolution_usage(evidence: Evidence) -> Finding:
    claims = [claim(f"config {config}: top-resolution share at the end > at the start", "top_share", HIGHER,
                    ("start", "end"), _top_shares(evidence, config, 0), _top_shares(evidence, config, -1))
              for config in ("E", "F")]
    claims.append(claim("final top-resolution share F > E", "top_share", HIGHER, ("E", "F"),
                        _top_shares(evidence, "E", -1), _top_shares(evidence, "F", -1)))
    claims += _or_missing(cell_claims(evidence, "table1", ("E", None), ("F", None), "fid", LOWER),
                          "FID of F < E")
    claims += _or_missing(cell_claims(evidence, "table1", ("E", None), ("F", None), "recall", HIGHER),
                          "recall of F > E")
    text = ("Without growing the skip G shifts towards high resolutions over training; larger networks raise "
            "the top resolution's share and improve FID and recall (Fig. 8, config F)")
    return _combine(6, text, claims)


def finding_7_speed(evidence: Evidence) -> Finding:
    paper = load_published().throughput.get("img_per_s", {})
    claims = [speed_claim(evidence, "A", "E", HIGHER), speed_claim(evidence, "A", "F", LOWER)]
    if {"A", "E", "F"} <= paper.keys():
        note = f"; paper: E/A {paper['E'] / paper['A']:.2f}, F/A {paper['F'] / paper['A']:.2f}"
        claims = [replace(part, numbers=part.numbers + note) for part in claims]
    return _combine(7, "Config E trains about 40% faster than A; F is slightly slower than A", claims)


FINDINGS = (
    finding_1_droplets,
    finding_2_precision_recall,
    finding_3_lazy_r1,
    finding_4_path_length,
    finding_5_architectures,
    finding_6_resolution_usage,
    finding_7_speed,
)


def evaluate_findings(results: pd.DataFrame, stats: pd.DataFrame, speed: dict | None = None,
                      learning=()) -> list[Finding]:
    """All seven findings of SPEC.md section 6, in order, from load_results / load_stats / load_speed
    and harness.learning's checks (`learning`: each claim between cells then counts the runs that learned)."""
    evidence = Evidence(results=results, cells=summarize_cells(results), stats=stats, speed=speed,
                        learns=learns_by_run(learning))
    return [finding(evidence) for finding in FINDINGS]
