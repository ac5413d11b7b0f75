"""Control-chart statistics (quality/analysis/control.py): the reference cases of
cases.json within their tolerance, and hand-computed series for the other charts.
A point exactly on a limit is never a signal."""

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from quality.analysis.control import MAX_POINTS, ControlChartError, chart_compute, last_point_signal

CASES = json.loads(Path("/work/shared/reference/cases.json").read_text())["control_charts"]


def _signals(result) -> list[int]:
    return [p["index"] for p in result["points"] if p["signal"]]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_cases(case):
    result = chart_compute(case["chart"], case["values"], case.get("sizes"), case.get("params"))
    expected = case["expected"]
    tolerance = case["tolerance"]
    limit_tol = tolerance["limits"] if isinstance(tolerance, dict) else tolerance
    assert [p["index"] for p in result["points"]] == list(range(1, len(case["values"]) + 1))
    assert _signals(result) == expected["signals_1based"]
    if "center" in expected:
        assert result["center"] == pytest.approx(expected["center"], abs=limit_tol)
    for point in result["points"]:  # constant subgroup size: the same limits everywhere
        assert point["ucl"] == pytest.approx(expected["ucl"], abs=limit_tol)
        assert point["lcl"] == pytest.approx(expected["lcl"], abs=limit_tol)
    if "ewma" in expected:
        got = [p["statistic"] for p in result["points"]]
        assert got == pytest.approx(expected["ewma"], abs=tolerance["ewma"])


def test_c_chart_point_on_the_ucl_is_not_a_signal():
    case = next(c for c in CASES if c["chart"] == "c")
    wafer3 = chart_compute("c", case["values"])["points"][2]
    assert wafer3["statistic"] == wafer3["ucl"] == 28.0
    assert wafer3["signal"] is False


def test_p_chart_statistic_is_the_proportion_and_the_value_the_count():
    case = CASES[0]
    point = chart_compute("p", case["values"], case["sizes"])["points"][14]
    assert (point["value"], point["statistic"], point["signal"]) == (22.0, 0.44, True)


def test_p_chart_limits_follow_each_subgroup_size():
    # pbar = 15 / 150 = 0.1; n = 50: 3 sqrt(0.09 / 50) = 0.127279 (LCL clipped at 0);
    # n = 100: 3 sqrt(0.09 / 100) = 0.09.
    points = chart_compute("p", [5, 10], [50, 100])["points"]
    assert points[0]["ucl"] == pytest.approx(0.227279, abs=1e-6) and points[0]["lcl"] == 0.0
    assert points[1]["ucl"] == pytest.approx(0.19) and points[1]["lcl"] == pytest.approx(0.01)


def test_np_chart():
    # pbar = 16 / 120 = 2/15, center n pbar = 8/3, sigma = sqrt(20 * 2/15 * 13/15) = 1.520234,
    # UCL = 2.666667 + 4.560702 = 7.227369, LCL = 2.67 - 4.56 < 0 -> 0.
    result = chart_compute("np", [1, 2, 1, 2, 9, 1], [20] * 6)
    assert result["center"] == pytest.approx(2.666667, abs=1e-6)
    assert result["points"][0]["ucl"] == pytest.approx(7.227369, abs=1e-6)
    assert result["points"][0]["lcl"] == 0.0
    assert result["points"][4]["statistic"] == 9.0
    assert _signals(result) == [5]


def test_np_chart_needs_a_constant_size():
    with pytest.raises(ControlChartError) as error:
        chart_compute("np", [1, 2], [20, 21])
    assert error.value.field == "sizes"


