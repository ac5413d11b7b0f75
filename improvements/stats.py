"""The statistics of effectiveness verification: pure functions, no Django.

Two tests, each one-sided in the improving direction (``improvement="down"``: a lower
rate is better, ``"up"``: a higher one), each with a two-sided 95 % interval:

- ``poisson_rate_ratio``: counts per exposure (failures per unit-day). Given the total
  n = before + after counts, the after count is Binomial(n, p0) under H0 (equal rates),
  p0 = after exposure / total exposure: the exact conditional test
  (``scipy.stats.binomtest``). The rate ratio after/before gets exact limits from the
  Clopper-Pearson interval (pl, pu) of that binomial proportion: RR = p / (1 - p) ×
  before exposure / after exposure.
- ``two_proportion``: shares (x successes of n). A pooled z test of after - before and a
  Wald interval of the difference.

With a control group (other batches, regions that got no fix) the change of the treated
group is measured against the control's change over the same windows:
``rate_ratio_controlled`` (ratio of the two rate ratios, Wald test on the log scale,
SE = sqrt(1/a + 1/b + 1/c + 1/d)) and ``proportion_difference_in_differences`` (z test of
the difference of the two differences, unpooled variances).

``verdict``: with `relative_improvement` the relative change in the good direction (0.3
= 30 % better) —

- ``effective``: it improved by at least `min_effect` AND p < `alpha`;
- ``partial``: it improved, and exactly one of the two holds (large enough but not
  significant, or significant but smaller than `min_effect`);
- ``not_effective``: anything else (no improvement, a worsening, neither condition, or
  no data).

Degenerate data (zero exposure, no events, a zero count where a logarithm is needed)
never raises: the p-value is 1 and the figures that cannot be computed are None, so the
verdict is not effective."""

from __future__ import annotations

import math

from scipy import stats

CONFIDENCE = 0.95
_Z = stats.norm.ppf(1 - (1 - CONFIDENCE) / 2)
DIRECTIONS = ("down", "up")


def _check_direction(improvement: str) -> None:
    if improvement not in DIRECTIONS:
        raise ValueError(f"improvement must be one of {DIRECTIONS}")


def _finite(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return float(value)


def _one_sided(z: float, improvement: str) -> float:
    """P(Z <= z) when lower is better, P(Z >= z) when higher is better."""
    return float(stats.norm.cdf(z) if improvement == "down" else stats.norm.sf(z))


def poisson_rate_ratio(
    *, before_count: int, before_exposure: float, after_count: int, after_exposure: float, improvement: str = "down"
) -> dict:
    """{"ratio", "ci_low", "ci_high", "p_value"}: the rate ratio after/before, its exact
    95 % limits and the exact conditional one-sided p-value."""
    _check_direction(improvement)
    empty = {"ratio": None, "ci_low": None, "ci_high": None, "p_value": 1.0}
    if before_exposure <= 0 or after_exposure <= 0 or before_count < 0 or after_count < 0:
        return empty
    n = int(before_count) + int(after_count)
    if n == 0:
        return empty
    p0 = after_exposure / (before_exposure + after_exposure)
    result = stats.binomtest(int(after_count), n, p0, alternative="less" if improvement == "down" else "greater")
    # The interval is two-sided whatever the test's tail: from the two-sided test's result.
    interval = stats.binomtest(int(after_count), n, p0).proportion_ci(confidence_level=CONFIDENCE, method="exact")
    scale = before_exposure / after_exposure

    def to_ratio(p: float) -> float | None:
        return None if p >= 1 else p / (1 - p) * scale

    ratio = (after_count / after_exposure) / (before_count / before_exposure) if before_count else None
    return {
        "ratio": _finite(ratio),
        "ci_low": _finite(to_ratio(interval.low)),
        "ci_high": _finite(to_ratio(interval.high)),
        "p_value": float(result.pvalue),
    }


def rate_ratio_controlled(
    *,
    before_count: int,
    before_exposure: float,
    after_count: int,
    after_exposure: float,
    control_before_count: int,
    control_before_exposure: float,
    control_after_count: int,
    control_after_exposure: float,
    improvement: str = "down",
) -> dict:
    """{"ratio", "ci_low", "ci_high", "p_value"}: the treated rate ratio divided by the
    control's; Wald test and interval on the log scale."""
    _check_direction(improvement)
    counts = (before_count, after_count, control_before_count, control_after_count)
    exposures = (before_exposure, after_exposure, control_before_exposure, control_after_exposure)
    if any(c <= 0 for c in counts) or any(e <= 0 for e in exposures):
        return {"ratio": None, "ci_low": None, "ci_high": None, "p_value": 1.0}
    log_ratio = (
        math.log(after_count / after_exposure)
        - math.log(before_count / before_exposure)
        - math.log(control_after_count / control_after_exposure)
        + math.log(control_before_count / control_before_exposure)
    )
    se = math.sqrt(sum(1 / c for c in counts))
    return {
        "ratio": math.exp(log_ratio),
        "ci_low": math.exp(log_ratio - _Z * se),
        "ci_high": math.exp(log_ratio + _Z * se),
        "p_value": _one_sided(log_ratio / se, improvement),
    }


def two_proportion(*, before_x: int, before_n: int, after_x: int, after_n: int, improvement: str = "up") -> dict:
    """{"difference", "relative", "ci_low", "ci_high", "p_value"}: after - before (as a
    share, 0..1), relative to before, the Wald 95 % interval of the difference and the
    pooled z test's one-sided p-value."""
    _check_direction(improvement)
    if before_n <= 0 or after_n <= 0:
        return {"difference": None, "relative": None, "ci_low": None, "ci_high": None, "p_value": 1.0}
    p1, p2 = before_x / before_n, after_x / after_n
    difference = p2 - p1
    pooled = (before_x + after_x) / (before_n + after_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / before_n + 1 / after_n))
    p_value = _one_sided(difference / se_pooled, improvement) if se_pooled > 0 else 1.0
    se = math.sqrt(p1 * (1 - p1) / before_n + p2 * (1 - p2) / after_n)
    return {
        "difference": difference,
        "relative": difference / p1 if p1 else None,
        "ci_low": difference - _Z * se,
        "ci_high": difference + _Z * se,
        "p_value": p_value,
    }


