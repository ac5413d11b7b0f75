# ruff: noqa: F811  (fixtures imported from report_fixtures are redefined as test arguments)
"""Subscriptions: their django-celery-beat task, the period due at a run, and delivery
once per period (twice in a row, or two workers at once), skip-if-empty, failures."""

import datetime as dt
import json
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection
from django_celery_beat.models import PeriodicTask

from catalog.exceptions import ApplicationError
from reports import services
from reports.builders import quality
from reports.models import DeliveryStatus, GeneratedReport, ReportStatus, ReportSubscription, SubscriptionDelivery
from reports.tasks import subscription_deliver_task
from tests.reports.report_fixtures import (  # noqa: F401 (fixtures)
    CALLS,
    fake_quality_report_pdf,
    manager_user,
    report_env,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 10 March 2026, 09:00 in Shanghai.
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)


def _subscribe(owner, **kwargs):
    values = {
        "name": "Monthly East",
        "schedule": "monthly",
        "scope": {"region": "East"},
        "recipients": ["boss@example.com", "qa@example.com"],
        "language": "en",
    }
    values.update(kwargs)
    return services.subscription_save(owner=owner, **values)


def _crontab(task: PeriodicTask) -> tuple:
    c = task.crontab
    return (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week, str(c.timezone))


# --- the beat task ----------------------------------------------------------------------------


def test_the_periodic_task_follows_the_subscription(report_env, manager_user):
    subscription = _subscribe(manager_user, schedule="weekly")
    task = subscription.periodic_task
    assert task.task == "reports.tasks.subscription_deliver_task"
    assert json.loads(task.kwargs) == {"subscription_id": subscription.pk}
    assert task.enabled is True and task.name == f"report-subscription-{subscription.pk}"
    assert _crontab(task) == ("0", "7", "*", "*", "1", "Asia/Shanghai")

    subscription = _subscribe(manager_user, schedule="monthly", subscription=subscription)
    task.refresh_from_db()
    assert (
        subscription.periodic_task_id == task.pk
        and PeriodicTask.objects.filter(name__startswith="report-").count() == 1
    )
    assert _crontab(task) == ("0", "7", "1", "*", "*", "Asia/Shanghai")

    subscription = _subscribe(
        manager_user, schedule="cron", cron=" 30  8 * *  1-5 ", active=False, subscription=subscription
    )
    task.refresh_from_db()
    assert subscription.cron == "30 8 * * 1-5"
    assert _crontab(task) == ("30", "8", "*", "*", "1-5", "Asia/Shanghai") and task.enabled is False

    services.subscription_delete(subscription=subscription)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert not ReportSubscription.objects.exists()


def test_recipients_default_to_the_owner(report_env, manager_user):
    subscription = _subscribe(manager_user, recipients=[])
    assert subscription.recipients == [manager_user.email]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"schedule": "cron", "cron": "61 * * * *"}, "cron"),
        ({"schedule": "cron", "cron": "0 7 * *"}, "cron"),
        ({"schedule": "cron", "cron": "0 7 * * funday"}, "cron"),
        ({"schedule": "cron", "cron": ""}, "cron"),
        ({"recipients": ["boss@example.com", "not-an-address"]}, "recipients"),
        ({"recipients": "a@example.com; b@"}, "recipients"),
        ({"scope": {"galaxy": "Andromeda"}}, "scope"),
        ({"schedule": "daily"}, "schedule"),
        ({"kind": "capa"}, "kind"),
        ({"language": "de"}, "language"),
        ({"name": "  "}, "name"),
    ],
)
def test_invalid_subscriptions_are_refused_with_the_field(report_env, manager_user, changes, field):
    with pytest.raises(ApplicationError) as refused:
        _subscribe(manager_user, **changes)
    assert field in refused.value.errors
    assert (
        not ReportSubscription.objects.exists() and not PeriodicTask.objects.filter(name__startswith="report-").exists()
    )


# --- periods ----------------------------------------------------------------------------------


