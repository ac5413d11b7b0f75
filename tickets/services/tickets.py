"""Every write of the service operation. Each public service runs in one transaction,
locks the ticket row, checks the optimistic version, saves only the fields it changed
and appends exactly one event per applied change. A refused change writes nothing."""

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import Customer, Unit, User

from ..models import (
    Channel,
    DispatchMethod,
    EventKind,
    Priority,
    Status,
    Team,
    Ticket,
    TicketEvent,
    TicketType,
)

# The lifecycle. Entering ASSIGNED happens through ticket_assign (it needs an assignee).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.ASSIGNED}),
    Status.ASSIGNED: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_CUSTOMER, Status.RESOLVED}),
    Status.WAITING_CUSTOMER: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset({Status.IN_PROGRESS}),
}
REOPEN_FROM = frozenset({Status.RESOLVED, Status.CLOSED})
ASSIGNABLE = frozenset({Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER})


class InvalidTransition(ConflictError):
    pass


class StaleVersion(ConflictError):
    pass


def transition_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def allowed_transitions(ticket: Ticket) -> list[str]:
    return sorted(TRANSITIONS.get(ticket.status, frozenset()) - {Status.ASSIGNED})


@dataclass
class _Change:
    """What one service call changes: fields to save and the event to append."""

    kind: str
    fields: dict = field(default_factory=dict)
    from_value: str = ""
    to_value: str = ""
    comment: str = ""
    public: bool = False


def _lock(ticket_id: int, expected_version: int | None) -> Ticket:
    try:
        ticket = lock_one(Ticket.objects.all(), ticket_id)
    except Ticket.DoesNotExist:
        raise ApplicationError(_("Ticket not found."), errors={"ticket": [_("does not exist")]}) from None
    if expected_version is not None and expected_version != ticket.version:
        raise StaleVersion(
            _("The ticket was changed by someone else (version %(current)s, yours %(yours)s). Reload and retry.")
            % {"current": ticket.version, "yours": expected_version},
            errors={"version": [_("stale")]},
        )
    return ticket


def _apply(ticket: Ticket, change: _Change, *, actor: User | None, at: datetime) -> Ticket:
    """The single write point: saves the changed fields plus the version, appends the event."""
    if at < ticket.created_at:
        # The timeline cannot start before the ticket (and the row's check constraints
        # would refuse the stamps with an IntegrityError).
        raise ApplicationError(
            _("A change cannot happen before the ticket was created."),
            errors={"at": [_("before the ticket's creation")]},
        )
    if "status" in change.fields or "first_response_at" in change.fields:
        # The SLA clock follows: pause, resume, reopen, met targets, next checkpoint.
        from .sla import sla_change_fields

        change.fields.update(sla_change_fields(ticket, change.fields, at=at))
    for name, value in change.fields.items():
        setattr(ticket, name, value)
    ticket.version += 1
    ticket.save(update_fields=[*change.fields, "version", "updated_at"])
    TicketEvent.objects.create(
        ticket=ticket,
        actor=actor,
        at=at,
        kind=change.kind,
        from_value=change.from_value,
        to_value=change.to_value,
        comment=change.comment,
        public=change.public,
    )
    return ticket


def _now(at: datetime | None) -> datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def _new_external_id(at: datetime) -> str:
    return f"T{timezone.localtime(at):%Y%m%d}-{secrets.token_hex(3).upper()}"


def _check_choice(value: str, choices, name: str, errors: dict) -> None:
    if value not in choices.values:
        errors.setdefault(name, []).append(_("“%(value)s” is not a valid choice.") % {"value": value})


def _check_length(value: str, name: str, errors: dict) -> None:
    limit = Ticket._meta.get_field(name).max_length
    if len(value) > limit:
        errors.setdefault(name, []).append(_("At most %(limit)s characters.") % {"limit": limit})


