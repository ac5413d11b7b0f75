"""The alerts, alert-rules and silences endpoints: INTERFACES.md's list shape, filters,
pagination in headers only, who may read and act, 409 on a move the status does not
allow, 400 with the reasons by field."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.models import Alert, AlertEvent, AlertRule, AlertSilence
from tests.conftest import api_for
from tests.factories import TeamFactory, UserFactory

URL = "/api/v1/alerts/"
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
KEYS = [
    "id",
    "rule",
    "kind",
    "kpi",
    "member",
    "severity",
    "status",
    "period_start",
    "value",
    "baseline",
    "lcl",
    "ucl",
    "first_fired_at",
]


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def rules(db):
    batch = AlertRule.objects.create(
        code="t-batch",
        name="Batch failure anomaly",
        kind="anomaly",
        kpi="failures_per_1000",
        split_by="batch",
        grain="week",
        params={"method": "poisson", "baseline_periods": 12, "min_count": 3, "alpha": 0.001},
        severity="critical",
    )
    sla = AlertRule.objects.create(
        code="t-sla",
        name="SLA breaches",
        kind="process",
        split_by="team",
        grain="week",
        params={"check": "sla_breaches", "count": 10},
        severity="warning",
    )
    return batch, sla


def _alert(rule, member, *, severity=None, status="firing", fired=T0, **kw):
    key = "&".join(f"{k}={v}" for k, v in sorted(member.items()))
    return Alert.objects.create(
        rule=rule,
        member=member,
        member_key=key,
        severity=severity or rule.severity,
        status=status,
        first_fired_at=fired,
        last_fired_at=fired,
        **kw,
    )


@pytest.fixture
def alerts(rules):
    batch, sla = rules
    a1 = _alert(
        batch,
        {"batch": "WM200-L15"},
        period_start=dt.date(2026, 10, 26),
        value=7.0,
        baseline=0.5,
        lcl=0.0,
        ucl=3.2,
    )
    a2 = _alert(
        sla, {"team": "East Service"}, period_start=dt.date(2026, 11, 9), value=12.0, fired=T0 + dt.timedelta(days=1)
    )
    a3 = _alert(sla, {"team": "North"}, status="resolved", value=11.0)
    return a1, a2, a3


def test_list_is_the_interfaces_shape_open_by_default_critical_first(alerts, engineer):
    a1, a2, _a3 = alerts
    response = api_for(engineer).get(URL)
    assert response.status_code == 200, response.data
    body = response.json()
    assert isinstance(body, list)  # a bare list, as INTERFACES.md shows
    assert [row["id"] for row in body] == [a1.pk, a2.pk]  # critical before the later warning
    first = body[0]
    assert list(first)[: len(KEYS)] == KEYS
    assert {k: first[k] for k in KEYS} == {
        "id": a1.pk,
        "rule": "t-batch",
        "kind": "anomaly",
        "kpi": "failures_per_1000",
        "member": {"batch": "WM200-L15"},
        "severity": "critical",
        "status": "firing",
        "period_start": "2026-10-26",
        "value": 7.0,
        "baseline": 0.5,
        "lcl": 0.0,
        "ucl": 3.2,
        "first_fired_at": "2026-11-02T08:00:00+00:00",
    }
    assert body[1]["kpi"] == "" and body[1]["lcl"] is None and body[1]["member"] == {"team": "East Service"}
    assert response["X-Total-Count"] == "2" and "Link" not in response


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=resolved", [2]),
        ("status=all", [0, 1, 2]),
        ("status=firing,resolved", [0, 1, 2]),
        ("status=acknowledged", []),
        ("severity=warning", [1]),
        ("kind=process&status=all", [1, 2]),
        ("rule=t-batch", [0]),
        ("kpi=failures_per_1000", [0]),
    ],
)
def test_filters(alerts, engineer, query, expected):
    body = api_for(engineer).get(f"{URL}?{query}").json()
    assert sorted(row["id"] for row in body) == sorted(alerts[i].pk for i in expected)


@pytest.mark.parametrize("query", ["status=burning", "severity=urgent", "kind=magic"])
def test_bad_filters_are_400_by_field(alerts, engineer, query):
    response = api_for(engineer).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["errors"]


def test_pages_are_signalled_in_headers_and_the_body_stays_a_list(alerts, engineer):
    response = api_for(engineer).get(f"{URL}?page_size=1")
    assert isinstance(response.json(), list) and len(response.json()) == 1
    assert response["X-Total-Count"] == "2" and 'rel="next"' in response["Link"]
    second = api_for(engineer).get(f"{URL}?page_size=1&page=2")
    assert second.json()[0]["id"] == alerts[1].pk and 'rel="prev"' in second["Link"]


def test_list_runs_a_constant_number_of_queries(rules, engineer):
    batch, _sla = rules
    client = api_for(engineer)
    client.get(URL)  # the user's permissions are cached on the first request
    for n in range(3):
        _alert(batch, {"batch": f"B{n}"}, assignee=engineer)
    with CaptureQueriesContext(connection) as three:
        assert len(client.get(URL).json()) == 3
    for n in range(3, 30):
        _alert(batch, {"batch": f"B{n}"}, assignee=engineer)
    with CaptureQueriesContext(connection) as thirty:
        assert len(client.get(URL).json()) == 30
    assert len(thirty) == len(three)


@pytest.mark.parametrize("role", ["manager", "committee_member"])
def test_readers_read_but_do_not_act(alerts, role):
    client = api_for(UserFactory(username=f"u_{role}", roles=[role]))
    assert client.get(URL).status_code == 200
    assert client.get("/api/v1/alert-rules/").status_code == 200
    assert client.get("/api/v1/alert-silences/").status_code == 200
    assert client.post(f"{URL}{alerts[0].pk}/acknowledge/", {}, format="json").status_code == 403
    assert client.post("/api/v1/alert-rules/", {"code": "x"}, format="json").status_code == 403
    assert Alert.objects.get(pk=alerts[0].pk).status == "firing"


def test_agents_get_nothing(alerts, agent):
    client = api_for(agent)
    for url in (URL, "/api/v1/alert-rules/", "/api/v1/alert-rules/t-sla/", "/api/v1/alert-silences/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"{URL}{alerts[0].pk}/acknowledge/", {}, format="json").status_code == 403


def test_a_supervisor_sees_only_the_process_alerts_of_their_teams(alerts):
    user = UserFactory(username="sup_east", roles=["supervisor"])
    TeamFactory(name="East Service", supervisor=user)
    body = api_for(user).get(f"{URL}?status=all").json()
    assert [row["id"] for row in body] == [alerts[1].pk]
    assert api_for(user).get("/api/v1/alert-rules/").status_code == 403


def test_acknowledge_then_resolve_and_409_on_an_invalid_move(alerts, engineer):
    client = api_for(engineer)
    pk = alerts[0].pk
    response = client.post(f"{URL}{pk}/acknowledge/", {"comment": "looking"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"
    again = client.post(f"{URL}{pk}/acknowledge/", {}, format="json")
    assert again.status_code == 409 and "status" in again.json()["errors"]
    resolved = client.post(f"{URL}{pk}/resolve/", {"comment": "bearing replaced"}, format="json")
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert client.post(f"{URL}{pk}/resolve/", {}, format="json").status_code == 409
    kinds = list(AlertEvent.objects.filter(alert_id=pk).values_list("kind", "comment"))
    assert kinds == [("acknowledged", "looking"), ("resolved", "bearing replaced")]


def test_assign_by_username(alerts, engineer):
    client = api_for(engineer)
    other = UserFactory(username="qe2", roles=["quality_engineer"])
    response = client.post(f"{URL}{alerts[0].pk}/assign/", {"assignee": "qe2"}, format="json")
    assert response.status_code == 200 and response.json()["assignee"] == "qe2"
    assert Alert.objects.get(pk=alerts[0].pk).assignee == other
    unknown = client.post(f"{URL}{alerts[0].pk}/assign/", {"assignee": "nobody"}, format="json")
    assert unknown.status_code == 400 and "assignee" in unknown.json()["errors"]
    resolved = client.post(f"{URL}{alerts[2].pk}/assign/", {"assignee": "qe2"}, format="json")
    assert resolved.status_code == 409
    assert client.post(f"{URL}999999/assign/", {"assignee": "qe2"}, format="json").status_code == 404


def _rule_body(**changes):
    return {
        "code": "csat-east",
        "name": "CSAT drop East",
        "kind": "trend",
        "kpi": "csat",
        "split_by": "team",
        "grain": "month",
        "params": {"mode": "previous", "pct": 10, "baseline_periods": 3},
        "severity": "warning",
        "recipient_roles": ["quality_engineer"],
        "channels": ["in_app"],
        **changes,
    }


def test_rule_create_read_patch_put(engineer, db):
    client = api_for(engineer)
    TeamFactory(name="East Service")
    response = client.post(
        "/api/v1/alert-rules/", _rule_body(recipient_users=["qe"], recipient_teams=["East Service"]), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"] == "csat-east" and body["params"]["pct"] == 10 and body["params"]["mode"] == "previous"
    assert (
        body["recipient_users"] == ["qe"] and body["recipient_teams"] == ["East Service"] and body["open_alerts"] == 0
    )
    patched = client.patch("/api/v1/alert-rules/csat-east/", {"severity": "critical", "active": False}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["severity"] == "critical" and patched.json()["active"] is False
    assert patched.json()["recipient_users"] == ["qe"]  # untouched by a PATCH without it
    put = client.put("/api/v1/alert-rules/csat-east/", _rule_body(name="Renamed"), format="json")
    assert put.status_code == 200 and put.json()["name"] == "Renamed"
    assert client.get("/api/v1/alert-rules/csat-east/").json()["name"] == "Renamed"
    listed = client.get("/api/v1/alert-rules/").json()
    assert "csat-east" in [r["code"] for r in listed["results"]]
    assert client.patch("/api/v1/alert-rules/csat-east/", {"code": "other"}, format="json").status_code == 400


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kpi": "no_such_kpi"}, "kpi"),
        ({"split_by": "colour"}, "split_by"),
        ({"params": {"mode": "sideways", "pct": 10}}, "params"),
        ({"grain": "fortnight"}, "grain"),
        ({"channels": ["pigeon"]}, "channels"),
        ({"recipient_users": ["ghost"]}, "recipient_users"),
        ({"kind": "magic"}, "kind"),
        ({"params": "not an object"}, "params"),
    ],
)
def test_rule_validation_errors_are_400_by_field(engineer, changes, field):
    response = api_for(engineer).post("/api/v1/alert-rules/", _rule_body(**changes), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not AlertRule.objects.filter(code="csat-east").exists()


def test_replay_validates_its_dates(rules, engineer):
    client = api_for(engineer)
    base = "/api/v1/alert-rules/t-sla/replay/"
    assert client.get(base).status_code == 400
    assert "end" in client.get(f"{base}?start=2026-05-01&end=2026-04-01").json()["errors"]
    assert client.get(f"{base}?start=2026-05-01&end=x").status_code == 400
    assert client.get("/api/v1/alert-rules/none/replay/?start=2026-01-01&end=2026-02-01").status_code == 404


def test_replay_of_a_process_rule_writes_nothing(rules, engineer):
    response = api_for(engineer).get("/api/v1/alert-rules/t-sla/replay/?start=2026-09-01&end=2026-10-01")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["rule"] == "t-sla" and body["start"] == "2026-09-01" and isinstance(body["rows"], list)
    assert not Alert.objects.exists()


def test_silences_create_list_expire(rules, engineer):
    client = api_for(engineer)
    response = client.post(
        "/api/v1/alert-silences/",
        {
            "rule": "t-sla",
            "member": {"team": "East Service"},
            "ends_at": "2099-01-01T00:00:00Z",
            "comment": "move",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["rule"] == "t-sla" and body["member"] == {"team": "East Service"} and body["active"] is True
    assert [s["id"] for s in client.get("/api/v1/alert-silences/?active=true").json()["results"]] == [body["id"]]
    expired = client.post(f"/api/v1/alert-silences/{body['id']}/expire/")
    assert expired.status_code == 200 and expired.json()["active"] is False
    assert client.get("/api/v1/alert-silences/?active=true").json()["results"] == []
    assert client.post(f"/api/v1/alert-silences/{body['id']}/expire/").status_code == 409
    bad = client.post("/api/v1/alert-silences/", {"ends_at": "2000-01-01T00:00:00Z"}, format="json")
    assert bad.status_code == 400 and "ends_at" in bad.json()["errors"]
    assert (
        client.post(
            "/api/v1/alert-silences/", {"rule": "nope", "ends_at": "2099-01-01T00:00:00Z"}, format="json"
        ).status_code
        == 400
    )
    assert AlertSilence.objects.count() == 1
