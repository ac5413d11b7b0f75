"""Weibull fits: every known-answer case of cases.json, and hand-computed conventions."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from catalog.exceptions import ApplicationError
from quality.analysis.forecast import expected_failures, forecast
from quality.analysis.nevada import expand, nevada_lifetimes
from quality.analysis.weibull import median_ranks, weibull_b_life, weibull_fit, weibull_plot

CASES = json.loads(Path("/work/shared/reference/cases.json").read_text())["weibull"]
FIT_CASES = [c for c in CASES if "failures" in c]
NEVADA_CASES = [c for c in CASES if "nevada" in c]


def _close(actual, expected, tolerance):
    assert abs(actual - expected) <= tolerance, (actual, expected, tolerance)


@pytest.mark.parametrize("case", FIT_CASES, ids=[c["id"] for c in FIT_CASES])
def test_reference_fit(case):
    fit = weibull_fit(failures=case["failures"], suspensions=case["suspensions"], method=case["method"])
    for name, expected in case["expected"].items():
        _close(getattr(fit, name), expected, case["tolerance"][name])


@pytest.mark.parametrize("case", NEVADA_CASES, ids=[c["id"] for c in NEVADA_CASES])
def test_reference_nevada_mle(case):
    failures, suspensions = nevada_lifetimes(**case["nevada"])
    fit = weibull_fit(failures=expand(failures), suspensions=expand(suspensions), method="mle")
    _close(fit.beta, case["expected"]["mle_beta"], case["tolerance"]["mle_beta"])
    _close(fit.eta, case["expected"]["mle_eta_months"], case["tolerance"]["mle_eta_months"])


def test_mle_matches_scipy_censored_fit():
    rng = np.random.default_rng(7)
    t = stats.weibull_min.rvs(1.8, scale=50, size=300, random_state=rng)
    cut = 45.0
    failures, suspensions = t[t <= cut], np.full(np.count_nonzero(t > cut), cut)
    fit = weibull_fit(failures=failures, suspensions=suspensions)
    beta, _, eta = stats.weibull_min.fit(stats.CensoredData(uncensored=failures, right=suspensions), floc=0)
    assert fit.beta == pytest.approx(beta, rel=1e-4)
    assert fit.eta == pytest.approx(eta, rel=1e-4)


def test_b10_is_the_10_percent_quantile():
    assert weibull_b_life(0.10, beta=2.0, eta=100.0) == pytest.approx(100 * math.sqrt(-math.log(0.9)))
    fit = weibull_fit(failures=[54, 187, 216, 240, 244, 335, 361, 373, 375, 386], suspensions=[500] * 10)
    assert 1 - math.exp(-((fit.b10 / fit.eta) ** fit.beta)) == pytest.approx(0.10)


def test_fisher_bounds_bracket_the_estimate_and_widen_with_confidence():
    data = {"failures": [54, 187, 216, 240, 244, 335, 361, 373, 375, 386], "suspensions": [500] * 10}
    f90 = weibull_fit(**data)
    f99 = weibull_fit(**data, confidence=0.99)
    assert f90.confidence == 0.90
    for name in ("beta", "eta", "b10"):
        lo, hi = getattr(f90, f"{name}_lower"), getattr(f90, f"{name}_upper")
        assert lo < getattr(f90, name) < hi
        assert getattr(f99, f"{name}_lower") < lo and getattr(f99, f"{name}_upper") > hi
    # Log-scale bounds are symmetric in the log: lower * upper = estimate^2.
    assert f90.beta_lower * f90.beta_upper == pytest.approx(f90.beta**2)
    rr = weibull_fit(**data, method="rrx")
    assert rr.beta_lower is None and rr.confidence is None


def test_fisher_variance_of_beta_matches_a_numeric_hessian():
    f = np.array([54, 187, 216, 240, 244, 335, 361, 373, 375, 386.0])
    s = np.full(10, 500.0)
    fit = weibull_fit(failures=f, suspensions=s)

    def loglik(b, e):
        return np.sum(np.log(b / e) + (b - 1) * np.log(f / e)) - np.sum((np.concatenate([f, s]) / e) ** b)

    h = 1e-4
    b, e = fit.beta, fit.eta
    d_bb = (loglik(b + h, e) - 2 * loglik(b, e) + loglik(b - h, e)) / h**2
    d_ee = (loglik(b, e + h * e) - 2 * loglik(b, e) + loglik(b, e - h * e)) / (h * e) ** 2
    d_be = (
        loglik(b + h, e + h * e) - loglik(b + h, e - h * e) - loglik(b - h, e + h * e) + loglik(b - h, e - h * e)
    ) / (4 * h * h * e)
    cov = np.linalg.inv(-np.array([[d_bb, d_be], [d_be, d_ee]]))
    z = stats.norm.ppf(0.95)
    assert fit.beta_upper == pytest.approx(b * math.exp(z * math.sqrt(cov[0, 0]) / b), rel=1e-3)
    assert fit.eta_upper == pytest.approx(e * math.exp(z * math.sqrt(cov[1, 1]) / e), rel=1e-3)


def test_johnson_adjusted_ranks_with_benard():
    # 10 F, 20 F, 25 S, 30 F: ranks 1, 2, then 2 + (5 - 2) / (1 + 1) = 3.5 (n = 4).
    times, probs = median_ranks(np.array([10.0, 20.0, 30.0]), np.array([25.0]))
    assert list(times) == [10, 20, 30]
    assert probs == pytest.approx([(1 - 0.3) / 4.4, (2 - 0.3) / 4.4, (3.5 - 0.3) / 4.4])
    # A suspension tied with a failure ranks after it.
    _, probs = median_ranks(np.array([10.0, 20.0]), np.array([10.0]))
    assert probs == pytest.approx([(1 - 0.3) / 3.4, (1 + (4 - 1) / 2 - 0.3) / 3.4])


def test_rank_regression_without_suspensions_is_plain_benard():
    failures = [25, 43, 53, 65, 76, 86, 95, 115, 132, 150]
    n = len(failures)
    x = np.log(failures)
    y = np.log(-np.log(1 - (np.arange(1, n + 1) - 0.3) / (n + 0.4)))
    slope, intercept = np.polyfit(x, y, 1)
    rry = weibull_fit(failures=failures, method="rry")
    assert rry.beta == pytest.approx(slope) and rry.eta == pytest.approx(math.exp(-intercept / slope))
    slope_x, intercept_x = np.polyfit(y, x, 1)
    rrx = weibull_fit(failures=failures, method="rrx")
    assert rrx.beta == pytest.approx(1 / slope_x) and rrx.eta == pytest.approx(math.exp(intercept_x))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failures": [5.0]}, "failures"),
        ({"failures": []}, "failures"),
        ({"failures": [1.0, -2.0]}, "failures"),
        ({"failures": [1.0, 0.0]}, "failures"),
        ({"failures": [1.0, float("nan")]}, "failures"),
        ({"failures": [1.0, 2.0], "suspensions": [float("inf")]}, "suspensions"),
        ({"failures": [3.0, 3.0], "suspensions": [1.0]}, "failures"),  # all at the longest time
        ({"failures": [1.0, 2.0], "method": "best"}, "method"),
    ],
)
def test_bad_input_is_refused_with_the_field(kwargs, field):
    with pytest.raises(ApplicationError) as info:
        weibull_fit(**kwargs)
    assert field in info.value.errors


def test_equal_failures_fit_by_mle_when_suspensions_run_longer():
    fit = weibull_fit(failures=[3.0, 3.0], suspensions=[10.0, 10.0])
    assert fit.beta > 0 and fit.eta > 3
    with pytest.raises(ApplicationError):
        weibull_fit(failures=[3.0, 3.0], suspensions=[10.0], method="rry")


def test_plot_points_and_line_on_weibull_paper():
    fit = weibull_fit(failures=[10, 20, 30], suspensions=[25])
    plot = weibull_plot(failures=[10, 20, 30], suspensions=[25], fits=[fit])
    assert [p["time"] for p in plot["points"]] == [10, 20, 30]
    point = plot["points"][2]
    assert point["F"] == pytest.approx(3.2 / 4.4)
    assert point["x"] == pytest.approx(math.log(30)) and point["y"] == pytest.approx(math.log(-math.log(1 - 3.2 / 4.4)))
    line = plot["lines"][0]["points"]
    # On Weibull paper the fitted line crosses y = 0 at t = eta.
    for p in line:
        assert p["y"] == pytest.approx(fit.beta * (p["x"] - math.log(fit.eta)))


def test_forecast_with_beta_one_is_exponential():
    # beta = 1: memoryless, each unit fails within h with 1 - exp(-h/eta) whatever its age.
    ages = [1.0, 5.0, 40.0]
    assert expected_failures(ages=ages, beta=1.0, eta=10.0, horizon=3) == pytest.approx(3 * (1 - math.exp(-0.3)))
    # beta = 2, one unit aged 2 of eta 10, next 3 months: 1 - exp((0.2)^2 - (0.5)^2).
    assert expected_failures(ages=[2.0], beta=2.0, eta=10.0, horizon=3) == pytest.approx(1 - math.exp(0.04 - 0.25))
    body = forecast(ages=ages, beta=1.0, eta=10.0)
    assert [h["months"] for h in body["horizons"]] == [3, 6, 12]
    assert body["units_in_service"] == 3 and len(body["curve"]) == 12