def test_u_chart_per_point_limits():
    # ubar = 20 / 5 = 4; u = 1, 1, 1, 8.5; n = 1: 4 + 3 * 2 = 10; n = 2: 4 + 3 sqrt(2) = 8.242641.
    result = chart_compute("u", [1, 1, 1, 17], [1, 1, 1, 2])
    assert result["center"] == 4.0
    assert [p["statistic"] for p in result["points"]] == [1.0, 1.0, 1.0, 8.5]
    assert [p["ucl"] for p in result["points"]] == pytest.approx([10, 10, 10, 8.242641], abs=1e-6)
    assert [p["lcl"] for p in result["points"]] == [0.0] * 4  # 4 - 6 and 4 - 4.24 clipped
    assert _signals(result) == [4]


def test_xmr_chart():
    # mean 88 / 6 = 14.666667; moving ranges 2, 1, 2, 1, 18 -> 4.8; sigma = 4.8 / 1.128 = 4.255319;
    # UCL = 14.666667 + 12.765957 = 27.432624, LCL = 1.900709.
    result = chart_compute("xmr", [10, 12, 11, 13, 12, 30])
    assert result["center"] == pytest.approx(14.666667, abs=1e-6)
    assert result["params"]["sigma"] == pytest.approx(4.255319, abs=1e-6)
    assert result["points"][0]["ucl"] == pytest.approx(27.432624, abs=1e-6)
    assert result["points"][0]["lcl"] == pytest.approx(1.900709, abs=1e-6)
    assert _signals(result) == [6]


def test_xmr_limit_width():
    result = chart_compute("xmr", [10, 12, 11, 13, 12, 30], params={"L": 4})
    assert result["points"][0]["ucl"] == pytest.approx(14.666667 + 4 * 4.255319, abs=1e-5)
    assert _signals(result) == []  # 30 < 31.69


def test_ewma_exact_limits_are_narrower_at_the_start():
    # lambda 0.5: lambda / (2 - lambda) = 1/3; i = 1: sqrt(1/3 * 0.75) = 0.5 -> +-1.5;
    # i = 2: sqrt(1/3 * 15/16) = 0.559017 -> +-1.677051; asymptotic sqrt(1/3) -> +-1.732051.
    # z1 = 0.5 * 3.2 = 1.6: beyond the exact limit only.
    params = {"lambda": 0.5, "L": 3, "target": 0, "sigma": 1, "limits": "exact"}
    exact = chart_compute("ewma", [3.2, 0.0], params=params)
    assert [p["ucl"] for p in exact["points"]] == pytest.approx([1.5, 1.677051], abs=1e-6)
    assert [p["statistic"] for p in exact["points"]] == pytest.approx([1.6, 0.8])
    assert _signals(exact) == [1]
    asymptotic = chart_compute("ewma", [3.2, 0.0], params={**params, "limits": "asymptotic"})
    assert asymptotic["points"][0]["ucl"] == pytest.approx(1.732051, abs=1e-6)
    assert asymptotic["points"][0]["lcl"] == pytest.approx(-1.732051, abs=1e-6)
    assert _signals(asymptotic) == []


def test_ewma_estimates_target_and_sigma_from_the_data():
    # mean 2.5; moving ranges 1, 1, 1 -> sigma 1 / 1.128 = 0.886525; defaults lambda 0.2, L 3.
    result = chart_compute("ewma", [1, 2, 3, 4])
    assert result["center"] == 2.5
    assert result["params"]["sigma"] == pytest.approx(0.886525, abs=1e-6)
    assert result["params"]["lambda"] == 0.2 and result["params"]["limits"] == "asymptotic"
    # z1 = 0.2 * 1 + 0.8 * 2.5 = 2.2; half width 3 * 0.886525 * sqrt(0.2 / 1.8) = 0.886525
    assert result["points"][0]["statistic"] == pytest.approx(2.2)
    assert result["points"][0]["ucl"] == pytest.approx(2.5 + 0.886525, abs=1e-6)


