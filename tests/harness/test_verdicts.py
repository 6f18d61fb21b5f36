"""The comparison rule on synthetic data with known effects (issue 14, "Done when")."""

import math

import numpy as np
import pytest
from scipy import stats

from harness.verdicts import (
    MARGINS,
    MOST_SEEDS,
    ONE_SEED_MULTIPLE,
    Outcome,
    Sample,
    Verdict,
    compare,
    format_number,
    judge,
    margin_for,
    one_seed_multiple,
    published_verdict,
    seeds_to_decide,
    t_interval,
)

EXPERIMENTS = 200
SEEDS = 8
SIGMA = 20.0  # between-seed std of a PPL-like metric around 100: its 5% margin (5) is far below the CI
STANDARD_ERROR = SIGMA * math.sqrt(2 / SEEDS)  # of the difference of two cell means


def simulate(difference: float, sigma: float = SIGMA, seed: int = 0, metric: str = "ppl") -> list[Verdict]:
    """EXPERIMENTS comparisons of two cells of SEEDS values each, the second shifted by `difference`."""
    rng = np.random.default_rng(seed)
    verdicts = []
    for _ in range(EXPERIMENTS):
        baseline = Sample(values=tuple(rng.normal(100.0, sigma, SEEDS)))
        other = Sample(values=tuple(rng.normal(100.0 + difference, sigma, SEEDS)))
        verdicts.append(compare(metric, baseline, other).verdict)
    return verdicts


def binomial_range(share: float, confidence: float = 0.999) -> tuple[int, int]:
    """Counts out of EXPERIMENTS that a true rate `share` produces with probability `confidence`."""
    low, high = stats.binom.interval(confidence, EXPERIMENTS, share)
    return int(low), int(high)


def test_a_true_difference_of_two_standard_errors_is_found_lower_as_often_as_the_power_predicts():
    verdicts = simulate(-2 * STANDARD_ERROR)
    # Power of the 95% test: noncentral t with 2(n-1) degrees of freedom and noncentrality 2 (Welch's
    # degrees of freedom are at most that, which lowers the power by about one point at n = 8).
    dof = 2 * (SEEDS - 1)
    power = stats.nct.sf(stats.t.ppf(0.975, dof), dof, 2.0)
    low, high = binomial_range(power)
    found = verdicts.count(Verdict.LOWER)
    assert low <= found <= high, f"found lower in {found}/{EXPERIMENTS}, expected {power:.3f} ({low}-{high})"
    assert verdicts.count(Verdict.HIGHER) <= 1  # the wrong direction: probability about 1e-4 each
    assert Verdict.ABOUT_EQUAL not in verdicts  # a 90% CI of half-width ~19 never fits a margin of 5


def test_equal_cells_are_about_equal_or_inconclusive_and_rarely_lower():
    noisy = simulate(0.0)
    assert set(noisy) <= {Verdict.INCONCLUSIVE, Verdict.LOWER, Verdict.HIGHER}
    # A false "lower" has probability 2.5% (one side of a 95% interval); never above 5% beyond chance.
    assert noisy.count(Verdict.LOWER) <= binomial_range(0.05)[1]
    assert noisy.count(Verdict.LOWER) <= binomial_range(0.025)[1]
    # With seed noise small against the margin, equal cells are shown equivalent (TOST at 5%).
    precise = simulate(0.0, sigma=1.0, seed=1)
    assert precise.count(Verdict.ABOUT_EQUAL) == EXPERIMENTS


SEED_EFFECT = 50.0  # what a training seed does to both cells alike (data order, latents, noise)
NOISE = 5.0  # what differs between two cells trained from one seed
PAIRED_ERROR = NOISE * math.sqrt(2 / SEEDS)  # standard error of the mean paired difference