def _insert_ticket(*, external_id: str | None, at: datetime, **values) -> Ticket:
    """INSERT in a savepoint. A taken number (also one taken by a concurrent request
    between any check and this insert) is a refusal, not an IntegrityError; a generated
    number that happens to collide is drawn again."""
    for _attempt in range(3):
        number = external_id or _new_external_id(at)
        try:
            with transaction.atomic():
                return Ticket.objects.create(external_id=number, created_at=at, **values)
        except IntegrityError:
            if not Ticket.objects.filter(external_id=number).exists():
                raise
            if external_id:
                raise ApplicationError(
                    _("The ticket was not created."),
                    errors={"external_id": [_("A ticket with this number already exists.")]},
                )
    raise ConflictError(_("Could not draw a free ticket number; retry."), errors={"external_id": [_("taken")]})


@transaction.atomic
def ticket_create(
    *,
    actor: User | None,
    customer: Customer,
    subject: str,
    type: str,
    channel: str,
    priority: str = Priority.NORMAL,
    description: str = "",
    unit: Unit | None = None,
    team: Team | None = None,
    assignee: User | None = None,
    external_id: str | None = None,
    at: datetime | None = None,
    skill: str = "",
    dispatch: bool = True,
) -> Ticket:
    """Create a ticket (status new, or assigned when an assignee is given) and its
    `created` event. Validates everything first, so a refusal writes nothing. Without
    an assignee it is auto-dispatched in the same transaction (tickets.services.dispatch)
    unless dispatch=False."""
    at = _now(at)
    errors: dict[str, list[str]] = {}
    if not (subject or "").strip():
        errors["subject"] = [_("This field is required.")]
    _check_choice(type, TicketType, "type", errors)
    _check_choice(channel, Channel, "channel", errors)
    _check_choice(priority, Priority, "priority", errors)
    _check_length((subject or "").strip(), "subject", errors)
    _check_length(skill, "skill", errors)
    if external_id is not None:
        if not external_id.strip():
            errors["external_id"] = [_("This field may not be blank.")]
        _check_length(external_id, "external_id", errors)
    if assignee is not None and team is not None and not team.members.filter(pk=assignee.pk).exists():
        errors["assignee"] = [_("%(user)s is not a member of team %(team)s.") % {"user": assignee, "team": team}]
    if errors:
        raise ApplicationError(_("The ticket was not created."), errors=errors)

    ticket = _insert_ticket(
        external_id=external_id,
        at=at,
        customer=customer,
        unit=unit,
        type=type,
        channel=channel,
        priority=priority,
        subject=subject.strip(),
        description=description,
        team=team,
        skill=skill,
    )
    TicketEvent.objects.create(
        ticket=ticket, actor=actor, at=at, kind=EventKind.CREATED, to_value=Status.NEW, public=True
    )
    if assignee is not None:
        ticket = ticket_assign(ticket_id=ticket.pk, assignee=assignee, actor=actor, at=at)
    elif dispatch:
        from .dispatch import ticket_dispatch  # dispatch builds on this module's gate

        ticket = ticket_dispatch(ticket_id=ticket.pk, actor=actor, at=at)
    from .sla import sla_ticket_start  # the SLA builds on this module's gate

    return sla_ticket_start(ticket=ticket, at=at)


