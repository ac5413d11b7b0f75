"""Stored KPI snapshots (compute_kpis): the values endpoint answers from them with the
rows the live engine gives, a rerun changes nothing, an incremental run picks up a
new record, and requests the snapshot cannot answer exactly fall back to live."""

import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import call_command

from quality.kpi.registry import kpi_lookup
from quality.models import KpiSnapshot
from quality.selectors import kpi_values
from tests.conftest import api_for
from tests.factories import SurveyFactory, TicketFactory
from tests.quality import kpi_fixtures
from tests.quality.kpi_fixtures import EXPECTED, FEB, JAN, C, L, R, assert_rows

# The shared fixtures (kpi_fixtures.py), under their own names for pytest.
kpi_settings = kpi_fixtures.kpi_settings
world = kpi_fixtures.world

NOW = L(2026, 6, 15, 12)
RANGE = {"grain": "month", "start": "2026-01-01", "end": "2026-03-01"}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def compute_kpis(*args) -> dict:
    out = io.StringIO()
    call_command("compute_kpis", *args, stdout=out)
    return json.loads(out.getvalue())


def api_values(client, code, **params):
    response = client.get(f"/api/v1/kpis/{code}/values/", {**RANGE, **params})
    assert response.status_code == 200, response.content
    return response.json()


def live_rows(user, code, *, grain="month", start="2026-01-01", end="2026-03-01", by=(), filters=None):
    body = kpi_values(
        user=user,
        kpi=kpi_lookup(code),
        grain=grain,
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
        by=by,
        filters=filters,
        live=True,
    )
    assert body["source"] == "live"
    return body["rows"]


def stored() -> list[tuple]:
    return list(
        KpiSnapshot.objects.order_by("kpi", "grain", "dimension", "period_start", "member").values_list(
            "kpi", "grain", "dimension", "period_start", "member", "numerator", "denominator", "value", "provisional"
        )
    )


SNAPSHOT_CASES = [
    ("csat", ()),
    ("csat", ("region",)),
    ("nps", ("region",)),
    ("complaint_rate", ("region",)),
    ("first_failure_rate", ("region",)),
    ("failures_per_1000", ("component",)),
    ("failures_per_1000", ("product_model",)),
    ("repeat_failure_rate", ("component",)),
    ("resolution_hours", ("product_model",)),
    ("backlog", ("team",)),
    ("backlog", ()),
    ("service_cost_per_ticket", ("team",)),
    ("recall_completion_rate", ("recall",)),
    ("recall_completion_rate", ("region",)),
    ("preventive_coverage", ("segment",)),
]


@pytest.mark.parametrize(
    ("code", "by"), SNAPSHOT_CASES, ids=[f"{c}-{'-'.join(b) or 'total'}" for c, b in SNAPSHOT_CASES]
)
def test_full_refresh_serves_the_live_rows(frozen, world, manager, code, by):
    result = compute_kpis("--full")
    assert result["mode"] == "full" and result["rows"] > 0
    body = api_values(api_for(manager), code, by=",".join(by))
    assert body["source"] == "snapshot"
    # Identical, number types included (a sum over nothing is 0.0 in both, not 0 in one).
    assert json.dumps(body["rows"]) == json.dumps(live_rows(manager, code, by=by))
    assert_rows(body["rows"], EXPECTED[(code, by)], extra_keys=("target", "status"))


def test_snapshot_serves_a_single_member_filter(frozen, world, manager):
    compute_kpis("--full")
    body = api_values(api_for(manager), "first_failure_rate", region="(none)")
    assert body["source"] == "snapshot"
    assert body["rows"] == live_rows(manager, "first_failure_rate", filters={"region": "(none)"})
    assert_rows(body["rows"], [R(JAN, 100.0, 1, 1), R(FEB, 0.0, 0, 1)], extra_keys=("target", "status"))


def test_snapshot_serves_aligned_weeks_and_totals(frozen, world, manager):
    compute_kpis("--full")
    client = api_for(manager)
    params = {"grain": "week", "start": "2025-12-29", "end": "2026-01-12"}
    body = api_values(client, "first_response_hours", **params)
    assert body["source"] == "snapshot"
    assert body["rows"] == live_rows(manager, "first_response_hours", **params)
    assert_rows(
        body["rows"], [R("2025-12-29", 3.0, 6.0, 2), R("2026-01-05", 6.0, 6.0, 1)], extra_keys=("target", "status")
    )