def test_cusum_tabular_and_a_point_on_h_is_not_a_signal():
    # target 10, k 0.5, h 4: s_hi = max(0, s_hi + x - 10.5) -> 0, 0.5, 2, 2.5, 4, 6.5, 5;
    # s_lo = max(0, s_lo + 9.5 - x) -> 0, 0, 0, 0, 0, 0, 0.5.
    result = chart_compute("cusum", [10, 11, 12, 11, 12, 13, 9], params={"target": 10, "k": 0.5, "h": 4})
    points = result["points"]
    assert [p["s_hi"] for p in points] == [0, 0.5, 2, 2.5, 4, 6.5, 5]
    assert [p["s_lo"] for p in points] == [0, 0, 0, 0, 0, 0, 0.5]
    assert [p["statistic"] for p in points] == [0, 0.5, 2, 2.5, 4, 6.5, 5]
    assert (points[0]["lcl"], points[0]["ucl"], result["center"]) == (-4.0, 4.0, 10.0)
    assert _signals(result) == [6, 7]  # point 5 is exactly h


def test_cusum_downward_shift():
    # s_lo = max(0, s_lo + 9.5 - x): 0, 1.5, 4, 4.5 -> signal at 4, plotted as -4.5.
    result = chart_compute("cusum", [10, 8, 7, 9], params={"target": 10, "k": 0.5, "h": 4})
    assert [p["s_lo"] for p in result["points"]] == [0, 1.5, 4, 4.5]
    assert result["points"][3]["statistic"] == -4.5
    assert _signals(result) == [4]
    last = last_point_signal(result)
    assert last["direction"] == "low" and last["index"] == 4 and last["center"] == 10


def test_cusum_defaults_from_the_estimated_sigma():
    # sigma = 1 / 1.128 = 0.886525 -> k = 0.443262, h = 4.432624; target = mean 2.5.
    params = chart_compute("cusum", [1, 2, 3, 4])["params"]
    assert params["target"] == 2.5
    assert params["k"] == pytest.approx(0.443262, abs=1e-6)
    assert params["h"] == pytest.approx(4.432624, abs=1e-6)


# Laney: 8 subgroups of 10,000 with true between-subgroup spread. pbar = 8000 / 80000 = 0.1,
# sigma_p = sqrt(0.09 / 10000) = 0.003, so the p chart's limits 0.091 / 0.109 flag 6 of 8.
# z = 0, 4, -4, 3.333, -3.333, 0, 4.333, -4.333; moving ranges sum 42.3333 over 7 ->
# 6.047619; sigma_z = 6.047619 / 1.128 = 5.361364; limits 0.1 +- 3 * 0.003 * 5.361364.
LANEY_D = [1000, 1120, 880, 1100, 900, 1000, 1130, 870]
LANEY_N = [10_000] * 8


def test_plain_p_chart_flags_overdispersed_large_subgroups():
    result = chart_compute("p", LANEY_D, LANEY_N)
    assert result["points"][0]["ucl"] == pytest.approx(0.109)
    assert _signals(result) == [2, 3, 4, 5, 7, 8]


def test_laney_p_prime_flags_none():
    result = chart_compute("laney_p", LANEY_D, LANEY_N)
    assert result["center"] == pytest.approx(0.1)
    assert result["params"]["sigma_z"] == pytest.approx(5.361364, abs=1e-6)
    assert result["points"][0]["ucl"] == pytest.approx(0.1482523, abs=1e-7)
    assert result["points"][0]["lcl"] == pytest.approx(0.0517477, abs=1e-7)
    assert _signals(result) == []


def test_laney_p_prime_still_flags_a_real_outlier():
    result = chart_compute("laney_p", [*LANEY_D, 3000], [*LANEY_N, 10_000])
    assert _signals(result) == [9]


