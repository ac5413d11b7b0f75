"""The analysis endpoints: INTERFACES.md shapes, every bad input a 400 (never a 500),
roles, and the scoped analyses on a small hand-computed fixture."""

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import (
    BatchFactory,
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    ProductModelFactory,
    UnitFactory,
    UserFactory,
)

WEIBULL = "/api/v1/analysis/weibull/"
KM = "/api/v1/analysis/kaplan-meier/"
NIST = json.loads(Path("/work/shared/reference/cases.json").read_text())["weibull"][0]


@pytest.fixture
def quality_api(api):
    api.force_authenticate(UserFactory(username="qe", roles=["quality_engineer"]))
    return api


def test_weibull_contract(quality_api):
    body = {"failures": NIST["failures"], "suspensions": NIST["suspensions"], "method": "mle"}
    response = quality_api.post(WEIBULL, body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert {"beta", "eta", "b10", "method", "n_failures", "n_suspensions"} <= set(data)
    assert data["beta"] == pytest.approx(1.7208, abs=1e-4) and data["eta"] == pytest.approx(606.528, abs=0.01)
    assert (data["method"], data["n_failures"], data["n_suspensions"]) == ("mle", 10, 10)
    assert data["beta_lower"] < data["beta"] < data["beta_upper"]


def test_weibull_method_defaults_to_mle_and_rank_regression_works(quality_api):
    assert quality_api.post(WEIBULL, {"failures": [1, 2, 3]}, format="json").json()["method"] == "mle"
    data = quality_api.post(
        WEIBULL, {"failures": [25, 43, 53, 65, 76, 86, 95, 115, 132, 150], "method": "rry"}, format="json"
    ).json()
    assert data["beta"] == pytest.approx(2.02739072618974, abs=1e-6)


def test_kaplan_meier_contract(quality_api):
    response = quality_api.post(KM, {"failures": [2, 3, 3, 6], "suspensions": [3, 5]}, format="json")
    assert response.status_code == 200
    points = response.json()["points"]
    assert [set(p) for p in points] == [{"time", "at_risk", "failures", "survival", "lower", "upper"}] * 3
    assert points[1]["survival"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (WEIBULL, {"failures": [], "suspensions": []}, "failures"),
        (WEIBULL, {"failures": [10]}, "failures"),
        (WEIBULL, {"suspensions": [1, 2]}, "failures"),
        (WEIBULL, {"failures": [1, -2]}, "failures"),
        (WEIBULL, {"failures": [1, 0]}, "failures"),
        (WEIBULL, {"failures": [1, "abc"]}, "failures"),
        (WEIBULL, {"failures": [1, "2"]}, "failures"),
        (WEIBULL, {"failures": [1, True]}, "failures"),
        (WEIBULL, {"failures": [1, None]}, "failures"),
        (WEIBULL, {"failures": [1, [2]]}, "failures"),
        (WEIBULL, {"failures": "1,2,3"}, "failures"),
        (WEIBULL, {"failures": [1, 2], "suspensions": 5}, "suspensions"),
        (WEIBULL, {"failures": [1, 2], "suspensions": [-1]}, "suspensions"),
        (WEIBULL, {"failures": [1, 10**400]}, "failures"),
        (WEIBULL, {"failures": [1, 1e308, 1e308]}, None),
        (WEIBULL, {"failures": [1, 2], "method": "best"}, "method"),
        (WEIBULL, {"failures": [1, 2], "method": 3}, "method"),
        (WEIBULL, {"failures": [5, 5]}, "failures"),
        (WEIBULL, {"failures": list(range(1, 100_002))}, "failures"),
        (KM, {"failures": []}, "failures"),
        (KM, {"failures": [1, -1]}, "failures"),
        (KM, {"failures": [1], "suspensions": ["x"]}, "suspensions"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(quality_api, url, body, field):
    response = quality_api.post(url, body, format="json")
    if field is None:  # huge but finite: either a fit or a reasoned refusal
        assert response.status_code in (200, 400)
        return
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["detail"] and field in data["errors"]


@pytest.mark.parametrize(
    "raw", ["[1, 2]", "null", '"text"', "{", '{"failures": [1, NaN]}', '{"failures": [1, Infinity]}']
)
def test_malformed_json_is_a_400(quality_api, raw):
    response = quality_api.post(WEIBULL, raw, content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_form_encoded_body_is_a_400(quality_api):
    assert quality_api.post(WEIBULL, {"failures": "1"}).status_code == 400


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"failures": JSON, "suspensions": JSON, "method": st.sampled_from(["mle", "rrx", "rry", "x", 1])}
        ),
        st.fixed_dictionaries(
            {"failures": st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=8)},
            optional={"suspensions": st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=8)},
        ),
    )
)
def test_random_json_never_answers_500(quality_api, body):
    for url in (WEIBULL, KM):
        response = quality_api.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code in (200, 400), (url, body, response.content)


def test_roles(api, agent):
    assert api.post(WEIBULL, {"failures": [1, 2]}, format="json").status_code in (401, 403)
    api.force_authenticate(UserFactory(username="norole"))
    assert api.post(WEIBULL, {"failures": [1, 2]}, format="json").status_code == 403
    api.force_authenticate(agent)
    assert api.post(WEIBULL, {"failures": [1, 2]}, format="json").status_code == 200
    # The scoped analyses read whole unit populations: global-read roles only.
    assert api.get("/api/v1/analysis/scope/weibull/").status_code == 403


# Scoped analyses on a fixture: model M1, batch A (4 units) and B (2 units).


