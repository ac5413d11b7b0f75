"""KPI targets: per KPI and per dimension member, with validity periods; the status of a
value (met / near / missed) in both directions; validation of new targets."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.exceptions import ApplicationError
from quality.kpi.registry import kpi_lookup
from quality.models import KpiTarget
from quality.selectors import kpi_status, kpi_target_for, kpi_values
from quality.services import kpi_target_set
from tests.conftest import api_for
from tests.quality import kpi_fixtures
from tests.quality.kpi_fixtures import END, FEB, JAN, START

# The shared fixtures (kpi_fixtures.py), under their own names for pytest.
kpi_settings = kpi_fixtures.kpi_settings
world = kpi_fixtures.world

D = dt.date


def rows(user, code, *, by=(), filters=None):
    body = kpi_values(user=user, kpi=kpi_lookup(code), grain="month", start=START, end=END, by=by, filters=filters)
    return body["rows"]


def marks(rows_, *dims):
    return [(r["period_start"], *(r[d] for d in dims), r["target"], r["status"]) for r in rows_]


# Status


@pytest.mark.parametrize(
    ("code", "value", "target", "status"),
    [
        # up (csat): near band = max(5 % of 90, 0.5) = 4.5
        ("csat", 95.0, 90, "met"),
        ("csat", 90.0, 90, "met"),
        ("csat", 86.0, 90, "near"),
        ("csat", 85.5, 90, "near"),
        ("csat", 85.4, 90, "missed"),
        ("csat", 50.0, 90, "missed"),
        # down (first_response_hours): band = max(5 % of 2, 0.5) = 0.5
        ("first_response_hours", 1.0, 2, "met"),
        ("first_response_hours", 2.0, 2, "met"),
        ("first_response_hours", 2.5, 2, "near"),
        ("first_response_hours", 2.6, 2, "missed"),
        # down, large target (complaint_rate 50 per 10k): band 2.5
        ("complaint_rate", 52.5, 50, "near"),
        ("complaint_rate", 52.6, 50, "missed"),
        ("complaint_rate", 0.0, 50, "met"),
        # nothing to judge
        ("csat", None, 90, None),
        ("backlog", 3, None, None),
    ],
)
def test_status_by_direction(kpi_settings, code, value, target, status):
    assert kpi_status(kpi_lookup(code), value, target) == status


def test_default_targets_apply_without_any_set(world, manager):
    # csat target 90 (up): Jan 50 missed, Feb 100 met.
    assert marks(rows(manager, "csat")) == [(JAN, 90, "missed"), (FEB, 90, "met")]
    # first_response_hours target 2 h (down): Jan 3.75 missed, Feb 2.0 met.
    assert marks(rows(manager, "first_response_hours")) == [(JAN, 2, "missed"), (FEB, 2, "met")]
    # backlog has no default target.
    assert marks(rows(manager, "backlog")) == [(JAN, None, None), (FEB, None, None)]


def test_kpi_target_with_a_validity_period(world, manager):
    # 3.5 h for January only: Jan 3.75 is 0.25 over, within the 0.5 band -> near.
    kpi_target_set(kpi_code="first_response_hours", value=3.5, valid_from=D(2026, 1, 1), valid_to=D(2026, 2, 1))
    assert marks(rows(manager, "first_response_hours")) == [(JAN, 3.5, "near"), (FEB, 2, "met")]
    # From February on 1.5 h: Feb 2.0 is 0.5 over -> near (the band is at least 0.5).
    kpi_target_set(kpi_code="first_response_hours", value=1.5, valid_from=D(2026, 2, 1))
    assert marks(rows(manager, "first_response_hours")) == [(JAN, 3.5, "near"), (FEB, 1.5, "near")]


def test_the_latest_valid_target_wins(world, manager):
    kpi_target_set(kpi_code="csat", value=40, valid_from=D(2025, 1, 1))
    kpi_target_set(kpi_code="csat", value=99, valid_from=D(2026, 2, 1))
    # Jan 50 >= 40 met; Feb 100 >= 99 met; Feb against 40 would be met too, so check the target.
    assert marks(rows(manager, "csat")) == [(JAN, 40, "met"), (FEB, 99, "met")]
    kpi_target_set(kpi_code="csat", value=52, valid_from=D(2026, 1, 1), valid_to=D(2026, 2, 1))
    assert marks(rows(manager, "csat")) == [(JAN, 52, "near"), (FEB, 99, "met")]


def test_member_targets_beat_the_kpi_target(world, manager):
    kpi_target_set(kpi_code="csat", value=60, valid_from=D(2026, 2, 1))
    kpi_target_set(
        kpi_code="csat", value=45, valid_from=D(2026, 1, 1), valid_to=D(2026, 2, 1), dimension="region", member="East"
    )
    # csat by region: Jan East 50 vs 45 met; Jan West 50 vs default 90 missed; Feb East 100
    # vs the KPI target 60 (the member target has expired) met.
    got = marks(rows(manager, "csat", by=("region",)), "region")
    assert got == [(JAN, "East", 45, "met"), (JAN, "West", 90, "missed"), (FEB, "East", 60, "met")]
    # A one-member filter uses that member's target as well.
    got = marks(rows(manager, "csat", filters={"region": "East"}))
    assert got == [(JAN, 45, "met"), (FEB, 60, "met")]
    # The total row has no member: the KPI target.
    assert marks(rows(manager, "csat")) == [(JAN, 90, "missed"), (FEB, 60, "met")]


def test_member_target_for_a_down_kpi(world, manager):
    # first_failure_rate by region: Jan (none) 100 %, East 100 %, West 0 %; the default
    # target is 2 % (down). West gets 0.5 %, East 99.6 % (100 is 0.4 over it: within the
    # band of 5 % x 99.6 = 4.98).
    kpi_target_set(
        kpi_code="first_failure_rate", value=0.5, valid_from=D(2026, 1, 1), dimension="region", member="West"
    )
    kpi_target_set(
        kpi_code="first_failure_rate", value=99.6, valid_from=D(2026, 1, 1), dimension="region", member="East"
    )
    got = marks(rows(manager, "first_failure_rate", by=("region",)), "region")
    assert got[:3] == [(JAN, "(none)", 2, "missed"), (JAN, "East", 99.6, "near"), (JAN, "West", 0.5, "met")]
    # Feb: East 50 % vs 99.6 met; West 50 % vs 0.5 missed.
    assert got[4:] == [(FEB, "East", 99.6, "met"), (FEB, "West", 0.5, "missed")]


def test_target_lookup_order(world):
    kpi = kpi_lookup("csat")
    kpi_target_set(kpi_code="csat", value=70, valid_from=D(2026, 1, 1))
    kpi_target_set(kpi_code="csat", value=80, valid_from=D(2026, 1, 1), dimension="segment", member="vip")
    assert kpi_target_for(kpi, period_start=D(2025, 12, 1)) == 90  # before any: the default
    assert kpi_target_for(kpi, period_start=D(2026, 1, 1)) == 70
    assert kpi_target_for(kpi, period_start=D(2026, 1, 1), dimension="segment", member="vip") == 80
    assert kpi_target_for(kpi, period_start=D(2026, 1, 1), dimension="segment", member="consumer") == 70


def test_overview_card_carries_the_target(world, manager):
    kpi_target_set(kpi_code="csat", value=100, valid_from=D(2026, 2, 1))
    body = api_for(manager).get(
        "/api/v1/kpis/overview/", {"grain": "month", "start": "2026-01-01", "end": "2026-03-01"}
    )
    card = next(c for cat in body.json()["categories"] for c in cat["kpis"] if c["code"] == "csat")
    assert (card["value"], card["target"], card["status"]) == (100.0, 100, "met")


def test_overview_reads_every_target_and_the_refresh_state_once(world, manager):
    # Issue 10's load test: the overview read them once per KPI (108 queries at 32 KPIs).
    kpi_target_set(kpi_code="csat", value=100, valid_from=D(2026, 2, 1))
    kpi_target_set(kpi_code="first_response_hours", value=1.5, valid_from=D(2026, 1, 1))
    with CaptureQueriesContext(connection) as queries:
        body = api_for(manager).get(
            "/api/v1/kpis/overview/", {"grain": "month", "start": "2026-01-01", "end": "2026-03-01"}
        )
    cards = {c["code"]: c for cat in body.json()["categories"] for c in cat["kpis"]}
    assert (cards["csat"]["value"], cards["csat"]["target"], cards["csat"]["status"]) == (100.0, 100, "met")
    # Feb 2.0 h against 1.5 h (down): 0.5 h over, within the band max(5 % of 1.5, 0.5) = 0.5.
    card = cards["first_response_hours"]
    assert (card["value"], card["target"], card["status"]) == (2.0, 1.5, "near")
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if 'FROM "quality_kpitarget"' in q]) == 1
    assert len([q for q in sql if 'FROM "quality_kpirefreshstate"' in q]) <= 1


def test_target_records_its_author(world, manager):
    target = kpi_target_set(kpi_code="csat", value=91, valid_from=D(2026, 1, 1), user=manager)
    assert target.created_by == manager
    assert KpiTarget.objects.get(pk=target.pk).value == 91


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kpi_code": "no_such_kpi"}, "kpi"),
        ({"dimension": "component", "member": "P1"}, "dimension"),
        ({"dimension": "colour", "member": "red"}, "dimension"),
        ({"dimension": "region"}, "member"),
        ({"member": "East"}, "member"),
        ({"valid_to": D(2026, 1, 1)}, "valid_to"),
        ({"valid_to": D(2025, 12, 31)}, "valid_to"),
    ],
)
def test_invalid_targets_are_refused_with_field_errors(kpi_settings, db, kwargs, field):
    args = {"kpi_code": "csat", "value": 80, "valid_from": D(2026, 1, 1), **kwargs}
    with pytest.raises(ApplicationError) as caught:
        kpi_target_set(**args)
    assert field in caught.value.errors
    assert caught.value.errors[field] and caught.value.errors[field][0]
    assert caught.value.message
    assert not KpiTarget.objects.exists()
