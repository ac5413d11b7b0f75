"""Alert lifecycle: dedup (one alert per rule and member), re-notification interval,
auto-resolution after K clear evaluations, silences, dry-run, transitions, the command,
and two concurrent evaluations on PostgreSQL.

The world: a threshold rule "CSAT below 50 %" at the week grain, evaluated as of
Monday 2026-03-09, so the tested week is 2026-03-02..08 (Asia/Shanghai)."""

import datetime as dt
import json
import threading
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, connections

from catalog.exceptions import ConflictError
from quality.models import Alert, AlertEvaluation, AlertEvent, AlertRule, AlertStatus
from quality.services.alerts import (
    alert_acknowledge,
    alert_assign,
    alert_evaluations_purge,
    alert_resolve,
    alert_rules_evaluate,
    alert_silence_create,
)
from tests.factories import SurveyFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Notification

SH = ZoneInfo("Asia/Shanghai")
AS_OF = dt.date(2026, 3, 9)
IN_WEEK = dt.datetime(2026, 3, 4, 10, 0, tzinfo=SH)


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, 10, hour, minute, tzinfo=SH)


def survey(csat: int, when: dt.datetime = IN_WEEK, team=None):
    ticket = TicketFactory(team=team or TeamFactory(name="Team A"), created_at=when - dt.timedelta(days=1))
    return SurveyFactory(ticket=ticket, customer=ticket.customer, responded_at=when, csat=csat)


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def rule(engineer):
    AlertRule.objects.all().delete()  # the default set of the data migration
    return AlertRule.objects.create(
        code="csat-low",
        name="CSAT low",
        kind="threshold",
        kpi="csat",
        grain="week",
        params={"op": "below", "value": 50},
        recipient_roles=["quality_engineer"],
        channels=["in_app"],
        renotify_minutes=60,
        resolve_after=2,
    )


def alert_notifications():
    return Notification.objects.filter(kind="alert")


def evaluate(when: dt.datetime, **kwargs):
    with time_machine.travel(when, tick=False):
        return alert_rules_evaluate(as_of=AS_OF, **kwargs)


def test_ten_firing_evaluations_give_one_alert_and_notify_by_the_interval(rule, engineer):
    survey(1)
    survey(2)  # CSAT 0 % < 50 %
    # Every 30 minutes from 08:00 to 12:30; renotify every 60 min -> 08:00, 09:00,
    # 10:00, 11:00, 12:00: five notifications.
    for i in range(10):
        firing = evaluate(at(8) + dt.timedelta(minutes=30 * i))
        assert [item["rule"] for item in firing] == ["csat-low"]
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.FIRING
    assert alert.value == 0.0 and alert.lcl == 50
    assert alert.notifications == 5
    assert alert_notifications().filter(recipient=engineer).count() == 5
    assert alert.first_fired_at == at(8) and alert.last_fired_at == at(12, 30)
    assert AlertEvaluation.objects.filter(rule=rule, decision="fire").count() == 10
    assert list(AlertEvent.objects.filter(alert=alert).values_list("kind", flat=True)).count("notified") == 5
    assert firing[0] == {
        "id": alert.pk,
        "rule": "csat-low",
        "kind": "threshold",
        "kpi": "csat",
        "member": {},
        "severity": "warning",
        "status": "firing",
        "period_start": "2026-03-02",
        "value": 0.0,
        "baseline": 50.0,
        "lcl": 50.0,
        "ucl": None,
        "first_fired_at": alert.first_fired_at.isoformat(),
    }


def test_clearing_resolve_after_times_resolves_and_a_new_fire_opens_a_new_alert(rule):
    survey(1)
    evaluate(at(8))
    alert = Alert.objects.get()
    good = [survey(5), survey(5)]  # 2 of 3 satisfied: 66.7 % >= 50: clear
    evaluate(at(9))
    alert.refresh_from_db()
    assert (alert.status, alert.clear_count) == (AlertStatus.FIRING, 1)
    evaluate(at(10))
    alert.refresh_from_db()
    assert (alert.status, alert.clear_count) == (AlertStatus.RESOLVED, 2)
    assert alert.resolved_at == at(10)
    for s in good:
        s.delete()
    evaluate(at(11))
    assert Alert.objects.count() == 2
    assert Alert.objects.exclude(pk=alert.pk).get().status == AlertStatus.FIRING


def test_a_fire_between_clears_resets_the_count(rule):
    low = survey(1)
    evaluate(at(8))
    good = survey(5)
    extra = survey(5)
    evaluate(at(9))  # clear 1
    good.delete()
    extra.delete()
    evaluate(at(10))  # fire again: count back to 0
    survey(5)
    survey(5)
    evaluate(at(11))  # clear 1
    alert = Alert.objects.get()
    assert (alert.status, alert.clear_count) == (AlertStatus.FIRING, 1)
    assert low.pk


