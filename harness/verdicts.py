"""The one rule that compares two cells: "lower", "higher", "about equal" or "inconclusive".

The report's table cells (each change against the row the paper compares it with) and the
findings both call `compare`; nothing else in the harness decides a direction. A cell is a
`Sample`: one value per training seed, each the mean of that network's metric evaluations (or, for
speed, one value per interleaved timing round).

- Two or more values on both sides: the interval of the difference is a paired t-interval over
  the keys both cells share when they hold the same keys (training seed k of every cell uses the
  same data order, latents and regulariser noise, and timing round r times every configuration
  in turn, so seed k / round r of two cells form a matched pair), else Welch's. "About equal" when
  the 90% interval lies inside the metric's equivalence margin (two one-sided tests at 5%); else
  "lower" / "higher" when the 95% interval excludes zero; else "inconclusive". Equivalence is
  tested first: a difference that is real but smaller than the margin is reported as about
  equal, since the margin states the smallest change that matters.
- One value on either side: there is no between-seed variance, so a difference is "lower" /
  "higher" only when it exceeds ONE_SEED_MULTIPLE times the evaluation spread (the repeats' std of
  both cells, combined); otherwise "inconclusive", never "about equal". Without a positive spread
  (not recorded, or repeats that agreed exactly) one seed decides nothing.

`compare(..., confidence=c)` applies the same rule at another level (directions at c, equivalence
at 1 - 2(1 - c), the one-seed multiple scaled by the normal quantile): a finding of k claims uses
c = 1 - 5%/k to call itself contradicted (Bonferroni; harness.findings). `seeds_to_decide` sizes
the next experiment for an undecided comparison (a planning estimate that decides nothing).
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
    """One cell: `values` one per training seed (or timing round), `keys` the seed (round) of each
    (None: unpaired); `eval_std` the std of one network's repeated metric evaluations (None where the
    metric has no repeats)."""

    values: tuple[float, ...]
    eval_std: float | None = None
    keys: tuple | None = None  # what pairs each value with another cell's: its training seed or round

    def __post_init__(self):
        if not self.values or not all(math.isfinite(value) for value in self.values):
            raise ValueError(f"a Sample needs at least one finite value, got {self.values!r}")
        if self.keys is not None and (len(self.keys) != self.n or len(set(self.keys)) != self.n):
            raise ValueError(f"a Sample's keys must name each of its {self.n} values once, got {self.keys!r}")

    @classmethod
    def keyed(cls, values, keys, eval_std: float | None = None) -> "Sample":
        """A Sample of `values` paired by `keys` when they name each value once; unpaired otherwise
        (stores written without seeds, where every key reads the same)."""
        values, keys = tuple(float(value) for value in values), tuple(keys or ())
        unique = len(keys) == len(values) and None not in keys and len(set(keys)) == len(keys)
        return cls(values=values, eval_std=eval_std, keys=keys if unique else None)

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
    confidence: float = CONFIDENCE  # of the direction interval; equivalence uses 1 - 2 (1 - confidence)
    paired: bool = False  # matched by key (seed or round) rather than Welch
    interval: tuple[float, float] | None = None  # of the difference at `confidence` (None with one seed)
    equivalence_interval: tuple[float, float] | None = None  # at 1 - 2 (1 - confidence)
    threshold: float | None = None  # one seed: the multiple of the evaluation spread (None if unknown)

    @property
    def test(self) -> str:
        levels = (f"{format_percent(1 - 2 * (1 - self.confidence))} CI",
                  f"{format_percent(self.confidence)} CI")
        if self.interval is not None:
            kind = (f"paired t over {self.n[0]} matched pairs (same seed or timing round)" if self.paired
                    else "Welch t")
            return (f"{kind}: about equal when the {levels[0]} of the difference lies inside the margin (two "
                    f"one-sided tests at {format_percent(1 - self.confidence)}), else lower/higher when its "
                    f"{levels[1]} excludes 0")
        return (f"one seed: |difference| > {one_seed_multiple(self.confidence):.3g} x evaluation spread (a "
                f"{format_percent(self.confidence)} test if the between-seed std is at most "
                f"{SEED_TO_EVAL_RATIO:.1f}x the evaluation std)")

    def describe(self) -> str:
        text = f"difference {format_number(self.difference, signed=True)}"
        if self.interval is not None:
            levels = format_percent(self.confidence), format_percent(1 - 2 * (1 - self.confidence))
            return (text + f" [{levels[0]} CI {_interval(self.interval)}; {levels[1]} CI "
                    f"{_interval(self.equivalence_interval)}], margin ±{format_number(self.margin)}")
        if self.threshold is None:
            return text + " (no evaluation spread to judge it by: not recorded, or repeats agreed exactly)"
        multiple = one_seed_multiple(self.confidence)
        return text + f" vs {multiple:.3g} x evaluation spread {format_number(self.threshold)}"


def one_seed_multiple(confidence: float = CONFIDENCE) -> float:
    """ONE_SEED_MULTIPLE at 95%, scaled by the normal quantile for another two-sided `confidence`."""
    return ONE_SEED_MULTIPLE * stats.norm.ppf(0.5 + confidence / 2) / stats.norm.ppf(0.5 + CONFIDENCE / 2)


def compare(metric: str, baseline: Sample, other: Sample, confidence: float = CONFIDENCE) -> Comparison:
    """The verdict on `other` relative to `baseline` (the rule in the module docstring)."""
    margin = margin_for(metric).width(baseline.mean)
    difference = other.mean - baseline.mean
    common = dict(metric=metric, difference=difference, margin=margin, n=(baseline.n, other.n),
                  confidence=confidence)
    if baseline.n < 2 or other.n < 2:
        spreads = [s.eval_std for s in (baseline, other) if _is_number(s.eval_std)]
        spread = math.hypot(*spreads) if len(spreads) == 2 else 0.0
        # Zero spread (repeats that agreed exactly) measures no noise, so it cannot decide anything.
        threshold = one_seed_multiple(confidence) * spread if spread > 0 else None
        decided = threshold is not None and abs(difference) > threshold
        verdict = direction_of(difference) if decided else Verdict.INCONCLUSIVE
        return Comparison(verdict=verdict, threshold=threshold, **common)
    differences = paired_differences(baseline, other)
    direction, equivalence = (_paired_interval(differences, level) if differences is not None
                              else _welch_interval(baseline, other, level)
                              for level in (confidence, 1 - 2 * (1 - confidence)))
    if -margin <= equivalence[0] and equivalence[1] <= margin:
        verdict = Verdict.ABOUT_EQUAL
    elif direction[0] > 0 or direction[1] < 0:
        verdict = direction_of(difference)
    else:
        verdict = Verdict.INCONCLUSIVE
    return Comparison(verdict=verdict, paired=differences is not None, interval=direction,
                      equivalence_interval=equivalence, **common)


def paired_differences(baseline: Sample, other: Sample) -> tuple[float, ...] | None:
    """other - baseline matched by key when both hold the same two or more keys, else None (unpaired)."""
    if baseline.keys is None or other.keys is None or set(baseline.keys) != set(other.keys):
        return None
    base = dict(zip(baseline.keys, baseline.values, strict=True))
    return tuple(value - base[key] for key, value in zip(other.keys, other.values, strict=True))


def _paired_interval(differences: tuple[float, ...], confidence: float) -> tuple[float, float]:
    """Two-sided `confidence` t-interval of the mean of matched differences (n - 1 degrees of freedom)."""
    mean, half, _ = t_interval(differences, confidence)
    return mean - half, mean + half


def _welch_interval(a: Sample, b: Sample, confidence: float) -> tuple[float, float]:
    """Two-sided `confidence` interval of mean(b) - mean(a), unequal variances (Welch 1947)."""
    var_a, var_b = a.variance / a.n, b.variance / b.n
    difference = b.mean - a.mean
    if var_a + var_b == 0:  # identical values within each side: the difference is known exactly
        return difference, difference
    dof = (var_a + var_b) ** 2 / (var_a**2 / (a.n - 1) + var_b**2 / (b.n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * math.sqrt(var_a + var_b)
    return difference - half, difference + half


PLANNING_POWER = 0.8  # the customary power when sizing an experiment
MOST_SEEDS = 1000  # the planning estimate's search stops here


def seeds_to_decide(baseline: Sample, other: Sample, confidence: float = CONFIDENCE,
                    power: float = PLANNING_POWER) -> int | None:
    """Seeds (or rounds) per cell with which a true difference of the measured size and spread would
    exclude 0 from its `confidence` interval with probability `power` (noncentral t).

    A plug-in planning estimate, not a verdict: an undecided difference is itself uncertain, so the
    true count may be smaller or larger. Paired when the samples pair up (the spread of the
    differences, n - 1 degrees of freedom), else the two cells' variances added with equal counts
    (2n - 2). None with one value on a side or no difference; MOST_SEEDS + 1 when even that is too few.
    """
    if baseline.n < 2 or other.n < 2:
        return None
    differences = paired_differences(baseline, other)
    if differences is not None:
        variance, dof_per_seed = Sample(values=differences).variance, 1
    else:
        variance, dof_per_seed = baseline.variance + other.variance, 2
    effect = abs(other.mean - baseline.mean)
    if effect == 0:
        return None

    def decides(seeds: int) -> bool:
        dof = dof_per_seed * (seeds - 1)
        critical, shift = stats.t.ppf(0.5 + confidence / 2, dof), effect / math.sqrt(variance / seeds)
        chance = stats.nct.sf(critical, dof, shift) + stats.nct.cdf(-critical, dof, shift)
        if not math.isfinite(chance):  # scipy's noncentral t fails at large shifts, where the normal holds
            chance = stats.norm.sf(critical - shift) + stats.norm.cdf(-critical - shift)
        return chance >= power

    if variance == 0 or decides(2):
        return 2
    if not decides(MOST_SEEDS):
        return MOST_SEEDS + 1
    low, high = 2, MOST_SEEDS  # power rises with the seed count: decides(low) is False, decides(high) True
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if decides(middle) else (middle, high)
    return high


def format_percent(share: float) -> str:
    """0.95 -> '95%', 0.9833 -> '98.3%', 0.99 -> '99%'."""
    return f"{share * 100:.3g}%"


def direction_of(difference: float) -> Verdict:
    """LOWER for a negative difference, else HIGHER."""
    return Verdict.LOWER if difference < 0 else Verdict.HIGHER


def published_verdict(metric: str, baseline, value) -> Verdict | None:
    """The direction of a change between two published numbers, which carry no spread: lower /
    higher when it exceeds the metric's margin, else about equal; None when either is missing."""
    if not _is_number(baseline) or not _is_number(value):
        return None
    difference = value - baseline
    if abs(difference) <= margin_for(metric).width(baseline):
        return Verdict.ABOUT_EQUAL
    return direction_of(difference)


def accepts(accepted, verdict: Verdict) -> bool:
    """Whether `verdict` is one a claim accepting `accepted` (a Verdict or a set of them) accepts."""
    return verdict in ({accepted} if isinstance(accepted, Verdict) else set(accepted))


def judge(accepted, comparison: Comparison | None) -> Outcome:
    """A claim's outcome: reproduced when the verdict is one the claim accepts (e.g. {LOWER}, or
    {LOWER, ABOUT_EQUAL} for "no harm"), inconclusive when the rule could not decide, contradicted
    when it decided otherwise (the opposite direction, or about equal against a claimed change);
    not measured without a comparison."""
    if comparison is None:
        return Outcome.NOT_MEASURED
    if accepts(accepted, comparison.verdict):
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