def test_periods_by_the_local_calendar(report_env, manager_user):
    subscription = ReportSubscription(owner=manager_user, schedule="weekly")
    assert services.subscription_period(subscription, now=NOW) == (dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    # Sunday 1 March 20:00 UTC is Monday 2 March 04:00 in Shanghai: the week of 23 February.
    utc_evening = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)
    assert services.subscription_period(subscription, now=utc_evening) == (dt.date(2026, 2, 23), dt.date(2026, 3, 2))
    subscription.schedule = "monthly"
    assert services.subscription_period(subscription, now=NOW) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    january = dt.datetime(2026, 1, 1, 7, 0, tzinfo=SHANGHAI)
    assert services.subscription_period(subscription, now=january) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))
    subscription.schedule = "cron"
    subscription.cron = "0 8 * * 1,4"  # Mondays and Thursdays
    thursday = dt.datetime(2026, 3, 12, 8, 0, tzinfo=SHANGHAI)
    assert services.subscription_period(subscription, now=thursday) == (dt.date(2026, 3, 9), dt.date(2026, 3, 12))
    subscription.cron = "0 * * * *"  # hourly: whole days, one delivery a day
    assert services.subscription_period(subscription, now=thursday) == (dt.date(2026, 3, 11), dt.date(2026, 3, 12))


# --- delivery ---------------------------------------------------------------------------------


def test_a_due_subscription_is_sent_once_when_the_job_runs_twice(report_env, manager_user):
    subscription = _subscribe(manager_user)
    first = services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    second = services.subscription_deliver(subscription_id=subscription.pk, now=NOW + dt.timedelta(minutes=1))
    assert first.pk == second.pk
    assert SubscriptionDelivery.objects.count() == 1
    delivery = SubscriptionDelivery.objects.get()
    assert (delivery.status, delivery.period_start, delivery.period_end) == (
        DeliveryStatus.SENT,
        dt.date(2026, 2, 1),
        dt.date(2026, 3, 1),
    )
    assert delivery.recipients == ["boss@example.com", "qa@example.com"] and delivery.sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["boss@example.com", "qa@example.com"]
    assert "Monthly East" in message.subject and "2026-02-01" in message.subject and "2026-02-28" in message.subject
    assert "2026-02-01 to 2026-02-28" in message.body
    [(filename, content, mimetype)] = message.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF-")
    assert filename == "quality-report-20260201-20260228.pdf"
    # The report is archived, made by the subscription, with its scope.
    report = delivery.report
    assert report.subscription == subscription and report.status == ReportStatus.DONE
    assert report.requested_by == manager_user
    assert report.parameters["filters"] == {"region": "East"} and report.file.open("rb").read() == content
    assert CALLS[0]["filters"] == {"region": "East"} and len(CALLS) == 1
    subscription.refresh_from_db()
    assert subscription.last_sent_at == delivery.sent_at


def test_the_beat_task_delivers(report_env, manager_user, monkeypatch):
    subscription = _subscribe(manager_user, schedule="weekly")
    subscription_deliver_task.delay(subscription.pk)
    subscription_deliver_task.delay(subscription.pk)
    assert SubscriptionDelivery.objects.get().status == DeliveryStatus.SENT
    assert len(mail.outbox) == 1


def test_skip_if_empty_records_skipped_and_sends_nothing(report_env, manager_user, monkeypatch):
    asked = []

    def empty(*, start, end, filters=None):
        asked.append((start, end, filters))
        return True

    monkeypatch.setattr(quality, "quality_report_is_empty", empty)
    subscription = _subscribe(manager_user)
    delivery = services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    assert delivery.status == DeliveryStatus.SKIPPED and delivery.report is None
    assert asked == [(dt.date(2026, 2, 1), dt.date(2026, 3, 1), {"region": "East"})]
    assert mail.outbox == [] and GeneratedReport.objects.count() == 0
    # Skipped is final for the period.
    services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    assert len(asked) == 1


