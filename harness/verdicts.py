"""The one rule that compares two cells: "lower", "higher", "about equal" or "inconclusive".

The report's table cells (each change against the row the paper compares it with) and the
findings both call `compare`; nothing else in the harness decides a direction. A cell is a
`Sample`: one value per training seed, each the mean of that network's metric evaluations (or, for
speed, one value per interleaved timing round).

- Two or more values on both sides (Welch's t over seeds): "about equal" when the 90% confidence
  interval of the difference lies inside the metric's equivalence margin (two one-sided tests at
  5%); else "lower" / "higher" when the 95% interval excludes zero; else "inconclusive".
  Equivalence is tested first: a difference that is real but smaller than the margin is reported
  as about equal, since the margin states the smallest change that matters.
- One value on either side: there is no between-seed variance, so a difference is "lower" /
  "higher" only when it exceeds ONE_SEED_MULTIPLE times the evaluation spread (the repeats' std of
  both cells, combined); otherwise "inconclusive", never "about equal". Without a positive spread
  (not recorded, or repeats that agreed exactly) one seed decides nothing.
"""

import math
from dataclasses import dataclass
from enum import StrEnum

from scipy import stats


class Verdict(StrEnum):
    LOWER = "lower"
    HIGHER = "higher"
    ABOUT_EQUAL = "about equal"
    INCONCLUSIVE = "inconclusive"

    @property
    def symbol(self) -> str:
        return {"lower": "↓", "higher": "↑", "about equal": "≈", "inconclusive": "?"}[self.value]


class Outcome(StrEnum):
    """What the data say about a claim (and about a finding made of claims)."""

    REPRODUCED = "reproduced"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"
    NOT_MEASURED = "not measured"


CONFIDENCE = 0.95  # directions: the 95% CI of the difference excludes zero
EQUIVALENCE_CONFIDENCE = 0.90  # equivalence: 90% CI inside the margin = two one-sided tests at 5%
# One seed: |difference| > 10 x sqrt(eval_a^2 + eval_b^2). Two one-seed runs differ by noise of std
# sqrt(2) * sqrt(seed_std^2 + eval_std^2), so this is a 95% test as long as the between-seed std is
# at most SEED_TO_EVAL_RATIO (5.0) times the evaluation std, a stated assumption, not a measurement.
ONE_SEED_MULTIPLE = 10.0
SEED_TO_EVAL_RATIO = math.sqrt((ONE_SEED_MULTIPLE / stats.norm.ppf(0.975)) ** 2 - 1)


@dataclass(frozen=True, kw_only=True)
class Margin:
    """An equivalence margin: `size` in the metric's units, or a fraction of |baseline mean|."""

    size: float
    relative: bool
    reason: str

    def width(self, baseline_mean: float) -> float:
        return self.size * abs(baseline_mean) if self.relative else self.size

    def describe(self) -> str:
        return f"±{self.size:.0%} of the baseline" if self.relative else f"±{self.size:g}"


_FID_REASON = (
    "the paper calls FID changes under 1% about equal (Table 1 FFHQ A->B 4.40->4.39, B->C 4.39->4.38) "
    "and presents changes of 9.5% or more as effects (A->A-large 4.40->3.98, the smallest); 5% lies between"
)
MARGINS = {
    "fid": Margin(size=0.05, relative=True, reason=_FID_REASON),
    "kid": Margin(size=0.05, relative=True, reason="KID measures the same feature-distribution distance as "
                  "FID without its sample-size bias, so its changes are read with FID's margin"),
    "ppl": Margin(size=0.05, relative=True, reason="the paper treats D->E (122.5->124.5, 1.6%) as unchanged "
                  "and presents changes of 10% or more as effects (B->C 175.4->158.0, the smallest in Table "
                  "1 FFHQ); 5% lies between"),
    "precision": Margin(size=0.01, relative=False, reason="half the smallest precision/recall shift the "
                        "paper presents as an effect (Table 1 FFHQ A->B precision 0.721->0.702)"),
    "recall": Margin(size=0.01, relative=False, reason="the same margin as precision: both are shares of "
                     "samples on the same scale"),
    "img_per_s": Margin(size=0.05, relative=True, reason="a third of the smallest speed difference the paper "
                        "names (F vs A, 31 vs 37 img/s, -16%)"),
    "energy_j_per_kimg": Margin(size=0.05, relative=True, reason="energy per image follows training time, so "
                                "it takes img/s's margin"),
    "droplet": Margin(size=0.10, relative=True, reason="a droplet concentrates a feature map's activation in "
                      "a few pixels, a several-fold change of this share (Fig. 1); 10% is far below that"),
    "top_share": Margin(size=0.02, relative=False, reason="Figure 8 reads shares off stacked areas; a change "
                        "under 2 percentage points is not visible in the figure the claim is made from"),
}


def margin_for(metric: str) -> Margin:
    if metric not in MARGINS:
        raise ValueError(f"no equivalence margin for metric {metric!r}; known: {', '.join(sorted(MARGINS))}")
    return MARGINS[metric]


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One cell: `values` one per training seed (or timing round); `eval_std` the std of one
    network's repeated metric evaluations (None where the metric has no repeats)."""

    values: tuple[float, ...]
    eval_std: float | None = None

    def __post_init__(self):
        if not self.values or not all(math.isfinite(value) for value in self.values):
            raise ValueError(f"a Sample needs at least one finite value, got {self.values!r}")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / self.n

    @property
    def variance(self) -> float:
        """Unbiased variance over the values (0 for a single value)."""
        if self.n < 2:
            return 0.0
        return sum((value - self.mean) ** 2 for value in self.values) / (self.n - 1)


