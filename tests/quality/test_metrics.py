"""Self-service metrics (自助指标): validation when saved, values against hand-computed
numbers, and the metric behaving like a catalogue KPI (API, command, targets, pages).

The small world: range [2026-01-01, 2026-03-01) in Asia/Shanghai, month grain.
Every expected number is worked out by hand in the comments next to it."""

import datetime as dt
import io
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

from catalog.exceptions import ApplicationError
from quality import services
from quality.kpi.engine import kpi_compute
from quality.kpi.registry import kpi_lookup, kpi_registry
from quality.metrics import metric_kpi
from quality.models import KpiSnapshot, MetricDefinition
from quality.selectors import kpi_values
from tests.conftest import api_for
from tests.factories import FailureFactory, SurveyFactory, TicketFactory, UnitFactory, UserFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
START = dt.date(2026, 1, 1)
END = dt.date(2026, 3, 1)


def L(y, m, d, h=0, mi=0) -> dt.datetime:  # noqa: N802 - local (Shanghai) time
    return dt.datetime(y, m, d, h, mi, tzinfo=SH)


@pytest.fixture(autouse=True)
def _zone(settings):
    settings.KPI_TIME_ZONE = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def _metric_pages(settings):
    """The pages are mounted at /dashboards/metrics/ by the project's urls; until then,
    a test urlconf adds them."""
    try:
        reverse("metrics:list")
    except NoReverseMatch:
        settings.ROOT_URLCONF = "tests.quality.metric_urlconf"


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


def ticket(name, *, created, **kw):
    return TicketFactory(external_id=name, subject=name, created_at=created, **kw)


# The definitions (API bodies)

RATIO = {
    "code": "repair_ftf",
    "name_en": "Repair first-time fix",
    "name_zh": "维修一次修复率",
    "record_set": "tickets",
    "kind": "ratio",
    "time_field": "resolved_at",
    "base_filters": [{"field": "type", "op": "eq", "value": "repair"}],
    "numerator_filters": [
        {"field": "visits", "op": "lte", "value": 1},
        {"field": "reopened_count", "op": "eq", "value": "0"},
    ],
    "scale": 100,
    "direction": "up",
    "target": 60,
}
MEAN_LABOUR = {
    "code": "supplier_labour",
    "name_en": "Labour per supplier failure",
    "record_set": "failures",
    "kind": "mean",
    "time_field": "occurred_at",
    "mean_field": "labor_hours",
    "base_filters": [{"field": "root_cause_category", "op": "eq", "value": "supplier"}],
    "direction": "down",
}
MEAN_RESPONSE = {
    "code": "urgent_inquiry_response",
    "name_en": "High-priority inquiry response",
    "record_set": "tickets",
    "kind": "mean",
    "time_field": "created_at",
    "mean_field": "first_response_at",
    "mean_start_field": "created_at",
    "base_filters": [{"field": "type", "op": "eq", "value": "inquiry"}],
    "numerator_filters": [{"field": "priority", "op": "in", "value": ["high", "urgent"]}],
    "scale": 60,
    "direction": "down",
}
COUNT = {
    "code": "low_csat",
    "name_en": "Unhappy surveys",
    "record_set": "surveys",
    "kind": "count",
    "time_field": "responded_at",
    "numerator_filters": [{"field": "csat", "op": "lte", "value": 2}],
    "direction": "down",
}


def define(body, user=None) -> MetricDefinition:
    return services.metric_definition_save(create=True, user=user, **body)


