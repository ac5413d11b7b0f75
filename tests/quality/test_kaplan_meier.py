"""Kaplan-Meier with plain Greenwood limits, and claims per 1000 (naive beside KM)."""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from quality.analysis.nevada import expand, nevada_lifetimes
from quality.analysis.survival import claims_per_1000, kaplan_meier

CASES = [c for c in json.loads(Path("/work/shared/reference/cases.json").read_text())["weibull"] if "nevada" in c]


def test_hand_computed_points_and_greenwood():
    # Failures 2, 3, 3, 6; suspensions 3 (tied: still at risk at 3), 5.
    points = kaplan_meier(failures=[2, 3, 3, 6], suspensions=[3, 5])
    assert [(p["time"], p["at_risk"], p["failures"]) for p in points] == [(2, 6, 1), (3, 5, 2), (6, 1, 1)]
    s1, s2 = 5 / 6, 5 / 6 * 3 / 5
    assert [p["survival"] for p in points] == pytest.approx([s1, s2, 0.0])
    se2 = s2 * math.sqrt(1 / (6 * 5) + 2 / (5 * 3))
    z = stats.norm.ppf(0.975)
    assert points[1]["lower"] == pytest.approx(s2 - z * se2)
    assert points[1]["upper"] == pytest.approx(s2 + z * se2)
    # S = 0: both limits 0 (the Greenwood term is infinite, the band collapses).
    assert points[2]["lower"] == 0 and points[2]["upper"] == 0


def test_limits_are_clipped_to_unit_interval():
    points = kaplan_meier(failures=[1], suspensions=[5, 5])
    assert points[0]["upper"] == 1.0 and points[0]["lower"] >= 0.0


def test_agrees_with_scipy_ecdf():
    rng = np.random.default_rng(3)
    failures = rng.integers(1, 30, 80).astype(float)
    suspensions = rng.integers(1, 30, 50).astype(float)
    points = kaplan_meier(failures=failures, suspensions=suspensions)
    res = stats.ecdf(stats.CensoredData(uncensored=failures, right=suspensions))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy: undefined where S reaches 0
        ci = res.sf.confidence_interval(method="linear")
    times = np.array([p["time"] for p in points])
    assert list(times) == sorted(set(failures))
    assert [p["survival"] for p in points] == pytest.approx(res.sf.evaluate(times))
    assert [p["lower"] for p in points] == pytest.approx(np.nan_to_num(ci.low.evaluate(times)), abs=1e-9)
    assert [p["upper"] for p in points] == pytest.approx(np.nan_to_num(ci.high.evaluate(times)), abs=1e-9)


def test_no_failures_no_points():
    assert kaplan_meier(failures=[], suspensions=[1, 2]) == []


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_claims_per_1000(case):
    failures, suspensions = nevada_lifetimes(**case["nevada"])
    rows = claims_per_1000(failures=expand(failures), suspensions=expand(suspensions), months=3)
    tol = case["tolerance"]["km_cumulative_claims_per_1000"]
    for months, expected in case["expected"]["km_cumulative_claims_per_1000"].items():
        assert abs(rows[int(months) - 1]["km"] - expected) <= tol
    assert rows[2]["naive"] == pytest.approx(case["expected"]["naive_claims_per_1000_at_3"], abs=0.01)
    # Censoring matters: the naive figure understates the KM one.
    assert rows[2]["naive"] < rows[2]["km"]