def simulate_paired(difference: float, seed: int = 0) -> tuple[list[Verdict], list[Verdict]]:
    """EXPERIMENTS comparisons of two cells whose seed k shares a large effect (common random numbers):
    the verdicts keyed by seed (paired) and of the same values without keys (Welch)."""
    rng = np.random.default_rng(seed)
    keys = tuple(range(SEEDS))
    paired, unpaired = [], []
    for _ in range(EXPERIMENTS):
        shared = 100.0 + rng.normal(0.0, SEED_EFFECT, SEEDS)
        baseline = tuple(shared + rng.normal(0.0, NOISE, SEEDS))
        other = tuple(shared + difference + rng.normal(0.0, NOISE, SEEDS))
        keyed = Sample(values=baseline, keys=keys), Sample(values=other, keys=keys)
        paired.append(compare("ppl", *keyed).verdict)
        unpaired.append(compare("ppl", Sample(values=baseline), Sample(values=other)).verdict)
    return paired, unpaired


def test_paired_seeds_find_two_paired_standard_errors_as_often_as_the_power_predicts():
    verdicts, unpaired = simulate_paired(-2 * PAIRED_ERROR)
    dof = SEEDS - 1  # a paired t over SEEDS differences
    power = stats.nct.sf(stats.t.ppf(0.975, dof), dof, 2.0)
    low, high = binomial_range(power)
    found = verdicts.count(Verdict.LOWER)
    assert low <= found <= high, f"found lower in {found}/{EXPERIMENTS}, expected {power:.3f} ({low}-{high})"
    # Unpaired (Welch), the shared seed effect, 10x the noise, hides the same difference: its power is ~4%.
    assert unpaired.count(Verdict.LOWER) <= binomial_range(0.05)[1] < found


def paired_cells(effect_size: float, n: int = 40) -> tuple[Sample, Sample]:
    """Two cells whose paired differences have mean `effect_size` and standard deviation 1 exactly."""
    noise = np.random.default_rng(5).normal(size=n)
    differences = (noise - noise.mean()) / noise.std(ddof=1) + effect_size
    return Sample.keyed(np.full(n, 10.0), range(n)), Sample.keyed(10.0 + differences, range(n))


@pytest.mark.parametrize("effect_size, seeds", [(0.8, 15), (0.5, 34), (0.2, 199)])
def test_seeds_to_decide_match_the_textbook_paired_t_sample_sizes(effect_size, seeds):
    """Two-sided paired t at 5% with 80% power: 15, 34 and 199 pairs for d = 0.8, 0.5, 0.2 (the
    standard power tables, e.g. G*Power's one-sample t)."""
    assert seeds_to_decide(*paired_cells(effect_size)) == seeds
    assert seeds_to_decide(*paired_cells(-effect_size)) == seeds  # either direction


def test_seeds_to_decide_give_the_stated_power_in_simulation():
    baseline, other = paired_cells(0.5)
    seeds = seeds_to_decide(baseline, other, confidence=0.99)
    rng, found = np.random.default_rng(6), []
    for n in (seeds - 1, seeds):
        differences = rng.normal(0.5, 1.0, size=(4000, n))
        t = differences.mean(axis=1) / (differences.std(axis=1, ddof=1) / math.sqrt(n))
        found.append(float(np.mean(np.abs(t) > stats.t.ppf(0.995, n - 1))))
    assert found[0] < 0.8 + 0.02 and abs(found[1] - 0.8) < 0.02, (seeds, found)


def test_seeds_to_decide_need_a_spread_and_a_difference():
    one = Sample(values=(1.0,))
    assert seeds_to_decide(one, Sample(values=(2.0, 3.0))) is None  # one seed: no spread to plan with
    assert seeds_to_decide(Sample.keyed([1.0], [0]), Sample.keyed([2.0], [0])) is None  # one seed, paired
    assert seeds_to_decide(Sample(values=(1.0, 2.0)), Sample(values=(2.0, 1.0))) is None  # no difference
    assert seeds_to_decide(*paired_cells(0.01)) == MOST_SEEDS + 1
    # Unpaired, both variances 1 and d = 0.5: the two-sample t's textbook 64 per group (paired: 34).
    assert seeds_to_decide(Sample(values=(0.0, 1.0, 2.0)), Sample(values=(0.5, 1.5, 2.5))) == 64


