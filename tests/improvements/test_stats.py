"""The statistics of effectiveness verification on constructed data, by hand."""

import math

import pytest
from scipy import stats as sps

from improvements import stats


def test_a_true_fifty_percent_drop_is_effective():
    result = stats.poisson_rate_ratio(before_count=120, before_exposure=10_000, after_count=60, after_exposure=10_000)
    assert result["ratio"] == pytest.approx(0.5)
    # Under H0 the after count is Binomial(180, 0.5); lower is better: P(X <= 60).
    assert result["p_value"] == pytest.approx(sps.binom.cdf(60, 180, 0.5), rel=1e-9)
    assert result["p_value"] < 1e-5
    assert result["ci_low"] < 0.5 < result["ci_high"] < 1
    improvement = stats.improvement_of_ratio(result["ratio"], "down")
    assert improvement == pytest.approx(0.5)
    assert stats.verdict(relative_improvement=improvement, p_value=result["p_value"], alpha=0.05, min_effect=0.2) == (
        "effective"
    )


def test_no_change_is_not_effective():
    result = stats.poisson_rate_ratio(before_count=100, before_exposure=5_000, after_count=100, after_exposure=5_000)
    assert result["ratio"] == pytest.approx(1.0)
    assert result["p_value"] == pytest.approx(sps.binom.cdf(100, 200, 0.5))
    assert result["p_value"] > 0.5
    assert result["ci_low"] < 1 < result["ci_high"]
    improvement = stats.improvement_of_ratio(result["ratio"], "down")
    assert stats.verdict(relative_improvement=improvement, p_value=result["p_value"], alpha=0.05, min_effect=0.2) == (
        "not_effective"
    )


def test_exact_p_value_with_unequal_exposures_by_hand():
    # 10 before over 2000, 2 after over 1000: p0 = 1000 / 3000 = 1/3, n = 12.
    result = stats.poisson_rate_ratio(before_count=10, before_exposure=2000, after_count=2, after_exposure=1000)
    by_hand = sum(math.comb(12, k) * (1 / 3) ** k * (2 / 3) ** (12 - k) for k in range(3))
    assert result["p_value"] == pytest.approx(by_hand, rel=1e-12)
    assert result["ratio"] == pytest.approx((2 / 1000) / (10 / 2000))  # 0.4
    # Clopper-Pearson limits of 2 / 12, turned into a rate ratio: p / (1 - p) x 2000 / 1000.
    low = sps.beta.ppf(0.025, 2, 11)
    high = sps.beta.ppf(0.975, 3, 10)
    assert result["ci_low"] == pytest.approx(low / (1 - low) * 2, rel=1e-9)
    assert result["ci_high"] == pytest.approx(high / (1 - high) * 2, rel=1e-9)


def test_higher_is_better_tests_the_other_tail():
    result = stats.poisson_rate_ratio(
        before_count=60, before_exposure=10_000, after_count=120, after_exposure=10_000, improvement="up"
    )
    assert result["p_value"] == pytest.approx(sps.binom.sf(119, 180, 0.5))
    assert stats.improvement_of_ratio(result["ratio"], "up") == pytest.approx(1.0)


def test_zero_counts_and_zero_exposure_do_not_crash():
    nothing = stats.poisson_rate_ratio(before_count=0, before_exposure=100, after_count=0, after_exposure=100)
    assert nothing == {"ratio": None, "ci_low": None, "ci_high": None, "p_value": 1.0}
    no_exposure = stats.poisson_rate_ratio(before_count=5, before_exposure=0, after_count=1, after_exposure=100)
    assert no_exposure["p_value"] == 1.0 and no_exposure["ratio"] is None
    # None before, some after: the ratio is infinite (None), the test still runs.
    only_after = stats.poisson_rate_ratio(before_count=0, before_exposure=100, after_count=4, after_exposure=100)
    assert only_after["ratio"] is None and only_after["ci_high"] is None
    assert only_after["p_value"] == pytest.approx(1.0)
    # All gone after: ratio 0, lower limit 0.
    gone = stats.poisson_rate_ratio(before_count=8, before_exposure=100, after_count=0, after_exposure=100)
    assert gone["ratio"] == 0 and gone["ci_low"] == 0
    assert gone["p_value"] == pytest.approx(0.5**8)
    assert stats.two_proportion(before_x=0, before_n=0, after_x=1, after_n=5)["p_value"] == 1.0
    controlled = stats.rate_ratio_controlled(
        before_count=0,
        before_exposure=10,
        after_count=1,
        after_exposure=10,
        control_before_count=1,
        control_before_exposure=10,
        control_after_count=1,
        control_after_exposure=10,
    )
    assert controlled["p_value"] == 1.0 and controlled["ratio"] is None
    for verdict_input in (None, 0.0, -0.3):
        assert stats.verdict(relative_improvement=verdict_input, p_value=0.001, alpha=0.05, min_effect=0.2) == (
            "not_effective"
        )


