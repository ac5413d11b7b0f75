"""Quality-committee reviews: meetings, the automatic agenda, decisions and minutes.

A meeting's agenda is built from the data (problems in triage, plans awaiting
approval, overdue actions, problems awaiting verification, open critical alerts); each
item gets one decision, which is applied to its issue through the issue gate in the
same transaction, so a step the gate refuses leaves the item undecided. Each meeting
with a decided item for an issue is one review cycle of that issue (METRICS.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.roles import ADMIN, COMMITTEE_MEMBER, QUALITY_ENGINEER, user_roles
from quality.models import Alert, AlertSeverity, AlertStatus

from ..models import (
    Action,
    ActionKind,
    ActionStatus,
    AgendaItem,
    AgendaKind,
    Decision,
    ImprovementIssue,
    MeetingStatus,
    ReviewMeeting,
    State,
    Verdict,
)
from .issues import (
    OPEN_STATES,
    REOPEN_TO,
    is_committee,
    issue_closing_verdict,
    issue_event,
    issue_plan_approve,
    issue_reopen,
    issue_transition,
)

# Who prepares meetings (create, agenda, minutes); deciding is the committee's alone.
PREPARER_ROLES = frozenset({COMMITTEE_MEMBER, QUALITY_ENGINEER, ADMIN})
# The agenda's order: what needs a decision first, information last.
KIND_ORDER = (
    AgendaKind.NEW_PROBLEM,
    AgendaKind.PLAN_APPROVAL,
    AgendaKind.OVERDUE_ACTION,
    AgendaKind.AWAITING_VERIFICATION,
    AgendaKind.CRITICAL_ALERT,
    AgendaKind.OTHER,
)
# "more analysis" sends the issue back to root cause from these states (the gate's table).
MORE_ANALYSIS_FROM = frozenset({State.ACTION_PLAN, State.VERIFICATION})


def can_prepare(user) -> bool:
    return bool(user_roles(user) & PREPARER_ROLES)


def _require_preparer(actor) -> None:
    if not can_prepare(actor):
        raise ApplicationError(
            _("Only committee members and quality engineers prepare review meetings."),
            errors={"actor": [_("not allowed")]},
        )


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def _meeting_lock(meeting_id: int) -> ReviewMeeting:
    try:
        return lock_one(ReviewMeeting.objects.all(), meeting_id)
    except ReviewMeeting.DoesNotExist:
        raise ApplicationError(_("Review meeting not found."), errors={"meeting": [_("does not exist")]}) from None


def _require_planned(meeting: ReviewMeeting) -> None:
    # A held meeting's agenda is its record; items added later would not have been discussed.
    if meeting.status == MeetingStatus.HELD:
        raise ConflictError(
            _("The meeting has been held; its agenda can no longer change."), errors={"status": [_("held")]}
        )


def latest_verdict(issue: ImprovementIssue) -> str | None:
    return issue_closing_verdict(issue)


def decisions_fitting(item: AgendaItem) -> list[str]:
    """The decisions that fit an item, given its issue's current state (the page offers
    only these; `agenda_item_decide` refuses the others)."""
    issue = item.issue
    if issue is None:
        return [Decision.NOTED]
    fitting = []
    if issue.state == State.ACTION_PLAN:
        fitting.append(Decision.APPROVE_PLAN)
    if issue.state in MORE_ANALYSIS_FROM:
        fitting.append(Decision.MORE_ANALYSIS)
    if issue.state == State.VERIFICATION:
        if latest_verdict(issue) == Verdict.EFFECTIVE:
            fitting.append(Decision.ACCEPT_VERIFICATION)
        fitting.append(Decision.CLOSE)
    if issue.state in REOPEN_TO:
        fitting.append(Decision.REOPEN)
    fitting.append(Decision.NOTED)
    return fitting


@transaction.atomic
def meeting_create(
    *,
    actor,
    title: str,
    held_on: dt.date,
    attendees: Iterable = (),
    chair=None,
    location: str = "",
) -> ReviewMeeting:
    """A planned meeting. Committee members, quality engineers and admins prepare meetings."""
    _require_preparer(actor)
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("This field is required.")]
    elif len(title) > ReviewMeeting._meta.get_field("title").max_length:
        errors["title"] = [_("At most %(limit)s characters.") % {"limit": 255}]
    if not isinstance(held_on, dt.date) or isinstance(held_on, dt.datetime):
        errors["held_on"] = [_("Give a date.")]
    attendees = list(attendees or ())
    user_model = get_user_model()
    if any(not isinstance(user, user_model) for user in [*attendees, *([chair] if chair else [])]):
        errors["attendees"] = [_("Give users.")]
    if errors:
        raise ApplicationError(_("The review meeting was not created."), errors=errors)
    meeting = ReviewMeeting.objects.create(
        title=title,
        held_on=held_on,
        location=(location or "").strip(),
        chair=chair,
        created_by=actor,
        created_at=timezone.now(),
    )
    if attendees:
        meeting.attendees.set(attendees)
    return meeting


def _agenda_candidates(meeting: ReviewMeeting) -> list[tuple[str, str, int | None, int | None, int | None]]:
    """(kind, sort key, issue id, action id, alert id) of everything the data puts on the agenda."""
    rows: list[tuple[str, str, int | None, int | None, int | None]] = []
    for pk, code in ImprovementIssue.objects.filter(state=State.TRIAGE).values_list("pk", "code"):
        rows.append((AgendaKind.NEW_PROBLEM, code, pk, None, None))
    corrective = Action.objects.filter(issue=OuterRef("pk"), kind=ActionKind.CORRECTIVE).exclude(
        status=ActionStatus.CANCELLED
    )
    awaiting_approval = ImprovementIssue.objects.filter(
        Exists(corrective), state=State.ACTION_PLAN, plan_approved_at__isnull=True
    )
    for pk, code in awaiting_approval.values_list("pk", "code"):
        rows.append((AgendaKind.PLAN_APPROVAL, code, pk, None, None))
    overdue = Action.objects.filter(issue__state__in=OPEN_STATES, current_due_on__lt=meeting.held_on).exclude(
        status__in=(ActionStatus.DONE, ActionStatus.CANCELLED)
    )
    for pk, issue_id, code in overdue.values_list("pk", "issue_id", "issue__code"):
        rows.append((AgendaKind.OVERDUE_ACTION, f"{code}:{pk:010d}", issue_id, pk, None))
    for pk, code in ImprovementIssue.objects.filter(state=State.VERIFICATION).values_list("pk", "code"):
        rows.append((AgendaKind.AWAITING_VERIFICATION, code, pk, None, None))
    critical = Alert.objects.filter(severity=AlertSeverity.CRITICAL).exclude(status=AlertStatus.RESOLVED)
    for pk in critical.values_list("pk", flat=True):
        rows.append((AgendaKind.CRITICAL_ALERT, f"{pk:010d}", None, None, pk))
    rows.sort(key=lambda row: (KIND_ORDER.index(row[0]), row[1]))
    return rows


@transaction.atomic
def meeting_agenda_build(*, meeting_id: int, actor, now=None) -> int:
    """Add the automatic agenda: new problems in triage, plans awaiting approval,
    overdue actions, problems awaiting verification, open critical alerts. Idempotent:
    an item whose (kind, issue, action, alert) is already on the meeting is not added
    again (the meeting row lock serialises two builds). Overdue counts against the
    meeting's date, not the clock (`now` is accepted for the agreed signature). Returns
    the number added."""
    _require_preparer(actor)
    meeting = _meeting_lock(meeting_id)
    _require_planned(meeting)
    present = set(meeting.items.values_list("kind", "issue_id", "action_id", "alert_id"))
    position = meeting.items.aggregate(m=Max("position"))["m"] or 0
    new_items = []
    for kind, _key, issue_id, action_id, alert_id in _agenda_candidates(meeting):
        if (kind, issue_id, action_id, alert_id) in present:
            continue
        position += 1
        new_items.append(
            AgendaItem(
                meeting=meeting, position=position, kind=kind, issue_id=issue_id, action_id=action_id, alert_id=alert_id
            )
        )
    AgendaItem.objects.bulk_create(new_items)
    return len(new_items)


@transaction.atomic
def agenda_item_add(*, meeting_id: int, actor, issue_id: int | None = None, kind: str = "other") -> AgendaItem:
    """A manual agenda item (an issue someone wants discussed), after the existing items."""
    _require_preparer(actor)
    meeting = _meeting_lock(meeting_id)
    _require_planned(meeting)
    if kind not in AgendaKind.values:
        raise ApplicationError(
            _("Unknown agenda kind."), errors={"kind": [_("“%(value)s” is not a valid choice.") % {"value": kind}]}
        )
    if issue_id is not None and not ImprovementIssue.objects.filter(pk=issue_id).exists():
        raise ApplicationError(_("Improvement issue not found."), errors={"issue": [_("does not exist")]})
    if issue_id is None and kind == AgendaKind.OTHER:
        raise ApplicationError(_("Choose the issue to discuss."), errors={"issue": [_("This field is required.")]})
    if meeting.items.filter(kind=kind, issue_id=issue_id, action__isnull=True, alert__isnull=True).exists():
        raise ConflictError(_("This issue is already on the agenda."), errors={"issue": [_("already on the agenda")]})
    position = (meeting.items.aggregate(m=Max("position"))["m"] or 0) + 1
    return AgendaItem.objects.create(meeting=meeting, position=position, kind=kind, issue_id=issue_id)


def _apply(item: AgendaItem, *, decision: str, actor, minutes: str, at: dt.datetime) -> None:
    """Apply a decision to the item's issue through the gate; raises (and so rolls back
    the whole decision) when the decision does not fit or the gate refuses."""
    issue = item.issue
    if decision == Decision.NOTED:
        return
    if issue is None:
        raise ConflictError(
            _("Only “Noted” fits an item without an improvement issue."), errors={"decision": [_("does not fit")]}
        )
    if decision == Decision.APPROVE_PLAN:
        issue_plan_approve(issue_id=issue.pk, actor=actor, comment=minutes, at=at)
    elif decision == Decision.MORE_ANALYSIS:
        if issue.state not in MORE_ANALYSIS_FROM:
            raise ConflictError(
                _("More analysis fits an issue in the action plan or in verification."),
                errors={"decision": [_("does not fit")]},
            )
        issue_transition(issue_id=issue.pk, to_state=State.ROOT_CAUSE, actor=actor, reason=minutes, at=at)
    elif decision == Decision.ACCEPT_VERIFICATION:
        if issue.state != State.VERIFICATION or latest_verdict(issue) != Verdict.EFFECTIVE:
            raise ConflictError(
                _("Accepting the verification needs the issue in verification with an effective latest verification."),
                errors={"decision": [_("no effective verification")]},
            )
        issue_transition(issue_id=issue.pk, to_state=State.CLOSED, actor=actor, reason=minutes, at=at)
    elif decision == Decision.CLOSE:
        # The minutes are the committee's override reason when the data did not prove the fix.
        issue_transition(issue_id=issue.pk, to_state=State.CLOSED, actor=actor, override_reason=minutes, at=at)
    elif decision == Decision.REOPEN:
        issue_reopen(issue_id=issue.pk, actor=actor, reason=minutes, at=at)


@transaction.atomic
def agenda_item_decide(*, item_id: int, actor, decision: str, minutes: str = "", at=None) -> AgendaItem:
    """Record a decision and its minutes; applies it to the issue (approve_plan,
    more_analysis, accept_verification, close, reopen, noted) through the gate in this
    transaction. Committee members and admins only; an item is decided once. Locks the
    item, then the issue (through the gate)."""
    at = _now(at)
    if not is_committee(actor):
        raise ApplicationError(
            _("Only a committee member can record a decision."), errors={"actor": [_("not a committee member")]}
        )
    if decision not in Decision.values:
        raise ApplicationError(
            _("Unknown decision."),
            errors={"decision": [_("“%(value)s” is not a valid choice.") % {"value": decision}]},
        )
    try:
        item = lock_one(AgendaItem.objects.all(), item_id)
    except AgendaItem.DoesNotExist:
        raise ApplicationError(_("Agenda item not found."), errors={"item": [_("does not exist")]}) from None
    if item.decision:
        raise ConflictError(
            _("This item has already been decided (%(decision)s).") % {"decision": Decision(item.decision).label},
            errors={"decision": [_("already decided")]},
        )
    minutes = (minutes or "").strip()
    if decision == Decision.REOPEN and not minutes:
        raise ApplicationError(
            _("Reopening needs the reason in the minutes."), errors={"minutes": [_("This field is required.")]}
        )
    _apply(item, decision=decision, actor=actor, minutes=minutes, at=at)
    item.decision = decision
    item.minutes = minutes
    item.decided_at = at
    item.decided_by = actor
    item.save(update_fields=["decision", "minutes", "decided_at", "decided_by"])
    if item.issue_id is not None:
        issue_event(
            item.issue,
            actor=actor,
            at=at,
            kind="review",
            from_value=item.meeting_id,
            to_value=decision,
            comment=minutes,
        )
    return item


@transaction.atomic
def meeting_hold(*, meeting_id: int, actor, minutes: str = "") -> ReviewMeeting:
    """Mark the meeting held and store its general minutes (again: updates the minutes)."""
    _require_preparer(actor)
    meeting = _meeting_lock(meeting_id)
    meeting.status = MeetingStatus.HELD
    meeting.minutes = (minutes or "").strip()
    meeting.save(update_fields=["status", "minutes"])
    return meeting


__all__ = [
    "KIND_ORDER",
    "agenda_item_add",
    "agenda_item_decide",
    "can_prepare",
    "decisions_fitting",
    "latest_verdict",
    "meeting_agenda_build",
    "meeting_create",
    "meeting_hold",
]
