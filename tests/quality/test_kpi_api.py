"""The KPI REST endpoints of INTERFACES.md: catalogue, values (the body of `kpi --json`),
drill-through records (exactly the records behind one value), the overview cards,
role scoping and error shapes."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.kpi.registry import kpi_lookup
from quality.selectors import kpi_values
from tests.conftest import api_for
from tests.factories import TicketFactory
from tests.quality import kpi_fixtures
from tests.quality.kpi_fixtures import CATALOGUE_CODES, EXPECTED, FEB, JAN, L, R, assert_rows

# The shared fixtures (kpi_fixtures.py), under their own names for pytest.
kpi_settings = kpi_fixtures.kpi_settings
world = kpi_fixtures.world

BASE = "/api/v1/kpis/"
RANGE = {"grain": "month", "start": "2026-01-01", "end": "2026-03-01"}
BODY_KEYS = {"kpi", "grain", "unit", "direction", "start", "end", "by", "rows"}
UNSCOPABLE = ["first_failure_rate", "failures_per_1000", "complaint_rate", "recall_rate", "recall_completion_rate"]


def values(client, code, **params):
    return client.get(f"{BASE}{code}/values/", {**RANGE, **params})


def records(client, code, **params):
    return client.get(f"{BASE}{code}/records/", {"grain": "month", "page_size": 100, **params})


def assert_error(response, status=400, field=None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not None:
        assert field in body["errors"], body
        assert isinstance(body["errors"][field], list) and body["errors"][field]
    return body


# Catalogue


def test_catalogue_shape(world, manager):
    response = api_for(manager).get(BASE)
    assert response.status_code == 200
    entries = {entry["code"]: entry for entry in response.json()}
    assert set(CATALOGUE_CODES) <= set(entries)
    for code in CATALOGUE_CODES:
        entry, kpi = entries[code], kpi_lookup(code)
        for key in ("code", "name_en", "name_zh", "category", "unit", "direction", "dims", "target"):
            assert key in entry, (code, key)
        assert entry["unit"] == kpi.unit and entry["direction"] == kpi.direction
        assert entry["dims"] == list(kpi.dims)
        assert entry["target"] == kpi.target
        assert entry["category"] in {
            "customer_experience",
            "problem_tracing",
            "service_efficiency",
            "continuous_improvement",
        }
    assert entries["csat"]["name_zh"] == "客户满意度"
    assert entries["csat"]["category"] == "customer_experience"
    assert entries["backlog"]["category"] == "service_efficiency"
    assert entries["recall_rate"]["category"] == "continuous_improvement"
    assert entries["first_failure_rate"]["category"] == "problem_tracing"
    assert entries["csat"]["target"] == 90


def test_catalogue_for_an_agent_lists_only_ticket_scopable_kpis(world, agent):
    codes = {entry["code"] for entry in api_for(agent).get(BASE).json()}
    assert not codes & set(UNSCOPABLE)
    assert {"csat", "backlog", "first_response_hours", "repeat_failure_rate", "service_cost_per_ticket"} <= codes


def test_catalogue_requires_login(world, api):
    assert api.get(BASE).status_code in (401, 403)
    assert api.get(f"{BASE}csat/values/", RANGE).status_code in (401, 403)


# Values


@pytest.mark.parametrize(
    ("code", "by"),
    [("csat", ("region",)), ("failures_per_1000", ("component",)), ("backlog", ("team",)), ("nps", ())],
)
def test_values_body(world, manager, code, by):
    response = values(api_for(manager), code, by=",".join(by))
    assert response.status_code == 200, response.content
    body = response.json()
    kpi = kpi_lookup(code)
    assert set(body) >= BODY_KEYS
    assert {k: body[k] for k in BODY_KEYS - {"rows"}} == {
        "kpi": code,
        "grain": "month",
        "unit": kpi.unit,
        "direction": kpi.direction,
        "start": "2026-01-01",
        "end": "2026-03-01",
        "by": list(by),
    }
    assert_rows(body["rows"], EXPECTED[(code, by)], extra_keys=("target", "status"))


def test_values_rows_sorted_by_period_then_members(world, manager):
    body = values(api_for(manager), "failures_per_1000", by="product_model,component").json()
    keys = [(r["period_start"], r["product_model"], r["component"]) for r in body["rows"]]
    assert keys == sorted(keys)
    assert keys[0] == (JAN, "M1", "P1") and keys[-1] == (FEB, "M2", "P1")
    assert_rows(
        body["rows"], EXPECTED[("failures_per_1000", ("product_model", "component"))], extra_keys=("target", "status")
    )


def test_values_with_a_member_filter(world, manager):
    body = values(api_for(manager), "csat", region="West").json()
    assert_rows(body["rows"], [R(JAN, 50.0, 1, 2)], extra_keys=("target", "status"))


def test_unsupported_dimension_is_a_400_naming_by(world, manager):
    body = assert_error(values(api_for(manager), "complaint_rate", by="channel"), field="by")
    assert "channel" in body["errors"]["by"][0]


@pytest.mark.parametrize(
    ("code", "params", "field"),
    [
        ("csat", {"grain": "fortnight"}, "grain"),
        ("csat", {"grain": ""}, "grain"),
        ("csat", {"start": "2026-13-01"}, "start"),
        ("csat", {"start": "yesterday"}, "start"),
        ("csat", {"end": ""}, "end"),
        ("csat", {"start": "2026-03-01", "end": "2026-01-01"}, "end"),
        ("csat", {"by": "region,region"}, "by"),
        ("csat", {"by": "colour"}, "by"),
        ("csat", {"component": "P1"}, "filters"),
        ("recall_rate", {"region": "East"}, "filters"),
        ("csat", {"start": "0001-01-01"}, "start"),
        ("csat", {"grain": "year", "end": "9999-12-31"}, "end"),
        ("csat", {"grain": "day", "start": "1990-01-01"}, "start"),
    ],
)
def test_bad_values_requests_are_400(world, manager, code, params, field):
    client = api_for(manager)
    client.raise_request_exception = False
    assert_error(values(client, code, **params), field=field)


@pytest.mark.parametrize(
    ("code", "params", "field"),
    [
        ("csat", {"period_start": "2026-01-02"}, "period_start"),
        ("csat", {"grain": "week", "period_start": "2026-01-01"}, "period_start"),
        ("csat", {"period_start": "2026-02-30"}, "period_start"),
        ("csat", {"period_start": ""}, "period_start"),
        ("csat", {"period_start": "0001-01-01"}, "period_start"),
        ("csat", {"period_start": "9999-12-01"}, "period_start"),
        ("csat", {"grain": "hour", "period_start": "2026-01-01"}, "grain"),
        ("csat", {"period_start": "2026-01-01", "side": "both"}, "side"),
        ("backlog", {"period_start": "2026-01-01", "side": "denominator"}, "side"),
        ("csat", {"period_start": "2026-01-01", "component": "P1"}, "filters"),
        ("csat", {"period_start": "2026-01-01", "start": "2026-02-01"}, None),
    ],
)
def test_bad_records_requests_are_400(world, manager, code, params, field):
    client = api_for(manager)
    client.raise_request_exception = False
    assert_error(records(client, code, **params), field=field)


def test_unknown_kpi_is_404(world, manager):
    client = api_for(manager)
    for url in (f"{BASE}nope/", f"{BASE}nope/values/", f"{BASE}nope/records/"):
        assert client.get(url, RANGE).status_code == 404


# Drill-through: exactly the records behind one value

# (code, period_start, filters, side, refs by hand, whether the count equals the row's number)
DRILLS = [
    # created in Jan with a first response (T13 is Dec 31 23:59; T4, T6 never responded)
    ("first_response_hours", JAN, {}, "denominator", ["T1", "T2", "T5", "T7"], True),
    ("first_response_hours", JAN, {}, "numerator", ["T1", "T2", "T5", "T7"], False),
    ("repeat_ticket_rate", JAN, {}, "numerator", ["T5", "T7"], True),
    ("repeat_ticket_rate", JAN, {}, "denominator", ["T1", "T2", "T4", "T5", "T6", "T7"], True),
    ("repeat_ticket_rate", FEB, {}, "denominator", ["T10", "T11", "T14", "T3", "T8"], True),
    ("backlog", JAN, {}, "numerator", ["T13", "T2", "T4", "T6"], True),
    ("backlog", FEB, {}, "numerator", ["T13", "T14", "T4", "T6", "T8"], True),
    ("backlog", FEB, {"team": "(none)"}, "numerator", ["T8"], True),
    ("backlog", JAN, {"team": "Team A"}, "numerator", [], True),
    ("resolution_hours", JAN, {"product_model": "(none)"}, "denominator", ["T7"], True),
    ("sla_compliance", FEB, {}, "numerator", [], True),
    ("sla_compliance", FEB, {}, "denominator", ["T11", "T2"], True),
    ("follow_up_rate", JAN, {}, "numerator", ["T1", "T12", "T7"], True),
    ("auto_dispatch_rate", JAN, {"assignee": "(none)"}, "denominator", ["T2", "T5"], True),
    ("complaint_rate", FEB, {}, "numerator", ["T3", "T8"], True),
    ("complaint_rate", JAN, {}, "denominator", ["C1", "C2", "C3"], True),
    ("complaint_rate", FEB, {"region": "West"}, "denominator", ["C2", "C4"], True),
    ("preventive_coverage", FEB, {}, "numerator", ["T10", "T11"], False),  # one distinct customer
    ("csat", JAN, {"region": "West"}, "numerator", ["S6"], True),
    ("csat", JAN, {"region": "West"}, "denominator", ["S2", "S6"], True),
    ("csat", FEB, {"product_model": "(none)"}, "denominator", ["S3"], True),
    ("nps", JAN, {}, "numerator", ["S1", "S2", "S7"], False),  # promoters minus detractors
    ("nps", JAN, {}, "denominator", ["S1", "S2", "S7"], True),
    ("first_failure_rate", JAN, {}, "numerator", ["F1", "F5"], True),
    ("first_failure_rate", JAN, {}, "denominator", ["U1", "U2", "U3", "U7"], True),
    ("first_failure_rate", FEB, {"region": "(none)"}, "denominator", ["U3"], True),
    ("failures_per_1000", FEB, {"component": "P1"}, "numerator", ["F2", "F8", "F9"], True),
    ("failures_per_1000", FEB, {"component": "P1"}, "denominator", ["U1", "U2", "U3", "U4", "U7"], True),
    ("failures_per_1000", FEB, {"component": "(none)"}, "numerator", ["F3"], True),
    ("repeat_failure_rate", FEB, {}, "numerator", ["F3", "F9"], True),
    ("repeat_failure_rate", FEB, {}, "denominator", ["F2", "F3", "F8", "F9"], True),
    ("service_cost_per_ticket", JAN, {}, "numerator", ["F5", "F7"], False),  # a sum of costs
    ("service_cost_per_ticket", JAN, {}, "denominator", ["T1", "T12", "T5", "T7"], True),
    ("recall_rate", JAN, {}, "numerator", ["B2"], True),
    ("recall_rate", JAN, {}, "denominator", ["B2", "B5"], True),
    ("recall_completion_rate", FEB, {}, "numerator", ["U1", "U2", "U3"], True),
    ("recall_completion_rate", FEB, {}, "denominator", ["U1", "U2", "U3", "U3", "U7"], True),
    ("recall_completion_rate", FEB, {"recall": "RC1"}, "denominator", ["U1", "U2", "U3", "U7"], True),
    ("recall_completion_rate", FEB, {"recall": "RC1"}, "numerator", ["U1", "U2"], True),
]


@pytest.mark.parametrize(
    ("code", "period", "filters", "side", "refs", "counted"),
    DRILLS,
    ids=[f"{d[0]}-{d[1]}-{d[3]}-{'-'.join(f'{k}={v}' for k, v in d[2].items())}" for d in DRILLS],
)
def test_records_are_exactly_those_counted(world, manager, code, period, filters, side, refs, counted):
    client = api_for(manager)
    response = records(client, code, period_start=period, side=side, **filters)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["side"] == side
    assert body["count"] == len(body["results"]) == len(refs)
    assert sorted(r["ref"] for r in body["results"]) == sorted(refs)
    assert [r["id"] for r in body["results"]] == sorted(r["id"] for r in body["results"])
    if counted:
        by = tuple(filters)
        rows = values(client, code, by=",".join(by), **filters).json()["rows"]
        row = next((r for r in rows if r["period_start"] == period), None)
        number = (row or {}).get(side if kpi_lookup(code).denominator is not None else "value") or 0
        assert body["count"] == number


def test_records_default_side_and_links(world, manager):
    client = api_for(manager)
    body = records(client, "backlog", period_start=JAN).json()
    assert body["side"] == "numerator"
    assert body["model"] == "tickets.Ticket"
    ticket = next(r for r in body["results"] if r["ref"] == "T2")
    assert ticket["id"] == world.t2.pk
    assert ticket["url"] == f"/tickets/{world.t2.pk}/"
    assert {"id", "ref", "url"} <= set(body["fields"]) | {"url"}
    assert records(client, "csat", period_start=JAN).json()["side"] == "denominator"


def test_records_of_a_cut_period(world, manager):
    # The first week of a range starting 2026-01-01 covers [Jan 1, Jan 5): T1, not T13.
    client = api_for(manager)
    params = {"grain": "week", "period_start": "2025-12-29", "side": "denominator"}
    body = client.get(f"{BASE}first_response_hours/records/", {**params, "start": "2026-01-01"}).json()
    assert [r["ref"] for r in body["results"]] == ["T1"]
    body = client.get(f"{BASE}first_response_hours/records/", params).json()
    assert sorted(r["ref"] for r in body["results"]) == ["T1", "T13"]


def test_records_keep_a_constant_query_count(world, manager):
    for i in range(60):
        TicketFactory(
            external_id=f"X{i:03d}", customer=world.c1, team=world.team_b, type="inquiry",
            created_at=L(2026, 2, 3) + dt.timedelta(minutes=i),
        )  # fmt: skip
    client = api_for(manager)
    records(client, "backlog", period_start=FEB, page_size=1)  # warm the per-process caches (roles)
    counts = {}
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            response = records(client, "backlog", period_start=FEB, page_size=size)
        assert response.status_code == 200
        assert len(response.json()["results"]) == size
        assert response.json()["count"] == 65
        counts[size] = len(queries)
    assert counts[5] == counts[50]
    assert counts[5] <= 6


# Scope


def test_agent_sees_only_their_teams_tickets(world, agent):
    client = api_for(agent)
    # Team A's tickets and agent_a's: T1 (2 h), T5 (6 h), T7 (1 h) in Jan; T3 (3 h) in Feb.
    body = values(client, "first_response_hours").json()
    assert body["source"] == "live"
    assert_rows(body["rows"], [R(JAN, 3.0, 9.0, 3), R(FEB, 3.0, 3.0, 1)], extra_keys=("target", "status"))
    # Surveys reach their ticket: S1, S2 (T1), S7 (T5) in Jan; S3 has none, S4's is Team B's.
    body = values(client, "csat").json()
    assert_rows(body["rows"], [R(JAN, 100 / 3, 1, 3)], extra_keys=("target", "status"))
    # Costs of Team A's tickets: T7's failures in Jan, T3's in Feb.
    body = values(client, "service_cost_per_ticket").json()
    assert_rows(body["rows"], [R(JAN, 73.875, 295.5, 4), R(FEB, 200.0, 200.0, 1)], extra_keys=("target", "status"))
    body = records(client, "backlog", period_start=FEB).json()
    assert [r["ref"] for r in body["results"]] == ["T14"]
    body = records(client, "first_response_hours", period_start=JAN, side="denominator").json()
    assert sorted(r["ref"] for r in body["results"]) == ["T1", "T5", "T7"]


def test_supervisor_is_scoped_like_the_team(world, supervisor):
    body = values(api_for(supervisor), "backlog").json()
    # Team A's open tickets: none at Feb 1 (every one resolved), T14 at Mar 1.
    assert [(r["period_start"], r["value"]) for r in body["rows"]] == [(JAN, 0), (FEB, 1)]


@pytest.mark.parametrize("code", UNSCOPABLE)
def test_agent_gets_404_for_kpis_that_are_not_ticket_scopable(world, agent, code):
    client = api_for(agent)
    assert client.get(f"{BASE}{code}/").status_code == 404
    assert values(client, code).status_code == 404
    assert records(client, code, period_start=JAN).status_code == 404


def test_values_of_the_selector_match_the_api(world, manager):
    kpi = kpi_lookup("resolution_hours")
    body = values(api_for(manager), "resolution_hours", by="product_model").json()
    live = kpi_values(
        user=manager, kpi=kpi, grain="month", start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 1),
        by=("product_model",), live=True,
    )  # fmt: skip
    assert body["rows"] == live["rows"]


# Overview


def _cards(body) -> dict:
    return {card["code"]: card for category in body["categories"] for card in category["kpis"]}


def test_overview_shape(world, manager):
    response = api_for(manager).get(f"{BASE}overview/", RANGE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"grain", "start", "end", "categories"} <= set(body)
    assert [c["code"] for c in body["categories"]][:4] == [
        "customer_experience",
        "problem_tracing",
        "service_efficiency",
        "continuous_improvement",
    ]
    cards = _cards(body)
    assert set(CATALOGUE_CODES) <= set(cards)
    card = cards["first_response_hours"]
    # Feb 2.0 h against Jan 3.75 h; the default target is 2 h (down): met.
    assert card["period_start"] == FEB
    assert card["value"] == pytest.approx(2.0)
    assert card["previous"] == pytest.approx(3.75)
    assert card["change"] == pytest.approx(-1.75)
    assert (card["numerator"], card["denominator"]) == (4.0, 2)
    assert (card["target"], card["status"]) == (2, "met")
    assert card["sparkline"] == [{"period_start": JAN, "value": 3.75}, {"period_start": FEB, "value": 2.0}]
    # No Feb row: no value, no change, the sparkline has a gap.
    card = cards["failure_response_hours"]
    assert card["value"] is None and card["change"] is None
    assert card["previous"] == pytest.approx(14 / 3)
    assert card["sparkline"][1] == {"period_start": FEB, "value": None}
    card = cards["backlog"]
    assert (card["value"], card["previous"], card["change"]) == (5, 4, 1)


def test_overview_of_one_period_still_shows_the_change(world, manager):
    body = api_for(manager).get(f"{BASE}overview/", {"grain": "month", "start": FEB, "end": "2026-03-01"}).json()
    card = _cards(body)["csat"]
    assert (card["value"], card["previous"], card["change"]) == (100.0, 50.0, 50.0)
    assert card["sparkline"] == [{"period_start": FEB, "value": 100.0}]


def test_overview_filter_marks_kpis_that_cannot_take_it(world, manager):
    body = api_for(manager).get(f"{BASE}overview/", {**RANGE, "region": "West"}).json()
    cards = _cards(body)
    assert cards["recall_rate"]["applicable"] is False and cards["recall_rate"]["value"] is None
    assert cards["csat"]["applicable"] is True
    assert cards["csat"]["value"] is None  # no West survey in Feb
    assert cards["csat"]["previous"] == pytest.approx(50.0)  # S2 and S6 in Jan


def test_overview_for_an_agent_omits_unscopable_kpis(world, agent):
    cards = _cards(api_for(agent).get(f"{BASE}overview/", RANGE).json())
    assert not set(cards) & set(UNSCOPABLE)
    assert cards["first_response_hours"]["value"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    "params",
    [
        {"grain": "fortnight", "start": "2026-01-01", "end": "2026-03-01"},
        {"grain": "month", "start": "2026-01-01"},
        {"grain": "month", "start": "0001-01-01", "end": "0001-03-01"},
        {"grain": "month", "start": "2026-01-01", "end": "9999-12-31"},
        {"grain": "month", "start": "2026-01-01", "end": "2026-03-01", "colour": "red", "nope": "x"},
    ],
)
def test_bad_overview_requests_are_never_500(world, manager, params):
    client = api_for(manager)
    client.raise_request_exception = False
    response = client.get(f"{BASE}overview/", params)
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert_error(response)
    assert "colour" not in params or response.status_code == 200