@pytest.fixture
def world(team_a):
    """Tickets for the ratio (repair, resolved in P) and the duration mean (inquiries,
    created in P), failures for the numeric mean, surveys for the count."""
    # Ratio: repair tickets resolved in P; numerator visits <= 1 and never reopened.
    ticket("T1", created=L(2026, 1, 2), resolved_at=L(2026, 1, 10), type="repair", channel="phone", visits=1)
    ticket("T2", created=L(2026, 1, 2), resolved_at=L(2026, 1, 20), type="repair", channel="web", visits=2)
    ticket("T3", created=L(2026, 1, 2), resolved_at=L(2026, 1, 15), type="complaint", visits=1)  # not repair
    # Exactly on February's start (local): February; reopened once: not in the numerator.
    ticket("T4", created=L(2026, 1, 2), resolved_at=L(2026, 2, 1), type="repair", visits=1, reopened_count=1)
    ticket("T5", created=L(2026, 1, 2), resolved_at=L(2026, 2, 10), type="repair", visits=0)
    # 2026-01-31T16:30Z is 2026-02-01 00:30 in Shanghai: February.
    ticket(
        "T6",
        created=L(2026, 1, 2),
        resolved_at=dt.datetime(2026, 1, 31, 16, 30, tzinfo=dt.UTC),
        type="repair",
        visits=1,
    )
    ticket("T7", created=L(2026, 1, 2), type="repair", visits=1)  # not resolved
    ticket("T8", created=L(2026, 1, 2), resolved_at=L(2026, 3, 1), type="repair", visits=1)  # on the range end
    # Duration mean: inquiries created in P with a high/urgent priority and a first response.
    ticket("R1", created=L(2026, 1, 3, 8), first_response_at=L(2026, 1, 3, 10, 30), type="inquiry", priority="high")
    ticket("R2", created=L(2026, 1, 4, 8), first_response_at=L(2026, 1, 4, 9), type="inquiry", priority="urgent")
    ticket("R3", created=L(2026, 1, 5, 8), first_response_at=L(2026, 1, 5, 13), type="inquiry", priority="normal")
    ticket("R4", created=L(2026, 1, 6, 8), type="inquiry", priority="high")  # no first response
    ticket("R5", created=L(2026, 2, 6, 8), first_response_at=L(2026, 2, 6, 8, 45), type="inquiry", priority="high")
    # Numeric mean: supplier failures by occurred_at.
    unit = UnitFactory(serial="U1")
    for name, at, cause, hours in [
        ("F1", L(2026, 1, 5), "supplier", "1.50"),
        ("F2", L(2026, 1, 6), "supplier", "2.25"),
        ("F3", L(2026, 1, 7), "design", "10"),
        ("F4", L(2026, 2, 3), "supplier", "4"),
        ("F5", L(2026, 3, 1), "supplier", "8"),  # on the range end
    ]:
        FailureFactory(
            external_id=name, unit=unit, occurred_at=at, root_cause_category=cause, labor_hours=Decimal(hours)
        )
    # Count: surveys with csat <= 2.
    SurveyFactory(external_id="S1", responded_at=L(2026, 1, 10), csat=1)
    SurveyFactory(external_id="S2", responded_at=L(2026, 1, 11), csat=5)
    SurveyFactory(external_id="S3", responded_at=L(2026, 2, 2), csat=2, nps=3)
    SurveyFactory(external_id="S4", responded_at=L(2026, 2, 3), csat=None, nps=9)  # no csat: not <= 2


def values(code, **kwargs):
    return kpi_compute(kpi=kpi_lookup(code), grain="month", start=START, end=END, **kwargs)


def by_period(rows):
    return {row["period_start"]: row for row in rows}


# --- values -----------------------------------------------------------------------------------


def test_ratio_metric_against_hand_computed_values(world):
    define(RATIO)
    rows = by_period(values("repair_ftf"))
    # January: T1 (num), T2 (den only: 2 visits) -> 1/2. February: T4 (reopened), T5, T6 -> 2/3.
    assert rows["2026-01-01"]["numerator"] == 1
    assert rows["2026-01-01"]["denominator"] == 2
    assert rows["2026-01-01"]["value"] == pytest.approx(50.0)
    assert rows["2026-02-01"]["numerator"] == 2
    assert rows["2026-02-01"]["denominator"] == 3
    assert rows["2026-02-01"]["value"] == pytest.approx(200 / 3)
    assert set(rows) == {"2026-01-01", "2026-02-01"}  # T8 resolved on the range end: outside