def test_a_second_full_run_leaves_identical_rows(frozen, world):
    compute_kpis("--full")
    first = stored()
    assert first
    compute_kpis("--full")
    assert stored() == first
    compute_kpis()  # nothing changed since: an incremental run changes nothing either
    assert stored() == first


def test_incremental_refresh_updates_the_touched_period(frozen, world, manager):
    compute_kpis("--full")
    client = api_for(manager)
    # A West survey on Feb 20 with CSAT 1: Feb becomes 1 of 2 (S3 4, this 1).
    SurveyFactory(customer=world.c2, ticket=None, responded_at=L(2026, 2, 20), csat=1, nps=None)
    # A complaint of C2 on Feb 26, still open: 3 complaints of 4 customers; backlog 6.
    TicketFactory(external_id="T15", customer=world.c2, type="complaint", team=world.team_b, created_at=L(2026, 2, 26))
    result = compute_kpis()
    assert result["mode"] == "incremental"
    assert result["from"] <= "2026-02-20"
    body = api_values(client, "csat")
    assert body["source"] == "snapshot"
    assert_rows(body["rows"], [R(JAN, 50.0, 2, 4), R(FEB, 50.0, 1, 2)], extra_keys=("target", "status"))
    body = api_values(client, "csat", by="region")
    assert body["source"] == "snapshot"
    assert body["rows"] == live_rows(manager, "csat", by=("region",))
    assert body["rows"][-1]["region"] == "West" and body["rows"][-1]["denominator"] == 1
    body = api_values(client, "complaint_rate")
    assert_rows(body["rows"], [R(JAN, 0.0, 0, 3), R(FEB, 7500.0, 3, 4)], extra_keys=("target", "status"))
    body = api_values(client, "backlog")
    assert body["source"] == "snapshot"
    assert_rows(body["rows"], [C(JAN, 4), C(FEB, 6)], extra_keys=("target", "status"))


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"start": "2026-01-15"}, "start not on a month boundary"),
        ({"end": "2026-02-20"}, "end not on a month boundary"),
        ({"by": "region,segment"}, "two dimensions"),
        ({"by": "region", "segment": "consumer"}, "a dimension and a filter"),
        (
            {"grain": "week", "start": "2025-12-29", "end": "2026-01-12", "by": "region"},
            "weeks are not kept per member",
        ),
        ({"start": "2025-01-01"}, "before the covered range"),
    ],
)
def test_requests_the_snapshot_cannot_answer_fall_back_to_live(frozen, world, manager, params, why):
    compute_kpis("--full")
    body = api_values(api_for(manager), "csat", **params)
    assert body["source"] == "live", why
    by = tuple(d for d in params.get("by", "").split(",") if d)
    filters = {k: v for k, v in params.items() if k in ("segment",)}
    span = {k: params.get(k, RANGE[k]) for k in ("grain", "start", "end")}
    assert body["rows"] == live_rows(manager, "csat", by=by, filters=filters, **span)


def test_cut_range_falls_back_to_live_with_hand_values(frozen, world, manager):
    compute_kpis("--full")
    # [Jan 15, Mar 1): S1 (Jan 1) and S2 (Jan 10) are cut off; S6 (4) and S7 (2) remain.
    body = api_values(api_for(manager), "csat", start="2026-01-15")
    assert body["source"] == "live"
    assert_rows(body["rows"], [R(JAN, 50.0, 1, 2), R(FEB, 100.0, 1, 1)], extra_keys=("target", "status"))


def test_scoped_users_never_read_snapshots(frozen, world, agent):
    compute_kpis("--full")
    body = api_values(api_for(agent), "first_response_hours")
    assert body["source"] == "live"
    assert_rows(body["rows"], [R(JAN, 3.0, 9.0, 3), R(FEB, 3.0, 3.0, 1)], extra_keys=("target", "status"))


def test_without_snapshots_the_answer_is_live(frozen, world, manager):
    body = api_values(api_for(manager), "csat")
    assert body["source"] == "live"
    assert_rows(body["rows"], EXPECTED[("csat", ())], extra_keys=("target", "status"))