def test_a_silence_suppresses_notifications_but_keeps_the_log(rule, engineer):
    survey(1)
    alert_silence_create(actor=engineer, rule=rule, starts_at=at(0), ends_at=at(23), comment="known")
    for i in range(3):
        firing = evaluate(at(8 + i))
    assert len(firing) == 1
    alert = Alert.objects.get()
    assert alert.notifications == 0 and not alert_notifications().exists()
    assert list(AlertEvaluation.objects.values_list("decision", flat=True)) == ["silenced"] * 3
    # After the window the next evaluation notifies.
    evaluate(dt.datetime(2026, 3, 11, 9, 0, tzinfo=SH))
    assert alert_notifications().count() == 1


def test_a_silence_on_another_member_does_not_match(rule, engineer):
    survey(1)
    alert_silence_create(actor=engineer, member={"team": "Team B"}, starts_at=at(0), ends_at=at(23))
    evaluate(at(8))
    assert alert_notifications().count() == 1


def test_dry_run_writes_nothing_and_sends_nothing(rule):
    survey(1)
    firing = evaluate(at(8), dry_run=True)
    assert firing and firing[0]["id"] is None and firing[0]["value"] == 0.0
    assert not Alert.objects.exists()
    assert not AlertEvaluation.objects.exists()
    assert not Notification.objects.exists()
    rule.refresh_from_db()
    assert rule.last_evaluated_at is None


def test_a_record_on_or_after_as_of_changes_nothing(rule):
    survey(5)
    survey(1, when=dt.datetime(2026, 3, 9, 0, 0, tzinfo=SH))  # as_of itself: not before it
    survey(1, when=dt.datetime(2026, 3, 12, 9, 0, tzinfo=SH))
    assert evaluate(at(8), dry_run=True) == []
    survey(1, when=dt.datetime(2026, 3, 8, 23, 59, tzinfo=SH))  # last minute of the week: 1 of 2
    assert evaluate(at(8), dry_run=True) == []  # 50 % is not below 50 %
    survey(1)
    assert len(evaluate(at(8), dry_run=True)) == 1  # 1 of 3


def test_transitions_follow_the_table(rule, engineer):
    survey(1)
    evaluate(at(8))
    alert = Alert.objects.get()
    alert_acknowledge(alert_id=alert.pk, actor=engineer, comment="looking")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == engineer
    evaluate(at(10))  # still firing, acknowledged: no re-notification
    assert alert_notifications().count() == 1
    with pytest.raises(ConflictError):
        alert_acknowledge(alert_id=alert.pk, actor=engineer)
    other = UserFactory(username="qe2", roles=["quality_engineer"])
    alert_assign(alert_id=alert.pk, assignee=other, actor=engineer)
    alert_resolve(alert_id=alert.pk, actor=engineer, comment="fixed")
    with pytest.raises(ConflictError):
        alert_resolve(alert_id=alert.pk, actor=engineer)
    kinds = list(AlertEvent.objects.filter(alert=alert).values_list("kind", flat=True))
    assert kinds == ["fired", "notified", "acknowledged", "assigned", "resolved"]


def test_evaluations_purge_drops_old_rows(rule):
    survey(1)
    evaluate(at(8))
    AlertEvaluation.objects.update(evaluated_at=at(8) - dt.timedelta(days=100))
    evaluate(at(9))
    with time_machine.travel(at(10), tick=False):
        assert alert_evaluations_purge() == 1
    assert AlertEvaluation.objects.count() == 1


def test_command_json_dry_run_and_usage_errors(rule):
    survey(1)
    out = StringIO()
    call_command("evaluate_alerts", "--as-of", "2026-03-09", "--dry-run", "--json", stdout=out)
    items = json.loads(out.getvalue())
    assert [(i["rule"], i["id"], i["period_start"]) for i in items] == [("csat-low", None, "2026-03-02")]
    assert not AlertEvaluation.objects.exists()
    with pytest.raises(CommandError) as error:
        call_command("evaluate_alerts", "--as-of", "2026-13-01")
    assert error.value.returncode == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and concurrent inserts need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_evaluations_open_one_alert():
    from catalog.roles import roles_sync

    roles_sync()
    UserFactory(username="qe", roles=["quality_engineer"])
    rule = AlertRule.objects.create(
        code="csat-low",
        name="CSAT low",
        kind="threshold",
        kpi="csat",
        grain="week",
        params={"op": "below", "value": 50},
        recipient_roles=["quality_engineer"],
    )
    survey(1)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            alert_rules_evaluate(as_of=AS_OF, rules=[rule])
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Alert.objects.filter(status="firing").count() == 1
    assert AlertEvaluation.objects.filter(decision="fire").count() == 2