def test_ratio_metric_by_a_dimension_of_its_record_set(world):
    define(RATIO)
    january = [r for r in values("repair_ftf", by=("channel",)) if r["period_start"] == "2026-01-01"]
    # T1 phone 1/1; T2 web 0/1 (T3 is a complaint).
    assert {r["channel"]: (r["numerator"], r["denominator"], r["value"]) for r in january} == {
        "phone": (1, 1, 100.0),
        "web": (0, 1, 0.0),
    }


def test_numeric_mean_metric_against_hand_computed_values(world):
    define(MEAN_LABOUR)
    rows = by_period(values("supplier_labour"))
    # January: F1 1.50 + F2 2.25 = 3.75 over 2 -> 1.875 (F3 is a design failure).
    assert rows["2026-01-01"]["numerator"] == pytest.approx(3.75)
    assert rows["2026-01-01"]["denominator"] == 2
    assert rows["2026-01-01"]["value"] == pytest.approx(1.875)
    # February: F4 4 over 1; F5 occurred on the range end.
    assert rows["2026-02-01"]["value"] == pytest.approx(4.0)
    assert rows["2026-02-01"]["denominator"] == 1


def test_duration_mean_metric_in_minutes(world):
    define(MEAN_RESPONSE)
    rows = by_period(values("urgent_inquiry_response"))
    # January: R1 2.5 h + R2 1 h = 3.5 h over 2 -> 1.75 h = 105 min (R3 normal, R4 unanswered).
    assert rows["2026-01-01"]["value"] == pytest.approx(105.0)
    assert rows["2026-01-01"]["numerator"] == pytest.approx(210.0)
    assert rows["2026-01-01"]["denominator"] == 2
    assert rows["2026-02-01"]["value"] == pytest.approx(45.0)  # R5: 45 min
    assert kpi_lookup("urgent_inquiry_response").unit == "min"


def test_count_metric(world):
    define(COUNT)
    rows = by_period(values("low_csat"))
    assert rows["2026-01-01"] == {**rows["2026-01-01"], "value": 1, "numerator": 1, "denominator": None}
    assert rows["2026-02-01"]["value"] == 1  # S3; S4 has no csat


# --- validation -------------------------------------------------------------------------------


def _with(body, **changes):
    return {**body, **changes}


BAD = [
    pytest.param(
        _with(RATIO, numerator_filters=[{"field": "password", "op": "eq", "value": "x"}]),
        "numerator_filters",
        "password",
        id="unknown-filter-field",
    ),
    pytest.param(
        _with(RATIO, base_filters=[{"field": "customer__region__name", "op": "eq", "value": "East"}]),
        "base_filters",
        "customer__region__name",
        id="orm-path-is-not-a-field",
    ),
    pytest.param(
        _with(RATIO, base_filters=[{"field": "type", "op": "lt", "value": "repair"}]),
        "base_filters",
        "lt",
        id="operator-not-for-a-choice",
    ),
    pytest.param(
        _with(RATIO, base_filters=[{"field": "resolved_at", "op": "eq", "value": "2026-01-01"}]),
        "base_filters",
        "eq",
        id="operator-not-for-a-time",
    ),
    pytest.param(
        _with(RATIO, numerator_filters=[{"field": "visits", "op": "lte", "value": "one"}]),
        "numerator_filters",
        "one",
        id="not-a-number",
    ),
    pytest.param(
        _with(RATIO, numerator_filters=[{"field": "visits", "op": "lte", "value": 1.5}]),
        "numerator_filters",
        "1.5",
        id="not-a-whole-number",
    ),
    pytest.param(
        _with(RATIO, base_filters=[{"field": "type", "op": "eq", "value": "teleport"}]),
        "base_filters",
        "teleport",
        id="not-a-choice",
    ),
    pytest.param(
        _with(RATIO, base_filters=[{"field": "resolved_at", "op": "gte", "value": "yesterday"}]),
        "base_filters",
        "yesterday",
        id="not-a-time",
    ),
    pytest.param(
        _with(RATIO, base_filters=[{"field": "closed_at", "op": "isnull", "value": "maybe"}]),
        "base_filters",
        "maybe",
        id="not-a-boolean",
    ),
    pytest.param(_with(RATIO, code="csat"), "code", "csat", id="catalogue-code"),
    pytest.param(_with(RATIO, code="overview"), "code", "overview", id="reserved-code"),
    pytest.param(_with(RATIO, code="Bad Code"), "code", "", id="not-a-slug"),
    pytest.param(_with(RATIO, time_field="visits"), "time_field", "visits", id="time-field-not-a-time"),
    pytest.param(_with(RATIO, time_field="nope"), "time_field", "nope", id="unknown-time-field"),
    pytest.param(_with(MEAN_LABOUR, mean_field="failure_mode"), "mean_field", "failure_mode", id="mean-of-text"),
    pytest.param(_with(MEAN_LABOUR, mean_field=""), "mean_field", "", id="mean-without-field"),
    pytest.param(
        _with(MEAN_RESPONSE, mean_start_field="visits"), "mean_start_field", "visits", id="duration-of-a-number"
    ),
    pytest.param(_with(COUNT, scale=100), "scale", "", id="scaled-count"),
]


