"""A duplicate enqueue, and two overlapping beat-triggered runs, in two real pool
processes: one effect each.

The runs are made to overlap for sure: the test holds a lock both need, waits until
both workers' sessions wait on it, then lets go."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from improvements.models import Action, ActionEvent
from improvements.services.actions import action_create
from improvements.services.issues import issue_create
from improvements.tasks import actions_remind_task
from quality.models import Alert, AlertEvaluation, AlertRule
from quality.tasks import alerts_evaluate_task
from tests.factories import (
    BreachedTicketFactory,
    CustomerFactory,
    SurveyFactory,
    TeamFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Escalation, Notification, Ticket, TicketEvent
from tickets.tasks import notifications_deliver_task, sla_sweep_task, survey_email_task

from .harness import Gate, wait_backends_waiting

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SH = ZoneInfo("Asia/Shanghai")
NOTIFICATIONS = Notification._meta.db_table


def twice(worker, gate: Gate, task, **kwargs) -> list[str]:
    """Queue `task` twice; return once both runs wait on the gate, after opening it."""
    ids = [task.apply_async(kwargs=kwargs, queue=worker.queue).id for _ in range(2)]
    try:
        wait_backends_waiting(worker.app_name, count=2)
    finally:
        gate.open()
        gate.close()
    for task_id in ids:
        worker.succeeded(task_id)
    return ids


def test_a_survey_email_queued_twice_is_sent_once(pair_worker):
    customer = CustomerFactory(email="dup-survey@example.com")
    ticket = TicketFactory(customer=customer, external_id="T-DUP-SURVEY", status="resolved")
    # Both deliveries wait on the ticket row (the service locks it first).
    gate = Gate().lock_row(Ticket._meta.db_table, ticket.pk)
    twice(pair_worker, gate, survey_email_task, ticket_id=ticket.pk, round=0)
    sent = [m for m in pair_worker.emails() if "To: dup-survey@example.com" in m]
    assert len(sent) == 1, sent
    assert "T-DUP-SURVEY" in sent[0]
    assert TicketEvent.objects.filter(ticket=ticket, kind="survey", to_value="emailed:0").count() == 1


def test_overlapping_sla_sweeps_and_deliveries_escalate_and_send_once(pair_worker):
    supervisor = UserFactory(username="overlap_super", email="overlap-super@example.com", roles=["supervisor"])
    team = TeamFactory(name="Overlap team", supervisor=supervisor, members=[supervisor])
    customer = CustomerFactory()
    now = timezone.now()
    tickets = [
        BreachedTicketFactory(external_id=f"T-OVERLAP-{n}", customer=customer, team=team, now=now) for n in range(6)
    ]
    # Each sweep holds a ticket and waits to insert its notification: the second skips
    # the first one's ticket (SKIP LOCKED) and holds another.
    twice(pair_worker, Gate().lock_table(NOTIFICATIONS, "EXCLUSIVE"), sla_sweep_task)
    for ticket in tickets:
        assert sorted(Escalation.objects.filter(ticket=ticket).values_list("level", flat=True)) == [1, 2]
        assert TicketEvent.objects.filter(ticket=ticket, kind="escalated").count() == 1
    assert Notification.objects.filter(kind="sla.at_risk").count() == 6
    assert Notification.objects.filter(kind="sla.breached").count() == 6
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"high"}

    # Two deliver runs claim the same 12 e-mails (both wait on the table for the claim).
    outbox_before = len(pair_worker.emails())
    twice(pair_worker, Gate().lock_table(NOTIFICATIONS, "EXCLUSIVE"), notifications_deliver_task)
    sent = pair_worker.emails()[outbox_before:]
    assert len([m for m in sent if "To: overlap-super@example.com" in m]) == 12
    assert set(Notification.objects.values_list("email_status", flat=True)) == {"sent"}


def test_overlapping_alert_evaluations_open_one_alert_and_notify_once(pair_worker):
    AlertRule.objects.all().delete()
    engineer = UserFactory(username="overlap_qe", roles=["quality_engineer"])
    rule = AlertRule.objects.create(
        code="overlap-csat-low",
        name="CSAT low",
        kind="threshold",
        kpi="csat",
        grain="week",
        params={"op": "below", "value": 50},
        recipient_roles=["quality_engineer"],
        channels=["in_app"],
        renotify_minutes=60,
        schedule="hourly",
    )
    # Two poor answers in last week (the last complete one): CSAT 0 % < 50 %.
    today = timezone.localdate()
    last_week = dt.datetime.combine(today - dt.timedelta(days=today.weekday() + 4), dt.time(10), tzinfo=SH)
    for csat in (1, 2):
        ticket = TicketFactory(created_at=last_week - dt.timedelta(days=1))
        SurveyFactory(ticket=ticket, customer=ticket.customer, responded_at=last_week, csat=csat)
    twice(pair_worker, Gate().lock_table(Alert._meta.db_table, "EXCLUSIVE"), alerts_evaluate_task)
    assert Alert.objects.filter(rule=rule).count() == 1
    assert AlertEvaluation.objects.filter(rule=rule, decision="fire").count() == 2  # both runs logged
    assert list(Notification.objects.filter(kind="alert").values_list("recipient", flat=True)) == [engineer.pk]


def test_overlapping_action_reminders_remind_once(pair_worker, team_a):
    engineer = UserFactory(username="overlap_engineer", roles=["quality_engineer"])
    owner = UserFactory(username="overlap_owner")
    issue = issue_create(title="Bearing noise", actor=engineer, owner=engineer, team=team_a)
    today = timezone.localdate()
    soon = action_create(
        issue_id=issue.pk,
        actor=engineer,
        kind="corrective",
        title="Soon",
        owner=owner,
        due_on=today + dt.timedelta(days=1),
    )
    late = action_create(issue_id=issue.pk, actor=engineer, kind="corrective", title="Late", owner=owner, due_on=today)
    Action.objects.filter(pk=late.pk).update(current_due_on=today - dt.timedelta(days=2))
    # One run holds the first action and waits to insert its notice; the other waits on
    # that action's row.
    twice(pair_worker, Gate().lock_table(NOTIFICATIONS, "EXCLUSIVE"), actions_remind_task)
    assert Notification.objects.filter(kind="improvement.action_due").count() == 1
    assert ActionEvent.objects.filter(action=soon, kind="reminded").count() == 1
    # Overdue: the owner and the issue owner (the team has no supervisor), once each.
    overdue = Notification.objects.filter(kind="improvement.action_overdue")
    assert sorted(overdue.values_list("recipient__username", flat=True)) == ["overlap_engineer", "overlap_owner"]