def test_laney_u_prime():
    # ubar = 2500 / 500 = 5, sigma_u = sqrt(5 / 100) = 0.223607: the u chart flags 6 and 4.
    # z = 0, 4.472136, -4.472136, 2.236068, -2.236068; mean moving range 6.149187;
    # sigma_z = 5.451407; limits 5 +- 3 * 0.223607 * 5.451407 = 1.343085 / 8.656915.
    counts, units = [500, 600, 400, 550, 450], [100] * 5
    assert _signals(chart_compute("u", counts, units)) == [2, 3]
    result = chart_compute("laney_u", counts, units)
    assert result["params"]["sigma_z"] == pytest.approx(5.451407, abs=1e-6)
    assert result["points"][0]["ucl"] == pytest.approx(8.656915, abs=1e-6)
    assert result["points"][0]["lcl"] == pytest.approx(1.343085, abs=1e-6)
    assert _signals(result) == []


def test_poisson_exceedance_flags_the_spike():
    # pooled rate 7 / 100 = 0.07, expected 0.7 per point; P(X >= 5) = 1 - e^-0.7 (1 + 0.7 +
    # 0.245 + 0.057167 + 0.010004) = 0.000786 < 0.001; P(X >= 1) = 1 - e^-0.7 = 0.503415.
    # P(X >= 4) = 0.005754 >= 0.001, so the largest count that does not signal is 4.
    result = chart_compute("poisson", [0, 1, 0, 0, 5, 0, 1, 0, 0, 0], [10] * 10)
    assert result["center"] == pytest.approx(0.07)
    assert result["points"][4]["statistic"] == pytest.approx(0.000786, abs=1e-6)
    assert result["points"][1]["statistic"] == pytest.approx(0.503415, abs=1e-6)
    assert result["points"][4]["expected"] == pytest.approx(0.7)
    assert [p["ucl"] for p in result["points"]] == [4.0] * 10
    assert _signals(result) == [5]


def test_poisson_minimum_count_floor():
    # rate 0.001 x 10 = 0.01: P(X >= 2) = 1 - 0.99004983 * 1.01 = 4.9668e-5 < alpha, but 2 < min_count 3.
    result = chart_compute("poisson", [0, 2, 3], [10, 10, 10], {"rate": 0.001})
    assert result["points"][1]["statistic"] == pytest.approx(4.9668e-5, rel=1e-4)
    assert _signals(result) == [3]
    assert result["points"][0]["ucl"] == 2.0  # the floor, not the tail test, sets it here
    assert _signals(chart_compute("poisson", [0, 2, 3], [10, 10, 10], {"rate": 0.001, "min_count": 2})) == [2, 3]


def test_poisson_signal_agrees_with_the_ucl():
    values = [0, 0, 1, 0, 2, 7, 0, 1, 3, 0, 0, 4]
    exposure = [5, 8, 10, 3, 12, 9, 4, 6, 7, 10, 2, 1]
    for alpha in (0.001, 0.01, 0.05, 0.3):
        for point in chart_compute("poisson", values, exposure, {"alpha": alpha, "min_count": 1})["points"]:
            assert point["signal"] == (point["value"] > point["ucl"])


def test_all_zero_series_has_no_signal():
    for chart in ("p", "np", "u", "c", "laney_p", "laney_u", "poisson"):
        result = chart_compute(chart, [0, 0, 0], [5, 5, 5])
        assert _signals(result) == [] and result["center"] == 0.0, chart


def test_last_point_signal():
    assert last_point_signal(chart_compute("c", [4, 4, 4, 4, 30, 4])) is None
    last = last_point_signal(chart_compute("c", [4, 4, 4, 4, 4, 30]))
    # cbar = 50 / 6 = 8.333333; UCL = 8.333333 + 3 sqrt(8.333333) = 16.993587.
    assert last["index"] == 6 and last["value"] == 30 and last["direction"] == "high"
    assert last["center"] == pytest.approx(8.333333, abs=1e-6)
    assert last["ucl"] == pytest.approx(16.993587, abs=1e-6)
    low = last_point_signal(chart_compute("xmr", [10, 11, 10, 11, 10, 11, 10, -5]))
    assert low["direction"] == "low"


