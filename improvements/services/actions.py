"""Actions with owners: the original due date is frozen, every change of the current
due date is logged with a reason; reminders before the due date and escalation when
overdue run daily and at most once per action and day.

Writes lock the issue, then the action (the gate reads the actions' statuses under the
issue's lock, so a status change never slips past a transition), and append one
ActionEvent plus one ImprovementEvent on the issue's timeline."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from tickets.services import notification_send

from ..models import Action, ActionEvent, ActionKind, ActionStatus, Cause, ImprovementIssue
from .issues import OPEN_STATES, issue_event, issue_lock

OPEN_ACTION = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
_TITLE_MAX = Action._meta.get_field("title").max_length
# The issue timeline's kind (max 16 characters) for each ActionEvent kind.
ISSUE_EVENT_KINDS = {
    "created": "action_added",
    "updated": "action_updated",
    "owner": "action_owner",
    "due_changed": "action_due",
    "status": "action_status",
}


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def issue_url(issue_id: int) -> str:
    try:
        return reverse("improvements:issue-detail", kwargs={"pk": issue_id})
    except NoReverseMatch:  # the pages may not be mounted (yet)
        return f"/improvements/issues/{issue_id}/"


def _as_date(value, name: str, errors: dict) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, str):
        value = parse_date(value.strip()) if value.strip() else None
    if not isinstance(value, dt.date):
        errors[name] = [_("Give a date (YYYY-MM-DD).")]
        return None
    return value


def _user(value, name: str, errors: dict):
    """An active user, given as a user or a primary key."""
    user_model = get_user_model()
    if value is None or value == "":
        errors[name] = [_("This field is required.")]
        return None
    pk = value.pk if isinstance(value, user_model) else value
    user = user_model.objects.filter(pk=pk, is_active=True).first() if str(pk).isdigit() else None
    if user is None:
        errors[name] = [_("Choose an active user.")]
    return user


def _title(value: str | None, errors: dict) -> str:
    title = (value or "").strip()
    if not title:
        errors["title"] = [_("This field is required.")]
    elif len(title) > _TITLE_MAX:
        errors["title"] = [_("At most %(limit)s characters.") % {"limit": _TITLE_MAX}]
    return title


def _require_open(issue: ImprovementIssue) -> None:
    if issue.state not in OPEN_STATES:
        raise ConflictError(
            _("The actions of a closed, rejected or cancelled issue cannot change; reopen it first."),
            errors={"state": [_("not open")]},
        )


def _action_locked(action_id: int) -> tuple[Action, ImprovementIssue]:
    issue_id = Action.objects.filter(pk=action_id).values_list("issue_id", flat=True).first()
    if issue_id is None:
        raise ApplicationError(_("Action not found."), errors={"action": [_("does not exist")]})
    issue = issue_lock(issue_id)
    return lock_one(Action.objects.all(), action_id), issue


def _log(action: Action, issue: ImprovementIssue, *, actor, at, kind: str, from_value="", to_value="", comment=""):
    ActionEvent.objects.create(
        action=action,
        actor=actor,
        at=at,
        kind=kind,
        from_value=str(from_value)[:64],
        to_value=str(to_value)[:64],
        comment=comment,
    )
    issue_event(
        issue,
        actor=actor,
        at=at,
        kind=ISSUE_EVENT_KINDS[kind],
        from_value=from_value,
        to_value=to_value,
        comment=f"{action.title}: {comment}" if comment else action.title,
    )


@transaction.atomic
def action_create(
    *, issue_id: int, actor, kind: str, title: str, owner, due_on, description: str = "", cause_id=None, at=None
) -> Action:
    """A new open action of an open issue; `due_on` (the original due date, frozen for
    the on-time figures) and `current_due_on` both start at the given date."""
    at = _now(at)
    issue = issue_lock(issue_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    if kind not in ActionKind.values:
        errors["kind"] = [_("“%(value)s” is not a valid choice.") % {"value": kind}]
    text = _title(title, errors)
    user = _user(owner, "owner", errors)
    due = _as_date(due_on, "due_on", errors)
    if due is not None and due < timezone.localdate(at):
        errors["due_on"] = [_("The due date cannot be in the past.")]
    cause = None
    if cause_id not in (None, ""):
        cause = Cause.objects.filter(pk=cause_id, issue=issue).first() if str(cause_id).isdigit() else None
        if cause is None:
            errors["cause"] = [_("Choose a cause of this issue.")]
    if errors:
        raise ApplicationError(_("The action was not created."), errors=errors)
    action = Action.objects.create(
        issue=issue,
        cause=cause,
        kind=kind,
        title=text,
        description=(description or "").strip(),
        owner=user,
        due_on=due,
        current_due_on=due,
        created_at=at,
        created_by=actor,
    )
    _log(action, issue, actor=actor, at=at, kind="created", to_value=due.isoformat(), comment=kind)
    return action


@transaction.atomic
def action_update(
    *, action_id: int, actor, title: str | None = None, description: str | None = None, owner=None
) -> Action:
    """Reword an action or hand it to another owner (the change of owner is logged)."""
    action, issue = _action_locked(action_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    changes = {}
    if title is not None:
        changes["title"] = _title(title, errors)
    if description is not None:
        changes["description"] = description.strip()
    if owner is not None:
        changes["owner"] = _user(owner, "owner", errors)
    if errors:
        raise ApplicationError(_("The action was not changed."), errors=errors)
    changed = [name for name, value in changes.items() if getattr(action, name) != value]
    if not changed:
        return action
    before_owner = action.owner
    for name in changed:
        setattr(action, name, changes[name])
    action.save(update_fields=changed)
    at = timezone.now()
    if "owner" in changed:
        _log(action, issue, actor=actor, at=at, kind="owner", from_value=before_owner, to_value=action.owner)
    texts = [name for name in changed if name != "owner"]
    if texts:
        _log(action, issue, actor=actor, at=at, kind="updated", comment=", ".join(texts))
    return action


@transaction.atomic
def action_due_change(*, action_id: int, actor, due_on, reason: str, at=None) -> Action:
    """Move the current due date, with a reason. The original `due_on` never changes."""
    at = _now(at)
    action, issue = _action_locked(action_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    text = (reason or "").strip()
    if not text:
        errors["reason"] = [_("Say why the due date moves.")]
    new = _as_date(due_on, "due_on", errors)
    if new is not None:
        if new == action.current_due_on:
            errors["due_on"] = [_("The action is already due on that date.")]
        elif new < timezone.localdate(at):
            errors["due_on"] = [_("The due date cannot be in the past.")]
    if action.status not in OPEN_ACTION:
        errors["status"] = [_("Only an open action has a due date to move.")]
    if errors:
        raise ApplicationError(_("The due date was not changed."), errors=errors)
    before = action.current_due_on
    action.current_due_on = new
    action.save(update_fields=["current_due_on"])
    _log(
        action,
        issue,
        actor=actor,
        at=at,
        kind="due_changed",
        from_value=before.isoformat(),
        to_value=new.isoformat(),
        comment=text,
    )
    return action


@transaction.atomic
def action_status_set(*, action_id: int, actor, status: str, evidence: str = "", completed_on=None, at=None) -> Action:
    """open / in_progress / done (needs completion evidence; completed_on defaults to the
    local date, never in the future) / cancelled (needs a reason in evidence). Leaving
    done clears the completion. Setting the current status again writes nothing."""
    at = _now(at)
    action, issue = _action_locked(action_id)
    _require_open(issue)
    if status not in ActionStatus.values:
        raise ApplicationError(
            _("Unknown status."), errors={"status": [_("“%(value)s” is not a valid choice.") % {"value": status}]}
        )
    if status == action.status:
        return action
    text = (evidence or "").strip()
    today = timezone.localdate(at)
    errors: dict[str, list[str]] = {}
    fields = ["status"]
    if status == ActionStatus.DONE:
        if not text:
            errors["evidence"] = [_("Describe the evidence that the action is done.")]
        day = today if completed_on in (None, "") else _as_date(completed_on, "completed_on", errors)
        if day is not None and day > today:
            errors["completed_on"] = [_("The completion date cannot be in the future.")]
        elif day is not None and day < timezone.localdate(action.created_at):
            errors["completed_on"] = [_("The action cannot be completed before it was created.")]
        if errors:
            raise ApplicationError(_("The action was not marked done."), errors=errors)
        action.completed_on, action.completed_at, action.completion_evidence = day, at, text
        fields += ["completed_on", "completed_at", "completion_evidence"]
    elif status == ActionStatus.CANCELLED:
        if not text:
            raise ApplicationError(
                _("A reason is required."), errors={"evidence": [_("Say why the action is cancelled.")]}
            )
        action.completed_on, action.completed_at, action.completion_evidence = None, None, text
        fields += ["completed_on", "completed_at", "completion_evidence"]
    elif action.status in (ActionStatus.DONE, ActionStatus.CANCELLED):
        # Reopened: the completion (or the cancellation's reason) no longer holds.
        action.completed_on, action.completed_at, action.completion_evidence = None, None, ""
        fields += ["completed_on", "completed_at", "completion_evidence"]
    before = action.status
    action.status = status
    action.save(update_fields=fields)
    _log(action, issue, actor=actor, at=at, kind="status", from_value=before, to_value=status, comment=text)
    return action


# --- the daily job -------------------------------------------------------------------------


def _due_soon(today: dt.date, days: int):
    return Action.objects.filter(
        status__in=OPEN_ACTION,
        issue__state__in=OPEN_STATES,
        current_due_on__gte=today,
        current_due_on__lte=today + dt.timedelta(days=days),
    ).exclude(reminded_on=today)


def _overdue(today: dt.date):
    return Action.objects.filter(
        status__in=OPEN_ACTION, issue__state__in=OPEN_STATES, current_due_on__lt=today
    ).exclude(escalated_on=today)


def _params(action: Action, issue: ImprovementIssue, today: dt.date) -> dict:
    return {
        "action": action.title,
        "due": action.current_due_on.isoformat(),
        "days": abs((action.current_due_on - today).days),
        "issue": issue.code,
        "issue_title": issue.title,
    }


def _remind_one(action_id: int, *, today: dt.date, days: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        # Re-checked under the row lock: a second worker finds the mark and does nothing.
        action = lock_one(Action.objects.all(), action_id)
        if not _due_soon(today, days).filter(pk=action_id).exists():
            return False
        issue = action.issue
        notification_send(
            recipients=[action.owner],
            kind="improvement.action_due",
            title=gettext_lazy("Action due on %(due)s: %(action)s"),
            body=gettext_lazy("Your action for improvement issue %(issue)s (%(issue_title)s) is due on %(due)s."),
            params=_params(action, issue, today),
            url=issue_url(issue.pk),
            payload={"action": action.pk, "issue": issue.code, "due_on": action.current_due_on},
            dedupe_key=f"imp-action-due:{action.pk}:{today}",
            at=now,
        )
        action.reminded_on = today
        action.save(update_fields=["reminded_on"])
        ActionEvent.objects.create(action=action, at=now, kind="reminded", to_value=today.isoformat())
        return True


def _escalate_one(action_id: int, *, today: dt.date, now: dt.datetime) -> bool:
    with transaction.atomic():
        action = lock_one(Action.objects.all(), action_id)
        if not _overdue(today).filter(pk=action_id).exists():
            return False
        issue = action.issue
        supervisor = issue.team.supervisor if issue.team_id else None
        notification_send(
            recipients=[action.owner, issue.owner, supervisor],
            kind="improvement.action_overdue",
            title=gettext_lazy("Overdue action: %(action)s"),
            body=gettext_lazy(
                "The action of improvement issue %(issue)s (%(issue_title)s) was due on %(due)s, "
                "%(days)s day(s) ago, and is not done."
            ),
            params=_params(action, issue, today),
            url=issue_url(issue.pk),
            payload={"action": action.pk, "issue": issue.code, "due_on": action.current_due_on},
            urgent=False,
            dedupe_key=f"imp-action-overdue:{action.pk}:{today}",
            at=now,
        )
        action.escalated_on = today
        action.save(update_fields=["escalated_on"])
        ActionEvent.objects.create(action=action, at=now, kind="escalated", to_value=today.isoformat())
        return True


def actions_remind(*, now=None) -> dict:
    """The daily job: remind owners of actions due within IMPROVEMENT_REMINDER_DAYS and
    escalate overdue ones to the issue owner and team supervisors. Idempotent: each
    action is locked and its day mark re-checked before sending (dedupe keys too)."""
    now = _now(now)
    today = timezone.localdate(now)
    days = getattr(settings, "IMPROVEMENT_REMINDER_DAYS", 3)
    reminded = sum(
        _remind_one(pk, today=today, days=days, now=now)
        for pk in _due_soon(today, days).order_by("pk").values_list("pk", flat=True)
    )
    escalated = sum(
        _escalate_one(pk, today=today, now=now) for pk in _overdue(today).order_by("pk").values_list("pk", flat=True)
    )
    return {"reminded": reminded, "escalated": escalated}
