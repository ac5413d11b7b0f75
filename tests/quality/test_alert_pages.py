"""The alert centre pages: who sees what, the list (critical first, filters), one alert
with its actions (acknowledge, assign, resolve, silence), the series JSON, the rule
form (params built from the kind's fields), the replay page, silences, the navbar badge,
and constant queries (3 vs 30 alerts)."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from quality.models import Alert, AlertEvaluation, AlertRule, AlertSilence
from tests.quality.test_alert_api import _alert, alerts, engineer, rules  # noqa: F401

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_agents_get_403_and_no_nav_item(alerts, agent):  # noqa: F811
    client = client_for(agent)
    for url in ("/alerts/", f"/alerts/{alerts[0].pk}/", "/alerts/rules/", "/alerts/silences/", "/alerts/rules/new/"):
        assert client.get(url).status_code == 403, url
    assert b'id="nav-alerts"' not in client.get("/tickets/").content
    assert client.get("/alerts/badge/").status_code == 204


def test_centre_lists_open_alerts_critical_first(alerts, engineer):  # noqa: F811
    page = client_for(engineer).get("/alerts/")
    assert page.status_code == 200
    html = page.content.decode()
    first, second = html.index(f'data-alert="{alerts[0].pk}"'), html.index(f'data-alert="{alerts[1].pk}"')
    assert first < second
    assert f'data-alert="{alerts[2].pk}"' not in html  # resolved: not open
    assert "WM200-L15" in html and "East Service" in html
    assert 'id="open-total">2<' in html
    assert b'id="nav-alerts"' in page.content


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("status=resolved", [2]),
        ("severity=warning", [1]),
        ("kind=anomaly", [0]),
        ("rule=t-sla&status=all", [1, 2]),
    ],
)
def test_centre_filters(alerts, engineer, query, shown):  # noqa: F811
    html = client_for(engineer).get(f"/alerts/?{query}").content.decode()
    for i, alert in enumerate(alerts):
        assert (f'data-alert="{alert.pk}"' in html) == (i in shown), (query, i)


def test_badge_counts_open_alerts(alerts, engineer):  # noqa: F811
    html = client_for(engineer).get("/alerts/badge/").content.decode()
    assert 'data-count="2"' in html and 'data-critical="1"' in html


def test_pages_run_constant_queries(rules, engineer):  # noqa: F811
    batch, _sla = rules
    client = client_for(engineer)
    for n in range(3):
        _alert(batch, {"batch": f"B{n}"}, assignee=engineer)
    client.get("/alerts/")
    with CaptureQueriesContext(connection) as three:
        assert client.get("/alerts/").status_code == 200
    for n in range(3, 30):
        _alert(batch, {"batch": f"B{n}"}, assignee=engineer)
    with CaptureQueriesContext(connection) as thirty:
        response = client.get("/alerts/")
    assert response.content.count(b"data-alert=") == 30
    assert len(thirty) == len(three)


def test_detail_shows_actions_log_and_records_link(alerts, engineer):  # noqa: F811
    a1 = alerts[0]
    AlertEvaluation.objects.create(
        rule=a1.rule,
        member_key=a1.member_key,
        as_of=dt.date(2026, 11, 2),
        period_start=dt.date(2026, 10, 26),
        value=7.0,
        baseline=0.5,
        lcl=0.0,
        ucl=3.2,
        decision="fire",
    )
    page = client_for(engineer).get(f"/alerts/{a1.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-action="acknowledge"' in html and 'data-action="resolve"' in html
    assert 'id="assign-form"' in html and 'id="silence-form"' in html
    assert "/dashboards/kpi/failures_per_1000/records/?" in html
    assert "period_start=2026-10-26" in html and "batch=WM200-L15" in html and "grain=week" in html
    assert html.count('<span class="badge text-bg-danger">fire</span>') == 1


def test_readers_see_no_actions(alerts, manager):  # noqa: F811
    html = client_for(manager).get(f"/alerts/{alerts[0].pk}/").content.decode()
    assert 'data-action="acknowledge"' not in html and 'id="assign-form"' not in html
    assert client_for(manager).post(f"/alerts/{alerts[0].pk}/acknowledge/").status_code == 403
    assert Alert.objects.get(pk=alerts[0].pk).status == "firing"


def test_acknowledge_assign_resolve_from_the_page(alerts, engineer):  # noqa: F811
    client = client_for(engineer)
    pk = alerts[0].pk
    response = client.post(f"/alerts/{pk}/acknowledge/", follow=True)
    assert Alert.objects.get(pk=pk).status == "acknowledged"
    assert "acknowledged" in response.content.decode()
    # A second acknowledge is refused with a message, nothing changes.
    again = client.post(f"/alerts/{pk}/acknowledge/", follow=True)
    assert again.status_code == 200 and "alert-danger" in again.content.decode()
    client.post(f"/alerts/{pk}/assign/", {"assignee": engineer.pk})
    assert Alert.objects.get(pk=pk).assignee == engineer
    client.post(f"/alerts/{pk}/resolve/", {"comment": "done"})
    assert Alert.objects.get(pk=pk).status == "resolved"
    kinds = [e.kind for e in Alert.objects.get(pk=pk).events.order_by("id")]
    assert kinds == ["acknowledged", "assigned", "resolved"]


@pytest.mark.parametrize(("duration", "days"), [("1d", 1), ("1w", 7)])
def test_silence_from_an_alert(alerts, engineer, duration, days):  # noqa: F811
    client_for(engineer).post(f"/alerts/{alerts[0].pk}/silence/", {"duration": duration, "comment": "known"})
    silence = AlertSilence.objects.get()
    assert silence.rule == alerts[0].rule and silence.member == {"batch": "WM200-L15"}
    assert round((silence.ends_at - silence.starts_at).total_seconds() / 86400) == days


def test_silence_custom_needs_a_future_end(alerts, engineer):  # noqa: F811
    client = client_for(engineer)
    client.post(f"/alerts/{alerts[0].pk}/silence/", {"duration": "custom", "ends_at": "2001-01-01T00:00"})
    assert not AlertSilence.objects.exists()
    client.post(f"/alerts/{alerts[0].pk}/silence/", {"duration": "custom", "ends_at": "2099-06-01T00:00"})
    assert AlertSilence.objects.get().ends_at.year == 2099


def test_series_json_of_a_process_alert_comes_from_the_log(alerts, engineer):  # noqa: F811
    a2 = alerts[1]
    for week, value, decision in ((dt.date(2026, 10, 26), 4.0, "clear"), (dt.date(2026, 11, 9), 12.0, "fire")):
        AlertEvaluation.objects.create(
            rule=a2.rule,
            member_key=a2.member_key,
            as_of=week + dt.timedelta(days=7),
            period_start=week,
            value=value,
            ucl=10.0,
            decision=decision,
        )
    body = client_for(engineer).get(f"/alerts/{a2.pk}/series/").json()
    assert body["fired_period"] == "2026-11-09"
    assert [(p["period_start"], p["value"], p["fired"]) for p in body["points"]] == [
        ("2026-10-26", 4.0, False),
        ("2026-11-09", 12.0, True),
    ]
    assert body["points"][1]["ucl"] == 10.0


def test_series_json_of_a_members_comparison_comes_from_the_log(alerts, engineer):  # noqa: F811
    # The alert's value is a window's rate against the other batches: plotting the KPI's
    # weekly values beside it would put two different figures on one axis.
    from tests.factories import BatchFactory, FailureFactory, UnitFactory

    batch = BatchFactory(code="WM200-L15")
    units = [UnitFactory(batch=batch, sold_on=dt.date(2026, 1, 5)) for _n in range(2)]
    FailureFactory(unit=units[0], occurred_at=dt.datetime(2026, 10, 27, 10, tzinfo=dt.UTC))
    a1 = alerts[0]
    a1.rule.params = {**a1.rule.params, "compare": "members", "window_periods": 52}
    a1.rule.save(update_fields=["params"])
    AlertEvaluation.objects.create(
        rule=a1.rule,
        member_key=a1.member_key,
        as_of=dt.date(2026, 11, 2),
        period_start=dt.date(2026, 10, 26),
        value=21.3,
        baseline=1.93,
        ucl=4.0,
        decision="fire",
    )
    body = client_for(engineer).get(f"/alerts/{a1.pk}/series/").json()
    assert [(p["period_start"], p["value"], p["ucl"], p["fired"]) for p in body["points"]] == [
        ("2026-10-26", 21.3, 4.0, True)
    ]
    assert (body["unit"], body["unit_name"]) == ("per_1000_units", "per 1000 units")


def test_rule_list_and_form_builds_params(rules, engineer):  # noqa: F811
    client = client_for(engineer)
    html = client.get("/alerts/rules/").content.decode()
    assert 'data-rule="t-batch"' in html and 'data-rule="t-sla"' in html
    assert client.get("/alerts/rules/new/").status_code == 200
    data = {
        "code": "fr-threshold",
        "name": "Failure rate above 5",
        "kind": "threshold",
        "kpi": "failures_per_1000",
        "filters": "",
        "split_by": "batch",
        "grain": "month",
        "severity": "warning",
        "schedule": "daily",
        "renotify_minutes": "1440",
        "resolve_after": "2",
        "active": "on",
        "th_op": "above",
        "th_value": "5",
        "th_overrides": "WM200-L15: 8",
        "tr_pct": "99",  # another kind's field: not saved
        "channels": ["in_app", "email"],
        "recipient_roles": ["quality_engineer"],
    }
    response = client.post("/alerts/rules/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AlertRule.objects.get(code="fr-threshold")
    assert rule.params["op"] == "above" and rule.params["value"] == 5
    assert rule.params["overrides"] == {"WM200-L15": 8}
    assert "pct" not in rule.params and rule.channels == ["in_app", "email"]
    # Edit: the form shows the settings; a refusal comes back on the page.
    edit = client.get("/alerts/rules/fr-threshold/")
    assert 'name="th_value" value="5' in edit.content.decode()
    refused = client.post("/alerts/rules/fr-threshold/", {**data, "split_by": "region", "kpi": "no_such"})
    assert refused.status_code == 200 and "is-invalid" in refused.content.decode()
    assert AlertRule.objects.get(code="fr-threshold").kpi == "failures_per_1000"


def test_replay_page(rules, engineer):  # noqa: F811
    page = client_for(engineer).get("/alerts/rules/t-sla/replay/?start=2026-09-01&end=2026-10-01")
    assert page.status_code == 200
    assert 'id="replay-empty"' in page.content.decode()
    assert client_for(engineer).get("/alerts/rules/nope/replay/").status_code == 404


def test_silence_page_create_and_expire(rules, engineer):  # noqa: F811
    client = client_for(engineer)
    client.post("/alerts/silences/", {"rule": "t-sla", "member": "team: East Service", "duration": "1w"})
    silence = AlertSilence.objects.get()
    assert silence.member == {"team": "East Service"}
    html = client.get("/alerts/silences/").content.decode()
    assert f'data-silence="{silence.pk}"' in html and "End now" in html
    client.post(f"/alerts/silences/{silence.pk}/expire/")
    silence.refresh_from_db()
    assert silence.ends_at <= dt.datetime.now(dt.UTC)


def test_chinese_centre_renders(alerts, engineer):  # noqa: F811
    client = client_for(engineer)
    client.cookies["django_language"] = "zh-hans"
    assert client.get("/alerts/", HTTP_ACCEPT_LANGUAGE="zh-hans").status_code == 200