def test_paired_equal_cells_are_rarely_lower():
    verdicts, _ = simulate_paired(0.0, seed=3)
    assert verdicts.count(Verdict.LOWER) <= binomial_range(0.025)[1]
    assert verdicts.count(Verdict.HIGHER) <= binomial_range(0.025)[1]


def test_cells_pair_by_seed_only_when_they_hold_the_same_seeds():
    baseline = Sample(values=(1.0, 2.0, 3.0), keys=(0, 1, 2))
    reordered = compare("fid", baseline, Sample(values=(13.0, 12.0, 11.0), keys=(2, 1, 0)))
    assert reordered.paired and reordered.interval == (10.0, 10.0)  # matched by key: every difference is 10
    assert "paired t over 3 matched pairs" in reordered.test
    other_seeds = compare("fid", baseline, Sample(values=(13.0, 12.0, 11.0), keys=(0, 1, 3)))
    unkeyed = compare("fid", baseline, Sample(values=(13.0, 12.0, 11.0)))
    assert not other_seeds.paired and not unkeyed.paired and "Welch" in other_seeds.test
    assert other_seeds.interval == unkeyed.interval and other_seeds.interval[0] < 10.0
    with pytest.raises(ValueError, match="keys must name each of its 2 values once"):
        Sample(values=(1.0, 2.0), keys=(0, 0))


def test_a_stricter_confidence_widens_both_intervals_and_the_one_seed_threshold():
    baseline, other = Sample(values=(3.1, 2.7, 3.4)), Sample(values=(2.1, 2.6, 1.8, 2.4, 2.2))
    usual, strict = compare("fid", baseline, other), compare("fid", baseline, other, confidence=0.99)
    expected = stats.ttest_ind(other.values, baseline.values, equal_var=False)
    for level, interval in ((0.99, strict.interval), (0.98, strict.equivalence_interval)):
        bounds = expected.confidence_interval(level)
        assert interval == pytest.approx((bounds.low, bounds.high), rel=1e-9)
    assert strict.interval[0] < usual.interval[0]
    assert "99% CI" in strict.describe() and "98% CI" in strict.describe()
    assert one_seed_multiple() == pytest.approx(ONE_SEED_MULTIPLE)
    assert one_seed_multiple(0.99) == pytest.approx(ONE_SEED_MULTIPLE * 2.5758 / 1.9600, rel=1e-4)


def test_a_small_real_difference_inside_the_margin_is_about_equal():
    baseline = Sample(values=(100.0, 100.1, 99.9, 100.05))
    other = Sample(values=(98.0, 98.1, 97.9, 98.05))  # 2% lower, certainly, but FID's margin is 5%
    comparison = compare("fid", baseline, other)
    assert comparison.interval[1] < 0 and comparison.verdict is Verdict.ABOUT_EQUAL
    assert compare("fid", baseline, Sample(values=(90.0, 90.1, 89.9, 90.05))).verdict is Verdict.LOWER


def test_welch_intervals_match_scipy():
    baseline, other = Sample(values=(3.1, 2.7, 3.4)), Sample(values=(2.1, 2.6, 1.8, 2.4, 2.2))
    comparison = compare("fid", baseline, other)
    result = stats.ttest_ind(other.values, baseline.values, equal_var=False)
    for level, interval in ((0.95, comparison.interval), (0.90, comparison.equivalence_interval)):
        expected = result.confidence_interval(level)
        assert interval == pytest.approx((expected.low, expected.high), rel=1e-9)
    assert comparison.verdict is Verdict.LOWER and comparison.n == (3, 5)
    assert comparison.difference == pytest.approx(other.mean - baseline.mean)
    assert "Welch" in comparison.test and "95% CI" in comparison.describe()


def test_t_interval_matches_scipy():
    values = [40.0, 42.5, 39.0]
    mean, half, n = t_interval(values)
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (mean, n) == (pytest.approx(np.mean(values)), 3) and half == pytest.approx((high - low) / 2)
    assert t_interval([7.0]) == (7.0, None, 1)


