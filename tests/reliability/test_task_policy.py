"""Every task is acknowledged late; the ones whose service is idempotent retry a lost
database connection a bounded number of times, then fail visibly (logged)."""

import importlib
import logging

import pytest
from django.db import OperationalError

from aftersales.celery import app
from tickets.tasks import sla_sweep_task

OUR_APPS = ("catalog.", "tickets.", "quality.", "improvements.", "intake.", "reports.")
# Retrying these re-runs an idempotent service (a second run is a no-op or rewrites the
# same rows). import_file_task marks its run failed instead; report_generate_task has
# its own takeover of a stale run.
RETRIED = {
    "tickets.tasks.sla_sweep_task",
    "tickets.tasks.notifications_deliver_task",
    "tickets.tasks.survey_email_task",
    "quality.tasks.kpi_snapshots_refresh_task",
    "quality.tasks.alerts_evaluate_task",
    "quality.tasks.alert_evaluations_purge_task",
    "quality.tasks.recall_units_remedied_sync_task",
    "improvements.tasks.actions_remind_task",
    "improvements.tasks.recurrence_watch_task",
    "intake.tasks.import_uploads_purge_task",
    "reports.tasks.subscription_deliver_task",
}


def our_tasks():
    for package in OUR_APPS:
        importlib.import_module(f"{package}tasks")
    return {name: task for name, task in app.tasks.items() if name.startswith(OUR_APPS)}


def test_every_task_is_acknowledged_after_it_ran():
    tasks = our_tasks()
    assert set(tasks) >= RETRIED
    # CELERY_TASK_ACKS_LATE: a message is acknowledged once its task ran, so one whose
    # worker died is delivered again.
    assert sorted(name for name, task in tasks.items() if not task.acks_late) == []
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize("name", sorted(RETRIED))
def test_a_lost_database_is_retried_a_bounded_number_of_times(name):
    task = our_tasks()[name]
    assert OperationalError in task.autoretry_for
    assert 1 <= task.max_retries <= 10
    assert task.retry_backoff


def test_a_task_that_keeps_failing_stops_after_its_retries_and_is_logged(monkeypatch, caplog):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("tickets.services.escalation.sla_sweep", broken)
    with caplog.at_level(logging.INFO):
        result = sla_sweep_task.apply()
    assert len(calls) == sla_sweep_task.max_retries + 1 == 7
    assert result.failed()
    assert isinstance(result.result, OperationalError)
    assert "server closed the connection unexpectedly" in caplog.text