def proportion_difference_in_differences(
    *,
    before_x: int,
    before_n: int,
    after_x: int,
    after_n: int,
    control_before_x: int,
    control_before_n: int,
    control_after_x: int,
    control_after_n: int,
    improvement: str = "up",
) -> dict:
    """{"difference", "relative", "ci_low", "ci_high", "p_value"}: (treated after - before)
    - (control after - before), relative to the treated before share; z test with
    unpooled variances."""
    _check_direction(improvement)
    sizes = (before_n, after_n, control_before_n, control_after_n)
    if any(n <= 0 for n in sizes):
        return {"difference": None, "relative": None, "ci_low": None, "ci_high": None, "p_value": 1.0}
    shares = [x / n for x, n in zip((before_x, after_x, control_before_x, control_after_x), sizes, strict=True)]
    difference = (shares[1] - shares[0]) - (shares[3] - shares[2])
    se = math.sqrt(sum(p * (1 - p) / n for p, n in zip(shares, sizes, strict=True)))
    return {
        "difference": difference,
        "relative": difference / shares[0] if shares[0] else None,
        "ci_low": difference - _Z * se,
        "ci_high": difference + _Z * se,
        "p_value": _one_sided(difference / se, improvement) if se > 0 else 1.0,
    }


def improvement_of_ratio(ratio: float | None, improvement: str) -> float | None:
    """The relative change in the good direction of a rate ratio (0.5 -> 0.5 better when lower is better)."""
    if ratio is None:
        return None
    return 1 - ratio if improvement == "down" else ratio - 1


def improvement_of_relative(relative: float | None, improvement: str) -> float | None:
    """The relative change in the good direction of a signed relative change."""
    if relative is None:
        return None
    return -relative if improvement == "down" else relative


def verdict(*, relative_improvement: float | None, p_value: float | None, alpha: float, min_effect: float) -> str:
    """effective / partial / not_effective (see the module docstring)."""
    if relative_improvement is None or p_value is None or relative_improvement <= 0:
        return "not_effective"
    large = relative_improvement >= min_effect
    significant = p_value < alpha
    if large and significant:
        return "effective"
    if large or significant:
        return "partial"
    return "not_effective"