def test_without_skip_if_empty_an_empty_period_is_sent(report_env, manager_user, monkeypatch):
    monkeypatch.setattr(quality, "quality_report_is_empty", lambda **kw: True)
    subscription = _subscribe(manager_user, skip_if_empty=False)
    assert services.subscription_deliver(subscription_id=subscription.pk, now=NOW).status == DeliveryStatus.SENT
    assert len(mail.outbox) == 1


def test_a_failed_send_is_logged_and_retried_by_the_next_run(report_env, manager_user, monkeypatch):
    subscription = _subscribe(manager_user)
    original = EmailMessage.send

    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    failed = services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    assert failed.status == DeliveryStatus.FAILED and "SMTP server down" in failed.error
    assert failed.report.status == ReportStatus.DONE
    monkeypatch.setattr(EmailMessage, "send", original)
    sent = services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    assert sent.pk == failed.pk and sent.status == DeliveryStatus.SENT and sent.error == ""
    # The report built for the failed attempt is the one sent: built once.
    assert sent.report_id == failed.report_id and len(CALLS) == 1
    assert len(mail.outbox) == 1


def test_a_failing_report_fails_the_delivery(report_env, manager_user, monkeypatch):
    monkeypatch.setattr(quality, "quality_report_pdf", lambda **kw: 1 / 0)
    subscription = _subscribe(manager_user)
    delivery = services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    assert delivery.status == DeliveryStatus.FAILED and "ZeroDivisionError" in delivery.error
    assert delivery.report.status == ReportStatus.FAILED and mail.outbox == []


def test_an_inactive_or_deleted_subscription_sends_nothing(report_env, manager_user):
    subscription = _subscribe(manager_user, active=False)
    assert services.subscription_deliver(subscription_id=subscription.pk, now=NOW) is None
    assert services.subscription_deliver(subscription_id=987654, now=NOW) is None
    assert mail.outbox == [] and not SubscriptionDelivery.objects.exists()


def test_the_email_is_in_the_subscription_language(report_env, manager_user):
    subscription = _subscribe(manager_user, language="zh-hans", name="华东月报")
    services.subscription_deliver(subscription_id=subscription.pk, now=NOW)
    [message] = mail.outbox
    assert message.subject.startswith("华东月报")
    assert CALLS[0]["language"] == "zh-hans"
    assert GeneratedReport.objects.get().language == "zh-hans"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_once(report_env, manager_user, monkeypatch):
    assert connection.vendor == "postgresql"

    def slow_builder(**kwargs):
        time.sleep(0.5)  # both workers are inside the delivery at once
        return fake_quality_report_pdf(**kwargs)

    monkeypatch.setattr(quality, "quality_report_pdf", slow_builder)
    subscription = _subscribe(manager_user)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            results.append(services.subscription_deliver(subscription_id=subscription.pk, now=NOW))
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert [r.status for r in results] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert SubscriptionDelivery.objects.count() == 1 and GeneratedReport.objects.count() == 1
    assert len(mail.outbox) == 1 and len(CALLS) == 1


def test_with_the_real_builder_an_empty_database_is_skipped_or_sent(report_env, manager_user, monkeypatch):
    """R1's quality_report_is_empty and quality_report_pdf, on a database without records."""
    monkeypatch.undo()
    try:
        quality.quality_report_is_empty(start=dt.date(2026, 2, 1), end=dt.date(2026, 3, 1))
    except NotImplementedError:
        pytest.skip("R1's builder is still a stub")
    skipping = _subscribe(manager_user, name="Skips")
    assert services.subscription_deliver(subscription_id=skipping.pk, now=NOW).status == DeliveryStatus.SKIPPED
    sending = _subscribe(manager_user, name="Always", skip_if_empty=False, language="zh-hans")
    delivery = services.subscription_deliver(subscription_id=sending.pk, now=NOW)
    assert delivery.status == DeliveryStatus.SENT, delivery.error
    [message] = mail.outbox
    [(_name, content, mimetype)] = message.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF-")