def test_one_seed_decides_only_differences_large_against_the_evaluation_spread():
    spread = math.hypot(1.0, 2.0)
    base = Sample(values=(100.0,), eval_std=1.0)
    just_below = Sample(values=(100.0 - 0.99 * ONE_SEED_MULTIPLE * spread,), eval_std=2.0)
    beyond = Sample(values=(100.0 - 1.01 * ONE_SEED_MULTIPLE * spread,), eval_std=2.0)
    assert compare("fid", base, just_below).verdict is Verdict.INCONCLUSIVE
    comparison = compare("fid", base, beyond)
    assert comparison.verdict is Verdict.LOWER and comparison.threshold == pytest.approx(10 * spread)
    assert "one seed" in comparison.test and comparison.interval is None
    assert compare("fid", beyond, base).verdict is Verdict.HIGHER
    # Identical values are never "about equal" without between-seed variance; no spread, no verdict.
    assert compare("fid", base, Sample(values=(100.0,), eval_std=2.0)).verdict is Verdict.INCONCLUSIVE
    no_spread = compare("img_per_s", Sample(values=(10.0,)), Sample(values=(99.0,)))
    assert no_spread.verdict is Verdict.INCONCLUSIVE and "not recorded" in no_spread.describe()
    exact = Sample(values=(0.0,), eval_std=0.0)  # repeats that agreed exactly measure no noise
    assert compare("precision", exact, Sample(values=(0.04,), eval_std=0.0)).verdict is Verdict.INCONCLUSIVE
    # Several seeds on one side only: still the one-seed rule.
    assert compare("fid", base, Sample(values=(1.0, 1.1), eval_std=0.1)).interval is None


def test_identical_seeds_give_an_exact_difference():
    zeros = Sample(values=(0.0, 0.0, 0.0))
    assert compare("precision", zeros, zeros).verdict is Verdict.ABOUT_EQUAL
    assert compare("precision", zeros, Sample(values=(0.5, 0.5))).verdict is Verdict.HIGHER


def test_published_verdict_uses_the_same_margins():
    assert published_verdict("fid", 4.40, 4.39) is Verdict.ABOUT_EQUAL  # "largely unaffected"
    assert published_verdict("fid", 4.40, 3.98) is Verdict.LOWER  # A -> A-large, 9.5%
    assert published_verdict("precision", 0.721, 0.702) is Verdict.LOWER
    assert published_verdict("ppl", 122.5, 124.5) is Verdict.ABOUT_EQUAL
    assert published_verdict("fid", None, 1.0) is None and published_verdict("fid", 1.0, float("nan")) is None


def test_every_margin_states_its_reason_and_unknown_metrics_are_named():
    assert all(len(margin.reason) > 40 for margin in MARGINS.values())
    with pytest.raises(ValueError, match="no equivalence margin for metric 'lpips'; known: .*fid"):
        margin_for("lpips")


def test_judge_maps_verdicts_to_outcomes():
    lower = compare("fid", Sample(values=(10.0, 10.1, 9.9)), Sample(values=(5.0, 5.1, 4.9)))
    assert judge(Verdict.LOWER, lower) is Outcome.REPRODUCED
    assert judge(Verdict.HIGHER, lower) is Outcome.CONTRADICTED
    assert judge(Verdict.ABOUT_EQUAL, lower) is Outcome.CONTRADICTED
    assert judge({Verdict.LOWER, Verdict.ABOUT_EQUAL}, lower) is Outcome.REPRODUCED  # "no harm"
    unsure = compare("fid", Sample(values=(10.0,)), Sample(values=(5.0,)))
    assert judge(Verdict.LOWER, unsure) is Outcome.INCONCLUSIVE
    assert judge(Verdict.LOWER, None) is Outcome.NOT_MEASURED


def test_samples_and_numbers():
    with pytest.raises(ValueError, match="at least one finite value"):
        Sample(values=())
    with pytest.raises(ValueError, match="at least one finite value"):
        Sample(values=(1.0, float("nan")))
    assert [format_number(x) for x in (2735.75, 40.123, 0.70213, 0.0)] == ["2736", "40.12", "0.7021", "0"]
    assert format_number(-1.5, signed=True) == "-1.500" and format_number(2.0, signed=True) == "+2.000"