def _at(day: dt.date, hour: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def fleet(db):
    model = ProductModelFactory(code="M1")
    a = BatchFactory(code="M1-A", product_model=model)
    b = BatchFactory(code="M1-B", product_model=model)
    sold = dt.date(2025, 1, 1)
    units = [UnitFactory(batch=a, sold_on=sold) for _ in range(4)] + [
        UnitFactory(batch=b, sold_on=sold) for _ in range(2)
    ]
    UnitFactory(batch=a, sold_on=None, customer=None)  # unsold: not in any analysis
    bearing, leak = FailureModeFactory(code="BRG"), FailureModeFactory(code="LEAK")
    part = ComponentFactory(code="PART-1")
    # 30.4375 days = 1 month exactly.
    FailureFactory(
        unit=units[0], failure_mode=bearing, component=part, occurred_at=_at(sold) + dt.timedelta(days=30.4375)
    )
    FailureFactory(unit=units[0], failure_mode=leak, occurred_at=_at(sold) + dt.timedelta(days=90))  # not first
    FailureFactory(
        unit=units[1], failure_mode=bearing, component=part, occurred_at=_at(sold) + dt.timedelta(days=60.875)
    )
    FailureFactory(unit=units[4], failure_mode=leak, occurred_at=_at(sold) + dt.timedelta(days=3 * 30.4375))
    FailureFactory(unit=units[5], failure_mode=bearing, occurred_at=_at(dt.date(2025, 12, 1)))  # after as_of
    return model


AS_OF = dt.date(2025, 6, 30)  # data up to 2025-07-01 00:00: 181 days after the sale


def test_scope_weibull_lifetimes_and_fits(quality_api, fleet):
    response = quality_api.get("/api/v1/analysis/scope/weibull/", {"product_model": "M1", "as_of": AS_OF.isoformat()})
    assert response.status_code == 200
    data = response.json()
    assert (data["units"], data["failures"], data["suspensions"]) == (6, 3, 3)
    assert [f["method"] for f in data["fits"]] == ["mle", "rrx", "rry"]
    assert [round(p["time"], 9) for p in data["plot"]["points"]] == [1.0, 2.0, 3.0]
    from quality.analysis.weibull import weibull_fit

    expected = weibull_fit(failures=[1, 2, 3], suspensions=[181 / 30.4375] * 3)
    assert data["fits"][0]["beta"] == pytest.approx(expected.beta)
    assert data["fits"][0]["eta"] == pytest.approx(expected.eta)


def test_scope_lifetimes_is_one_query(fleet, django_assert_num_queries):
    from quality import selectors
    from quality.analysis.scope import AnalysisScope

    with django_assert_num_queries(1):
        life = selectors.analysis_lifetimes(scope=AnalysisScope(product_model="M1"), as_of=AS_OF)
    assert sorted(life["failures"]) == pytest.approx([1.0, 2.0, 3.0])


def test_component_scope_counts_only_its_failures(quality_api, fleet):
    data = quality_api.get(
        "/api/v1/analysis/scope/weibull/", {"component": "PART-1", "as_of": AS_OF.isoformat()}
    ).json()
    assert (data["units"], data["failures"]) == (6, 2)


def test_batch_comparison(quality_api, fleet):
    data = quality_api.get(
        "/api/v1/analysis/scope/batches/", {"product_model": "M1", "as_of": AS_OF.isoformat()}
    ).json()
    rows = {r["batch"]: r for r in data["batches"]}
    assert (rows["M1-A"]["units_sold"], rows["M1-A"]["failures"]) == (4, 2)
    assert rows["M1-A"]["failures_per_1000"] == pytest.approx(500.0)
    assert rows["M1-A"]["fit"]["n_failures"] == 2
    assert rows["M1-B"]["fit"] is None and rows["M1-B"]["reason"]  # one failure: no 2-parameter fit
    assert quality_api.get("/api/v1/analysis/scope/batches/").status_code == 400


def test_claims_forecast_pareto(quality_api, fleet):
    params = {"product_model": "M1", "as_of": AS_OF.isoformat()}
    claims = quality_api.get("/api/v1/analysis/scope/claims/", params).json()
    row2 = claims["rows"][1]
    assert row2["naive"] == pytest.approx(1000 * 2 / 6)
    # KM at 2 months: (1 - 1/6)(1 - 1/5) -> 1000 x (1 - 2/3).
    assert row2["km"] == pytest.approx(1000 / 3)
    forecast = quality_api.get("/api/v1/analysis/scope/forecast/", params).json()
    assert forecast["units_in_service"] == 3 and [h["months"] for h in forecast["horizons"]] == [3, 6, 12]
    pareto = quality_api.get("/api/v1/analysis/scope/pareto/", params).json()
    assert [(r["code"], r["failures"]) for r in pareto["rows"]] == [("BRG", 2), ("LEAK", 2)]
    assert pareto["rows"][-1]["cumulative_share"] == pytest.approx(100.0)
    assert pareto["rows"][0]["share"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"product_model": "NOPE"}, "product_model"),
        ({"batch": "NOPE"}, "batch"),
        ({"as_of": "2025-13-01"}, "as_of"),
        ({"as_of": "9999-12-31"}, "as_of"),
        ({"basis": "week"}, "basis"),
        ({"count": "some"}, "count"),
    ],
)
def test_scoped_bad_parameters(quality_api, fleet, params, field):
    response = quality_api.get("/api/v1/analysis/scope/nevada/", params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_empty_scope_answers_without_fits(quality_api, db):
    data = quality_api.get("/api/v1/analysis/scope/weibull/").json()
    assert data["units"] == 0 and data["fits"] == [] and "mle" in data["reasons"]
    assert quality_api.get("/api/v1/analysis/scope/claims/").status_code == 200
    assert quality_api.get("/api/v1/analysis/scope/forecast/").json()["horizons"] == []
    assert math.isclose(len(quality_api.get("/api/v1/analysis/scope/pareto/").json()["rows"]), 0)