def t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float | None, int]:
    """(mean, half-width of the t-interval, n) over `values`; the half-width is None for n < 2."""
    sample = Sample(values=tuple(float(value) for value in values))
    if sample.n < 2:
        return sample.mean, None, 1
    quantile = stats.t.ppf(0.5 + confidence / 2, sample.n - 1)
    return sample.mean, float(quantile * math.sqrt(sample.variance / sample.n)), sample.n


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """`other` against `baseline` for one metric; difference = mean(other) - mean(baseline)."""

    metric: str
    verdict: Verdict
    difference: float
    margin: float  # equivalence margin in the metric's units
    n: tuple[int, int]  # (baseline, other) values
    ci95: tuple[float, float] | None = None  # Welch intervals (None with one seed)
    ci90: tuple[float, float] | None = None
    threshold: float | None = None  # one seed: ONE_SEED_MULTIPLE x evaluation spread (None if unknown)

    @property
    def test(self) -> str:
        if self.ci95 is not None:
            return ("Welch t: about equal when the 90% CI of the difference lies inside the margin (two "
                    "one-sided tests at 5%), else lower/higher when its 95% CI excludes 0")
        return (f"one seed: |difference| > {ONE_SEED_MULTIPLE:g} x evaluation spread (a 95% test if the "
                f"between-seed std is at most {SEED_TO_EVAL_RATIO:.1f}x the evaluation std)")

    def describe(self) -> str:
        text = f"difference {format_number(self.difference, signed=True)}"
        if self.ci95 is not None:
            return (text + f" [95% CI {_interval(self.ci95)}; 90% CI {_interval(self.ci90)}], margin "
                    f"±{format_number(self.margin)}")
        if self.threshold is None:
            return text + " (no evaluation spread to judge it by: not recorded, or repeats agreed exactly)"
        return text + f" vs {ONE_SEED_MULTIPLE:g} x evaluation spread {format_number(self.threshold)}"


def compare(metric: str, baseline: Sample, other: Sample) -> Comparison:
    """The verdict on `other` relative to `baseline` (the rule in the module docstring)."""
    margin = margin_for(metric).width(baseline.mean)
    difference = other.mean - baseline.mean
    common = dict(metric=metric, difference=difference, margin=margin, n=(baseline.n, other.n))
    if baseline.n < 2 or other.n < 2:
        spreads = [s.eval_std for s in (baseline, other) if _is_number(s.eval_std)]
        spread = math.hypot(*spreads) if len(spreads) == 2 else 0.0
        # Zero spread (repeats that agreed exactly) measures no noise, so it cannot decide anything.
        threshold = ONE_SEED_MULTIPLE * spread if spread > 0 else None
        decided = threshold is not None and abs(difference) > threshold
        verdict = _direction(difference) if decided else Verdict.INCONCLUSIVE
        return Comparison(verdict=verdict, threshold=threshold, **common)
    ci95, ci90 = (_welch_interval(baseline, other, level) for level in (CONFIDENCE, EQUIVALENCE_CONFIDENCE))
    if -margin <= ci90[0] and ci90[1] <= margin:
        verdict = Verdict.ABOUT_EQUAL
    elif ci95[0] > 0 or ci95[1] < 0:
        verdict = _direction(difference)
    else:
        verdict = Verdict.INCONCLUSIVE
    return Comparison(verdict=verdict, ci95=ci95, ci90=ci90, **common)


def _welch_interval(a: Sample, b: Sample, confidence: float) -> tuple[float, float]:
    """Two-sided `confidence` interval of mean(b) - mean(a), unequal variances (Welch 1947)."""
    var_a, var_b = a.variance / a.n, b.variance / b.n
    difference = b.mean - a.mean
    if var_a + var_b == 0:  # identical values within each side: the difference is known exactly
        return difference, difference
    dof = (var_a + var_b) ** 2 / (var_a**2 / (a.n - 1) + var_b**2 / (b.n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * math.sqrt(var_a + var_b)
    return difference - half, difference + half


def _direction(difference: float) -> Verdict:
    return Verdict.LOWER if difference < 0 else Verdict.HIGHER


def published_verdict(metric: str, baseline, value) -> Verdict | None:
    """The direction of a change between two published numbers, which carry no spread: lower /
    higher when it exceeds the metric's margin, else about equal; None when either is missing."""
    if not _is_number(baseline) or not _is_number(value):
        return None
    difference = value - baseline
    if abs(difference) <= margin_for(metric).width(baseline):
        return Verdict.ABOUT_EQUAL
    return _direction(difference)


def judge(accepted, comparison: Comparison | None) -> Outcome:
    """A claim's outcome: reproduced when the verdict is one the claim accepts (e.g. {LOWER}, or
    {LOWER, ABOUT_EQUAL} for "no harm"), inconclusive when the rule could not decide, contradicted
    when it decided otherwise (the opposite direction, or about equal against a claimed change);
    not measured without a comparison."""
    accepted = {accepted} if isinstance(accepted, Verdict) else set(accepted)
    if comparison is None:
        return Outcome.NOT_MEASURED
    if comparison.verdict in accepted:
        return Outcome.REPRODUCED
    return Outcome.INCONCLUSIVE if comparison.verdict is Verdict.INCONCLUSIVE else Outcome.CONTRADICTED


def format_number(value: float, signed: bool = False) -> str:
    """Four significant digits without scientific notation (2736, 40.12, 0.7021, 0.0001234)."""
    if not math.isfinite(value):
        return str(value)
    digits = 0 if value == 0 else max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:{'+' if signed else ''}.{min(digits, 8)}f}"


def _interval(bounds: tuple[float, float]) -> str:
    return f"{format_number(bounds[0])} to {format_number(bounds[1])}"


def as_number(value) -> float | None:
    """`value` as a float when it is a finite real number (not a bool), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _is_number(value) -> bool:
    return as_number(value) is not None
