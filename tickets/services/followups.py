"""Work owed to the customer after a resolution: the follow-up (回访) created when a
ticket is resolved, and its recording; the low-score callback (surveys.py creates it)
is completed here too. Locks: the ticket row first, then the task row (the gate's order)."""

import datetime as dt
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import User

from ..models import EventKind, ServiceTask, TaskKind, Ticket
from ..tasks import survey_email_task
from .tickets import _apply, _Change, _lock, _now

OUTCOME_MAX_CHARS = 4000


class NotAllowed(ApplicationError):
    """The user may see the ticket but does not work it (HTTP 403)."""

    status_code = 403


def user_can_work_ticket(user: User | None, ticket: Ticket) -> bool:
    """Members and the supervisor of the ticket's team, its assignee, and staff."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser or ticket.assignee_id == user.pk:
        return True
    team = ticket.team
    if team is None:
        return False
    return team.supervisor_id == user.pk or team.members.filter(pk=user.pk).exists()


def ticket_resolved_followups(*, ticket: Ticket, at: datetime) -> ServiceTask:
    """Called by the gate inside the resolve transaction, with the ticket locked: the
    follow-up of this resolution round (reopened_count), due FOLLOW_UP_HOURS later, for
    the ticket's team; and the survey e-mail, queued on commit, when the customer has an
    address. The unique (ticket, kind, round) makes a repeated call a no-op."""
    round = ticket.reopened_count
    task, created = ServiceTask.objects.get_or_create(
        ticket=ticket,
        kind=TaskKind.FOLLOW_UP,
        round=round,
        defaults={
            "team": ticket.team,
            "created_at": at,
            "due_at": at + dt.timedelta(hours=settings.FOLLOW_UP_HOURS),
        },
    )
    if created and ticket.customer.email:
        survey_email_task.delay_on_commit(ticket.pk, round)
    return task


@transaction.atomic
def service_task_complete(*, task_id: int, actor: User, outcome: str, at: datetime | None = None) -> ServiceTask:
    """Record a follow-up or a callback as done, once (a second time is a 409). A
    follow-up stamps the ticket's follow_up_at through the gate, with an internal
    follow_up event carrying the outcome; a callback only completes."""
    at = _now(at)
    outcome = (outcome or "").strip()
    if not outcome:
        raise ApplicationError(_("Describe the outcome."), errors={"outcome": [_("This field is required.")]})
    if len(outcome) > OUTCOME_MAX_CHARS:
        raise ApplicationError(
            _("The outcome is too long."),
            errors={"outcome": [_("At most %(limit)s characters.") % {"limit": OUTCOME_MAX_CHARS}]},
        )
    ticket_id = ServiceTask.objects.filter(pk=task_id).values_list("ticket_id", flat=True).first()
    if ticket_id is None:
        raise ApplicationError(_("Task not found."), errors={"task": [_("does not exist")]})
    ticket = _lock(ticket_id, None)
    task = lock_one(ServiceTask.objects.all(), task_id)
    if not user_can_work_ticket(actor, ticket):
        raise NotAllowed(_("Only the ticket's team can do this."), errors={"task": [_("not your team")]})
    if task.done_at is not None:
        done = f"{timezone.localtime(task.done_at):%Y-%m-%d %H:%M}"
        raise ConflictError(
            _("This task was already recorded on %(date)s.") % {"date": done},
            errors={"task": [_("already done")]},
        )
    task.done_at, task.done_by, task.outcome = at, actor, outcome
    task.save(update_fields=["done_at", "done_by", "outcome"])
    if task.kind == TaskKind.FOLLOW_UP:
        change = _Change(kind=EventKind.FOLLOW_UP, fields={"follow_up_at": at}, comment=outcome)
        _apply(ticket, change, actor=actor, at=at)
    return task