@pytest.mark.parametrize(("body", "field", "named"), BAD)
def test_refused_definitions_are_400_naming_the_field_and_write_nothing(engineer, body, field, named):
    response = api_for(engineer).post("/api/v1/metrics/", body, format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors
    assert named in " ".join(errors[field])
    assert response.json()["detail"]
    assert MetricDefinition.objects.count() == 0


def test_every_reason_is_reported_at_once(engineer):
    body = _with(
        RATIO,
        time_field="nope",
        numerator_filters=[{"field": "visits", "op": "lte", "value": "x"}, {"field": "foo", "op": "eq", "value": 1}],
    )
    errors = api_for(engineer).post("/api/v1/metrics/", body, format="json").json()["errors"]
    assert set(errors) == {"time_field", "numerator_filters"}
    first, second = errors["numerator_filters"]
    assert first.startswith("Filter 1 (visits)")
    assert second.startswith("Filter 2: unknown field “foo”")


def test_a_taken_code_is_refused(engineer):
    define(RATIO)
    response = api_for(engineer).post("/api/v1/metrics/", RATIO, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["errors"]
    assert MetricDefinition.objects.count() == 1


def test_values_are_stored_in_their_type(engineer):
    body = _with(
        RATIO,
        base_filters=[
            {"field": "channel", "op": "in", "value": "phone, web"},
            {"field": "resolved_at", "op": "gte", "value": "2026-01-01"},
            {"field": "closed_at", "op": "isnull", "value": "false"},
        ],
    )
    definition = define(body)
    assert definition.base_filters == [
        {"field": "channel", "op": "in", "value": ["phone", "web"]},
        {"field": "resolved_at", "op": "gte", "value": "2026-01-01T00:00:00+08:00"},
        {"field": "closed_at", "op": "isnull", "value": False},
    ]
    assert definition.numerator_filters[1] == {"field": "reopened_count", "op": "eq", "value": 0}


def test_a_stored_definition_that_no_longer_validates_is_skipped(world):
    define(RATIO)
    MetricDefinition.objects.filter(code="repair_ftf").update(base_filters=[{"field": "gone", "op": "eq", "value": 1}])
    assert "repair_ftf" not in kpi_registry()
    assert kpi_lookup("csat") is not None


# --- behaves like a catalogue KPI ------------------------------------------------------------


def test_the_metric_is_in_the_catalogue_and_its_endpoints_work(world, engineer):
    client = api_for(engineer)
    response = client.post("/api/v1/metrics/", RATIO, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 1
    assert response.json()["custom"] is True

    entry = next(k for k in client.get("/api/v1/kpis/").json() if k["code"] == "repair_ftf")
    assert entry["custom"] is True
    assert entry["category"] == "custom"
    assert entry["name_zh"] == "维修一次修复率"
    assert "channel" in entry["dims"]
    assert "resolved_at" in entry["definition_en"]
    assert client.get("/api/v1/kpis/repair_ftf/").status_code == 200

    body = client.get("/api/v1/kpis/repair_ftf/values/?grain=month&start=2026-01-01&end=2026-03-01").json()
    assert [(r["period_start"], r["numerator"], r["denominator"]) for r in body["rows"]] == [
        ("2026-01-01", 1, 2),
        ("2026-02-01", 2, 3),
    ]
    assert body["rows"][0]["target"] == 60
    assert body["rows"][0]["status"] == "missed"  # 50 against 60, up

    url = "/api/v1/kpis/repair_ftf/records/?grain=month&period_start=2026-01-01"
    assert [r["ref"] for r in client.get(url + "&side=numerator").json()["results"]] == ["T1"]
    assert sorted(r["ref"] for r in client.get(url).json()["results"]) == ["T1", "T2"]

    overview = client.get("/api/v1/kpis/overview/?grain=month&start=2026-01-01&end=2026-03-01").json()
    custom = next(c for c in overview["categories"] if c["code"] == "custom")
    card = next(k for k in custom["kpis"] if k["code"] == "repair_ftf")
    assert card["value"] == pytest.approx(200 / 3)


def test_unsupported_dimension_is_a_clear_400(world, engineer):
    define(MEAN_LABOUR)
    response = api_for(engineer).get(
        "/api/v1/kpis/supplier_labour/values/?grain=month&start=2026-01-01&end=2026-03-01&by=channel"
    )
    assert response.status_code == 400
    assert "by" in response.json()["errors"]


def test_the_kpi_command_works_with_the_code(world):
    define(MEAN_LABOUR)
    out = io.StringIO()
    call_command(
        "kpi",
        "supplier_labour",
        "--grain",
        "month",
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-01",
        "--json",
        stdout=out,
    )
    body = json.loads(out.getvalue())
    assert body["kpi"] == "supplier_labour"
    assert [round(r["value"], 6) for r in body["rows"]] == [1.875, 4.0]


def test_targets_apply_to_a_metric(world):
    define(RATIO)
    services.kpi_target_set(kpi_code="repair_ftf", value=40, valid_from=dt.date(2026, 1, 1))
    services.kpi_target_set(
        kpi_code="repair_ftf", value=90, valid_from=dt.date(2026, 1, 1), dimension="channel", member="phone"
    )
    body = kpi_values(user=None, kpi=kpi_lookup("repair_ftf"), grain="month", start=START, end=END)
    assert body["rows"][0]["target"] == 40
    assert body["rows"][0]["status"] == "met"
    by_channel = kpi_values(
        user=None, kpi=kpi_lookup("repair_ftf"), grain="month", start=START, end=END, by=["channel"]
    )
    phone = next(r for r in by_channel["rows"] if r["channel"] == "phone")
    assert phone["target"] == 90
    with pytest.raises(ApplicationError):
        services.kpi_target_set(kpi_code="repair_ftf", value=1, valid_from=START, dimension="component", member="x")


def test_snapshot_refresh_stores_the_metric_with_its_version(world):
    define(RATIO)
    services.kpi_snapshots_refresh(full=True)
    stored = KpiSnapshot.objects.filter(kpi="repair_ftf", grain="month", dimension="", period_start=START).get()
    assert (stored.numerator, stored.denominator, stored.definition_version) == (1, 2, 1)


def test_agents_see_ticket_metrics_in_scope_but_not_unit_metrics(world, agent):
    define(RATIO)
    define(
        {
            "code": "warranty_units",
            "name_en": "Units sold",
            "record_set": "units",
            "kind": "count",
            "time_field": "sold_on",
            "direction": "up",
        }
    )
    codes = {k["code"] for k in api_for(agent).get("/api/v1/kpis/").json()}
    assert "repair_ftf" in codes
    assert "warranty_units" not in codes
    assert api_for(agent).get("/api/v1/kpis/warranty_units/").status_code == 404


# --- editing ----------------------------------------------------------------------------------


def test_editing_bumps_the_version(world, engineer):
    client = api_for(engineer)
    client.post("/api/v1/metrics/", RATIO, format="json")
    response = client.patch("/api/v1/metrics/repair_ftf/", {"target": 70}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["version"], response.json()["target"]) == (2, 70)
    # A PATCH that changes nothing keeps the version.
    assert client.patch("/api/v1/metrics/repair_ftf/", {"target": 70}, format="json").json()["version"] == 2

    put = _with(RATIO, numerator_filters=[{"field": "visits", "op": "lte", "value": 1}], code="ignored")
    response = client.put("/api/v1/metrics/repair_ftf/", put, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 3
    assert response.json()["code"] == "repair_ftf"
    kpi = kpi_lookup("repair_ftf")
    assert kpi.version == 3
    # February now counts T4 (reopened, 1 visit) too: 3/3.
    assert by_period(values("repair_ftf"))["2026-02-01"]["value"] == pytest.approx(100.0)

    bad = client.patch("/api/v1/metrics/repair_ftf/", {"time_field": "visits"}, format="json")
    assert bad.status_code == 400
    assert "time_field" in bad.json()["errors"]
    assert MetricDefinition.objects.get().version == 3


def test_retiring_takes_the_metric_out_of_the_catalogue(world, engineer):
    client = api_for(engineer)
    client.post("/api/v1/metrics/", RATIO, format="json")
    assert client.delete("/api/v1/metrics/repair_ftf/").status_code == 204
    assert "repair_ftf" not in {k["code"] for k in client.get("/api/v1/kpis/").json()}
    assert client.get("/api/v1/kpis/repair_ftf/").status_code == 404
    assert client.get("/api/v1/metrics/repair_ftf/").json()["active"] is False
    assert client.get("/api/v1/metrics/?active=false").json()["count"] == 1
    # Saving it active again brings it back.
    assert client.patch("/api/v1/metrics/repair_ftf/", {"active": True}, format="json").json()["version"] == 3
    assert client.get("/api/v1/kpis/repair_ftf/").status_code == 200


def test_everyone_reads_only_writers_write(agent, engineer, manager):
    define(RATIO)
    assert api_for(agent).get("/api/v1/metrics/").json()["count"] == 1
    assert api_for(agent).get("/api/v1/metrics/fields/").json()["tickets"]["fields"]["visits"]["type"] == "int"
    assert api_for(agent).post("/api/v1/metrics/", _with(RATIO, code="x_rate"), format="json").status_code == 403
    assert api_for(agent).patch("/api/v1/metrics/repair_ftf/", {"target": 1}, format="json").status_code == 403
    assert api_for(agent).delete("/api/v1/metrics/repair_ftf/").status_code == 403
    assert api_for(manager).post("/api/v1/metrics/", _with(RATIO, code="m_rate"), format="json").status_code == 201
    assert Client().get("/api/v1/metrics/").status_code in (401, 403)
    assert api_for(engineer).get("/api/v1/metrics/nope/").status_code == 404


def test_metric_kpi_scale_and_definition_text():
    definition = MetricDefinition(**{k: v for k, v in RATIO.items()}, unit="%")
    kpi = metric_kpi(definition)
    assert (kpi.scale, kpi.kind, kpi.custom, kpi.category) == (100, "ratio", True, "custom")
    assert "100 × count(visits ≤ 1 and reopened_count = 0) / count" in kpi.definition_en
    assert "type = repair" in kpi.definition_zh


# --- pages ------------------------------------------------------------------------------------


def client_for(user, language="en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


FORM = {
    "code": "repair_ftf",
    "name_en": "Repair first-time fix",
    "name_zh": "维修一次修复率",
    "record_set": "tickets",
    "kind": "ratio",
    "time_field": "resolved_at",
    "base_filters": "type eq repair",
    "numerator_filters": "visits <= 1\nreopened_count eq 0",
    "unit": "",
    "direction": "up",
    "target": "60",
    "scale": "100",
    "active": "on",
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_form_renders(engineer, language):
    response = client_for(engineer, language).get(reverse("metrics:create"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="numerator_filters"' in body
    assert 'id="metric-tickets-time"' in body
    assert f'lang="{language}"' in body or language == "en"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"base_filters": "type lt repair"}, "base_filters"),
        ({"numerator_filters": "visits"}, "numerator_filters"),  # no operator
        ({"numerator_filters": "visits lte many"}, "numerator_filters"),
        ({"time_field": "nope"}, "time_field"),
        ({"code": "csat"}, "code"),
        ({"target": "high"}, "target"),
    ],
)
def test_form_rejects_bad_input_with_field_errors(engineer, changes, field):
    response = client_for(engineer).post(reverse("metrics:create"), {**FORM, **changes})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    body = response.content.decode()
    assert "is-invalid" in body
    assert "invalid-feedback" in body
    assert MetricDefinition.objects.count() == 0


def test_form_saves_and_shows_the_preview(world, engineer):
    client = client_for(engineer)
    response = client.post(reverse("metrics:create"), FORM)
    assert response.status_code == 302
    assert response["Location"] == reverse("metrics:edit", args=["repair_ftf"])
    definition = MetricDefinition.objects.get()
    assert definition.numerator_filters == [
        {"field": "visits", "op": "lte", "value": 1},
        {"field": "reopened_count", "op": "eq", "value": 0},
    ]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert len(page.context["preview"]["rows"]) == 6
    assert 'id="metric-preview"' in page.content.decode()

    edited = client.post(reverse("metrics:edit", args=["repair_ftf"]), {**FORM, "target": "70"})
    assert edited.status_code == 302
    assert MetricDefinition.objects.get().version == 2
    assert client.get(reverse("metrics:list")).status_code == 200


def test_preview_counts_the_last_six_months(world, engineer):
    definition = define(RATIO)
    from quality.metrics import metric_preview

    preview = metric_preview(user=engineer, definition=definition, today=dt.date(2026, 2, 15))
    assert [r["period_start"] for r in preview["rows"]] == [
        "2025-09-01",
        "2025-10-01",
        "2025-11-01",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
    ]
    assert preview["rows"][-1]["value"] == pytest.approx(200 / 3)
    assert preview["rows"][0]["value"] is None


def test_pages_for_readers(agent):
    define(RATIO)
    client = client_for(agent, "zh-hans")
    assert client.get(reverse("metrics:list")).status_code == 200
    page = client.get(reverse("metrics:edit", args=["repair_ftf"]))
    assert page.status_code == 200
    assert page.context["form"].fields["name_en"].disabled
    assert client.get(reverse("metrics:create")).status_code == 403
    assert client.post(reverse("metrics:edit", args=["repair_ftf"]), FORM).status_code == 403
    assert client.post(reverse("metrics:deactivate", args=["repair_ftf"])).status_code == 403


def test_dashboard_pages_show_the_metric(world, engineer):
    define(RATIO)
    client = client_for(engineer)
    assert "repair_ftf" in client.get(reverse("quality:catalogue")).content.decode()
    assert client.get(reverse("quality:kpi", args=["repair_ftf"])).status_code == 200
    records = client.get(
        reverse("quality:records", args=["repair_ftf"]), {"grain": "month", "period_start": "2026-01-01"}
    )
    assert records.status_code == 200