@pytest.mark.parametrize(
    ("chart", "values", "sizes", "params", "field"),
    [
        ("x", [1], None, None, "chart"),
        (None, [1], None, None, "chart"),
        ("c", [], None, None, "values"),
        ("c", None, None, None, "values"),
        ("c", [1, "2"], None, None, "values"),
        ("c", [1, True], None, None, "values"),
        ("c", [1, math.nan], None, None, "values"),
        ("c", [1, math.inf], None, None, "values"),
        ("c", [1, 10**400], None, None, "values"),
        ("c", [1, -1], None, None, "values"),
        ("c", [1] * (MAX_POINTS + 1), None, None, "values"),
        ("p", [1, 2], None, None, "sizes"),
        ("p", [1, 2], [5], None, "sizes"),
        ("p", [1, 2], [5, 0], None, "sizes"),
        ("p", [1, 6], [5, 5], None, "values"),
        ("u", [1, 2], [1, -1], None, "sizes"),
        ("poisson", [1, 2], None, None, "sizes"),
        ("poisson", [1, 2.5], [1, 1], None, "values"),
        ("poisson", [1, 2], [1, 1], {"alpha": 0}, "params"),
        ("poisson", [1, 2], [1, 1], {"rate": -1}, "params"),
        ("poisson", [1, 2], [1, 1], {"min_count": -1}, "params"),
        ("xmr", [1], None, None, "values"),
        ("laney_p", [1], [5], None, "values"),
        ("ewma", [1], None, None, "values"),
        ("ewma", [1, 2], None, {"lambda": 0}, "params"),
        ("ewma", [1, 2], None, {"lambda": 1.01}, "params"),
        ("ewma", [1, 2], None, {"L": 0}, "params"),
        ("ewma", [1, 2], None, {"sigma": -1}, "params"),
        ("ewma", [1, 2], None, {"limits": "wide"}, "params"),
        ("cusum", [1, 2], None, {"h": 0}, "params"),
        ("cusum", [1, 2], None, {"k": -1}, "params"),
        ("cusum", [1, 2], None, {"k": "1"}, "params"),
        ("c", [1, 2], None, [1], "params"),
        ("xmr", [1e308, -1e308, 1e308], None, None, "values"),
    ],
)
def test_bad_input_names_the_field(chart, values, sizes, params, field):
    with pytest.raises(ControlChartError) as error:
        chart_compute(chart, values, sizes, params)
    assert error.value.field == field and error.value.errors == {field: [error.value.reason]}


def test_unknown_settings_are_refused_only_when_strict():
    # The API is strict (a typo must not silently fall back to a default); the alert
    # engine shares one settings dict between charts.
    with pytest.raises(ControlChartError) as error:
        chart_compute("ewma", [1, 2], params={"lamda": 0.3}, strict=True)
    assert error.value.field == "params" and "lamda" in error.value.reason
    result = chart_compute("p", [1, 2], [5, 5], params={"L": 2, "alpha": 0.01, "lambda": 0.3})
    assert result["params"] == {"L": 2.0}
    assert chart_compute("poisson", [1, 2], [5, 5], params={"L": 2, "alpha": 0.01})["params"]["alpha"] == 0.01


def test_edge_inputs_that_are_fine():
    assert chart_compute("ewma", [5], params={"sigma": 1})["points"][0]["signal"] is False
    assert chart_compute("ewma", [1, 2], params={"lambda": 1})["params"]["lambda"] == 1.0
    assert chart_compute("cusum", [3, 3, 3])["params"]["h"] == 0.0  # flat: no spread, no signal
    assert len(chart_compute("c", [1] * MAX_POINTS)["points"]) == MAX_POINTS


def test_database_numbers_are_accepted():
    result = chart_compute("u", [Decimal("1"), np.int64(1), 1.0, 17], np.array([1, 1, 1, 2]))
    assert result["center"] == 4.0 and _signals(result) == [4]
    with pytest.raises(ControlChartError):
        chart_compute("c", [Decimal("NaN"), 1])
    with pytest.raises(ControlChartError):
        chart_compute("c", [Decimal("sNaN"), 1])