def test_two_proportion_by_hand():
    # On-time share 60/100 before, 80/100 after; higher is better.
    result = stats.two_proportion(before_x=60, before_n=100, after_x=80, after_n=100, improvement="up")
    pooled = 140 / 200
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert result["difference"] == pytest.approx(0.2)
    assert result["relative"] == pytest.approx(0.2 / 0.6)
    assert result["p_value"] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-9)
    se = math.sqrt(0.6 * 0.4 / 100 + 0.8 * 0.2 / 100)
    assert result["ci_low"] == pytest.approx(0.2 - 1.959963984540054 * se)
    assert result["ci_high"] == pytest.approx(0.2 + 1.959963984540054 * se)
    # The same numbers read as "lower is better" are a worsening: p near 1.
    worse = stats.two_proportion(before_x=60, before_n=100, after_x=80, after_n=100, improvement="down")
    assert worse["p_value"] == pytest.approx(1 - result["p_value"])
    relative = stats.improvement_of_relative(worse["relative"], "down")
    assert stats.verdict(relative_improvement=relative, p_value=worse["p_value"], alpha=0.05, min_effect=0.1) == (
        "not_effective"
    )


def test_controlled_rate_ratio_by_hand():
    # Treated halves (40 -> 20), the control falls too (50 -> 40): the fix's own share is 0.5 / 0.8.
    result = stats.rate_ratio_controlled(
        before_count=40,
        before_exposure=1000,
        after_count=20,
        after_exposure=1000,
        control_before_count=50,
        control_before_exposure=1000,
        control_after_count=40,
        control_after_exposure=1000,
    )
    se = math.sqrt(1 / 40 + 1 / 20 + 1 / 50 + 1 / 40)
    log_ratio = math.log(0.5 / 0.8)
    assert result["ratio"] == pytest.approx(0.625)
    assert result["p_value"] == pytest.approx(sps.norm.cdf(log_ratio / se))
    assert result["ci_low"] == pytest.approx(math.exp(log_ratio - 1.959963984540054 * se))


def test_difference_in_differences_by_hand():
    result = stats.proportion_difference_in_differences(
        before_x=30,
        before_n=100,
        after_x=10,
        after_n=100,
        control_before_x=30,
        control_before_n=100,
        control_after_x=25,
        control_after_n=100,
        improvement="down",
    )
    assert result["difference"] == pytest.approx(-0.15)
    assert result["relative"] == pytest.approx(-0.5)
    se = math.sqrt(0.3 * 0.7 / 100 + 0.1 * 0.9 / 100 + 0.3 * 0.7 / 100 + 0.25 * 0.75 / 100)
    assert result["p_value"] == pytest.approx(sps.norm.cdf(-0.15 / se))


@pytest.mark.parametrize(
    ("improvement", "p_value", "expected"),
    [
        (0.5, 0.01, "effective"),
        (0.5, 0.2, "partial"),  # large, not significant
        (0.1, 0.01, "partial"),  # significant, too small
        (0.1, 0.2, "not_effective"),
        (0.2, 0.049, "effective"),  # the thresholds: at least min_effect, p strictly below alpha
        (0.2, 0.05, "partial"),
    ],
)
def test_verdict_rules(improvement, p_value, expected):
    assert stats.verdict(relative_improvement=improvement, p_value=p_value, alpha=0.05, min_effect=0.2) == expected