@transaction.atomic
def ticket_transition(
    *,
    ticket_id: int,
    to_status: str,
    actor: User | None,
    expected_version: int | None = None,
    comment: str = "",
    at: datetime | None = None,
) -> Ticket:
    """Move a ticket along TRANSITIONS, stamping resolved/closed times; reopening
    (resolved/closed -> in_progress) counts reopened_count and clears them."""
    at = _now(at)
    ticket = _lock(ticket_id, expected_version)
    if to_status not in Status.values:
        raise ApplicationError(
            _("Unknown status."), errors={"status": [_("“%(value)s” is not a valid choice.") % {"value": to_status}]}
        )
    if not transition_allowed(ticket.status, to_status):
        raise InvalidTransition(
            _("A ticket cannot go from “%(from)s” to “%(to)s”.")
            % {"from": Status(ticket.status).label, "to": Status(to_status).label},
            errors={"status": [_("transition not allowed")]},
        )
    if to_status == Status.ASSIGNED:
        raise ApplicationError(
            _("Assign the ticket to someone to mark it assigned."), errors={"assignee": [_("This field is required.")]}
        )
    fields: dict = {"status": to_status}
    if to_status == Status.RESOLVED:
        fields["resolved_at"] = at
    elif to_status == Status.CLOSED:
        if ticket.resolved_at is not None and at < ticket.resolved_at:
            raise ApplicationError(
                _("A ticket cannot be closed before it was resolved."), errors={"at": [_("before the resolution")]}
            )
        fields["closed_at"] = at
    elif to_status == Status.IN_PROGRESS and ticket.status in REOPEN_FROM:
        fields.update(reopened_count=ticket.reopened_count + 1, resolved_at=None, closed_at=None)
    change = _Change(
        kind=EventKind.STATUS, fields=fields, from_value=ticket.status, to_value=to_status, comment=comment, public=True
    )
    ticket = _apply(ticket, change, actor=actor, at=at)
    if to_status == Status.RESOLVED:
        from .followups import ticket_resolved_followups  # follow-ups build on this module's gate

        ticket_resolved_followups(ticket=ticket, at=at)
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    ticket_id: int,
    assignee: User,
    actor: User | None,
    team: Team | None = None,
    method: str = DispatchMethod.MANUAL,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> Ticket:
    """(Re)assign a ticket. The first assignment stamps assigned_at and moves a new
    ticket to assigned; a later change of assignee counts one reassignment."""
    at = _now(at)
    ticket = _lock(ticket_id, expected_version)
    if ticket.status not in ASSIGNABLE:
        raise InvalidTransition(
            _("A resolved or closed ticket cannot be reassigned; reopen it first."),
            errors={"assignee": [_("ticket is %(status)s") % {"status": Status(ticket.status).label}]},
        )
    team = team or ticket.team
    if team is not None and not team.members.filter(pk=assignee.pk).exists():
        raise ApplicationError(
            _("%(user)s is not a member of team %(team)s.") % {"user": assignee, "team": team},
            errors={"assignee": [_("not a member of the team")]},
        )
    if ticket.assignee_id == assignee.pk and ticket.team_id == (team.pk if team else None):
        raise ConflictError(
            _("The ticket is already assigned to %(user)s.") % {"user": assignee}, errors={"assignee": [_("unchanged")]}
        )
    fields: dict = {"assignee": assignee, "team": team}
    if ticket.assigned_at is None:
        fields.update(assigned_at=at, dispatch_method=method)
    elif ticket.assignee_id is not None and ticket.assignee_id != assignee.pk:
        fields["reassignments"] = ticket.reassignments + 1
    if ticket.status == Status.NEW:
        fields["status"] = Status.ASSIGNED
    change = _Change(
        kind=EventKind.ASSIGNED,
        fields=fields,
        from_value=ticket.assignee.get_username() if ticket.assignee_id else "",
        to_value=assignee.get_username(),
    )
    return _apply(ticket, change, actor=actor, at=at)


@transaction.atomic
def ticket_comment(
    *,
    ticket_id: int,
    actor: User | None,
    body: str,
    public: bool,
    expected_version: int | None = None,
    at: datetime | None = None,
) -> Ticket:
    """Add a reply to the customer (public) or an internal note. The first public reply
    by an agent is the first response and stamps first_response_at."""
    at = _now(at)
    if not (body or "").strip():
        raise ApplicationError(_("The comment is empty."), errors={"body": [_("This field is required.")]})
    ticket = _lock(ticket_id, expected_version)
    fields: dict = {}
    if public and actor is not None and ticket.first_response_at is None:
        fields["first_response_at"] = at
    change = _Change(
        kind=EventKind.REPLY if public else EventKind.NOTE, fields=fields, comment=body.strip(), public=public
    )
    return _apply(ticket, change, actor=actor, at=at)
