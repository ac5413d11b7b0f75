"""POST /api/v1/analysis/control-chart/: the INTERFACES.md shape, roles, and every bad
input a 400 {"detail", "errors"} (never a 500)."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import UserFactory

URL = "/api/v1/analysis/control-chart/"
CASES = json.loads(Path("/work/shared/reference/cases.json").read_text())["control_charts"]
POINT_FIELDS = {"index", "value", "statistic", "lcl", "ucl", "signal"}


@pytest.fixture
def quality_api(api):
    api.force_authenticate(UserFactory(username="qe", roles=["quality_engineer"]))
    return api


def test_p_chart_contract(quality_api):
    case = CASES[0]
    response = quality_api.post(URL, {"chart": "p", "values": case["values"], "sizes": case["sizes"]}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["center"] == pytest.approx(0.2313, abs=1e-4)
    assert [set(p) for p in data["points"]] == [POINT_FIELDS] * 30
    assert [p["index"] for p in data["points"] if p["signal"]] == [15, 23]
    assert data["points"][0]["ucl"] == pytest.approx(0.4102, abs=1e-4)


def test_c_chart_point_on_the_limit(quality_api):
    case = next(c for c in CASES if c["chart"] == "c")
    data = quality_api.post(URL, {"chart": "c", "values": case["values"]}, format="json").json()
    assert (data["points"][2]["statistic"], data["points"][2]["ucl"], data["points"][2]["signal"]) == (28, 28, False)
    assert [p["index"] for p in data["points"] if p["signal"]] == [24]


def test_ewma_and_cusum_contract(quality_api):
    case = next(c for c in CASES if c["chart"] == "ewma")
    data = quality_api.post(
        URL, {"chart": "ewma", "values": case["values"], "params": case["params"]}, format="json"
    ).json()
    assert [p["statistic"] for p in data["points"]] == pytest.approx(case["expected"]["ewma"], abs=0.005)
    assert data["points"][0]["ucl"] == pytest.approx(52.5884, abs=2e-4)
    body = {"chart": "cusum", "values": [10, 11, 12, 11, 12, 13, 9], "params": {"target": 10, "k": 0.5, "h": 4}}
    points = quality_api.post(URL, body, format="json").json()["points"]
    assert set(points[0]) == POINT_FIELDS | {"s_hi", "s_lo"}
    assert [p["s_hi"] for p in points] == [0, 0.5, 2, 2.5, 4, 6.5, 5]
    assert [p["index"] for p in points if p["signal"]] == [6, 7]


def test_laney_and_poisson_over_the_api(quality_api):
    laney = {"chart": "laney_p", "values": [1000, 1120, 880, 1100, 900, 1000, 1130, 870], "sizes": [10_000] * 8}
    assert not any(p["signal"] for p in quality_api.post(URL, laney, format="json").json()["points"])
    sparse = {"chart": "poisson", "values": [0, 1, 0, 0, 5, 0, 1, 0, 0, 0], "sizes": [10] * 10}
    points = quality_api.post(URL, sparse, format="json").json()["points"]
    assert [p["index"] for p in points if p["signal"]] == [5]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"values": [1, 2]}, "chart"),
        ({"chart": "pareto", "values": [1, 2]}, "chart"),
        ({"chart": 3, "values": [1, 2]}, "chart"),
        ({"chart": ["c"], "values": [1, 2]}, "chart"),
        ({"chart": "c"}, "values"),
        ({"chart": "c", "values": []}, "values"),
        ({"chart": "c", "values": "1,2"}, "values"),
        ({"chart": "c", "values": [1, "2"]}, "values"),
        ({"chart": "c", "values": [1, None]}, "values"),
        ({"chart": "c", "values": [1, True]}, "values"),
        ({"chart": "c", "values": [1, [2]]}, "values"),
        ({"chart": "c", "values": [1, {"a": 2}]}, "values"),
        ({"chart": "c", "values": [1, -2]}, "values"),
        ({"chart": "c", "values": [1, 10**400]}, "values"),
        ({"chart": "c", "values": [1] * 10_001}, "values"),
        ({"chart": "xmr", "values": [1]}, "values"),
        ({"chart": "xmr", "values": [1e308, -1e308, 1e308]}, "values"),
        ({"chart": "p", "values": [1, 2]}, "sizes"),
        ({"chart": "p", "values": [1, 2], "sizes": [5]}, "sizes"),
        ({"chart": "p", "values": [1, 2], "sizes": [5, 0]}, "sizes"),
        ({"chart": "p", "values": [1, 2], "sizes": "5"}, "sizes"),
        ({"chart": "p", "values": [1, 9], "sizes": [5, 5]}, "values"),
        ({"chart": "np", "values": [1, 2], "sizes": [5, 6]}, "sizes"),
        ({"chart": "np", "values": [1, 2]}, "sizes"),
        ({"chart": "u", "values": [1, 2], "sizes": [1, -1]}, "sizes"),
        ({"chart": "laney_u", "values": [1, 2]}, "sizes"),
        ({"chart": "laney_p", "values": [1], "sizes": [5]}, "values"),
        ({"chart": "poisson", "values": [1, 2]}, "sizes"),
        ({"chart": "poisson", "values": [1, 1.5], "sizes": [1, 1]}, "values"),
        ({"chart": "poisson", "values": [1, 2], "sizes": [1, 1], "params": {"alpha": 2}}, "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"lambda": 0}}, "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"lambda": 1.5}}, "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"lambda": "0.3"}}, "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"L": -3}}, "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"limits": "narrow"}}, "params"),
        ({"chart": "ewma", "values": [1, 2], "params": {"sigma": 0}}, "params"),
        ({"chart": "ewma", "values": [1]}, "values"),
        ({"chart": "cusum", "values": [1, 2], "params": {"h": 0}}, "params"),
        ({"chart": "cusum", "values": [1, 2], "params": {"k": -0.5}}, "params"),
        ({"chart": "cusum", "values": [1, 2], "params": {"lambda": 0.5}}, "params"),
        ({"chart": "c", "values": [1, 2], "params": "L=3"}, "params"),
        ({"chart": "c", "values": [1, 2], "params": {"L": 0}}, "params"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(quality_api, body, field):
    response = quality_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["detail"] and list(data["errors"]) == [field] and data["errors"][field]


@pytest.mark.parametrize(
    "raw",
    ["[1, 2]", "null", '"text"', "{", '{"chart": "c", "values": [1, NaN]}', '{"chart": "c", "values": [Infinity]}'],
)
def test_malformed_json_is_a_400(quality_api, raw):
    response = quality_api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_roles(api, agent):
    body = {"chart": "c", "values": [1, 2, 3]}
    assert api.post(URL, body, format="json").status_code in (401, 403)
    api.force_authenticate(UserFactory(username="norole"))
    assert api.post(URL, body, format="json").status_code == 403
    api.force_authenticate(agent)
    assert api.post(URL, body, format="json").status_code == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
CHART = st.sampled_from(["p", "np", "c", "u", "xmr", "ewma", "cusum", "laney_p", "laney_u", "poisson", "x", 1])
NUMBER = st.one_of(st.integers(min_value=-5, max_value=10**20), st.floats(allow_nan=False), st.sampled_from([0, 1, 2]))
PARAMS = st.dictionaries(
    st.sampled_from(["L", "lambda", "target", "sigma", "limits", "k", "h", "rate", "alpha", "min_count", "x"]),
    NUMBER | st.sampled_from(["exact", "asymptotic", None, "1"]),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        JSON,
        st.fixed_dictionaries({"chart": CHART, "values": JSON}, optional={"sizes": JSON, "params": JSON}),
        st.fixed_dictionaries(
            {"chart": CHART, "values": st.lists(NUMBER, max_size=8)},
            optional={"sizes": st.lists(NUMBER, max_size=8), "params": PARAMS},
        ),
        # Well-formed series, so that the charts themselves run on odd numbers.
        st.integers(min_value=1, max_value=8).flatmap(
            lambda n: st.fixed_dictionaries(
                {
                    "chart": CHART,
                    "values": st.lists(st.integers(min_value=0, max_value=50), min_size=n, max_size=n),
                    "sizes": st.lists(st.integers(min_value=50, max_value=60), min_size=n, max_size=n),
                },
                optional={"params": PARAMS},
            )
        ),
    )
)
def test_random_json_never_answers_500(quality_api, body):
    response = quality_api.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400), (body, response.content)
    if response.status_code == 200:
        points = response.json()["points"]
        assert all(set(p) >= POINT_FIELDS for p in points)
