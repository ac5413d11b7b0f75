"""Writes of recall campaigns (issue 6): the campaign's lifecycle, its affected units,
each unit's status and its remedy ticket.

Every change locks the recall row first (catalog.db.lock_one), so two users, or a user
and the daily sync, never interleave on one campaign; each state change writes a
RecallEvent row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import Batch
from tickets.models import Channel, Ticket, TicketType

from ..models import (
    Recall,
    RecallEvent,
    RecallSerialRange,
    RecallSeverity,
    RecallState,
    RecallUnit,
    RecallUnitStatus,
)
from ..recall_selectors import RECALL_TRANSITIONS, UNIT_TRANSITIONS, recall_scope_units, serial_prefix

_CODE_MAX = Recall._meta.get_field("code").max_length
_TITLE_MAX = Recall._meta.get_field("title").max_length
_SERIAL_MAX = RecallSerialRange._meta.get_field("first").max_length
# The date each unit status stamps when a unit enters it.
_STATUS_DATES = {
    RecallUnitStatus.NOTIFIED: "notified_at",
    RecallUnitStatus.SCHEDULED: "scheduled_at",
    RecallUnitStatus.UNREACHABLE: "unreachable_at",
    RecallUnitStatus.REMEDIED: "remedied_at",
}
_STATE_DATES = {
    RecallState.APPROVED: "approved_at",
    RecallState.LAUNCHED: "launched_at",
    RecallState.COMPLETED: "completed_at",
    RecallState.TERMINATED: "terminated_at",
}


def _now(at: datetime | None) -> datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def _event(recall: Recall, *, actor, at, kind: str, from_value="", to_value="", comment="") -> None:
    RecallEvent.objects.create(
        recall=recall, actor=actor, at=at, kind=kind, from_value=from_value, to_value=str(to_value), comment=comment
    )


def _ranges(serial_ranges: Iterable) -> list[tuple[str, str]]:
    """(first, last) pairs from pairs or {"first", "last"} mappings, stripped."""
    out = []
    for item in serial_ranges:
        first, last = (item.get("first"), item.get("last")) if isinstance(item, dict) else item
        out.append(((first or "").strip(), (last or "").strip()))
    return out


def _check_scope(batch_codes: Sequence[str], serial_ranges: list[tuple[str, str]], errors: dict) -> list[Batch]:
    codes = list(dict.fromkeys(code.strip() for code in batch_codes if code and code.strip()))
    batches = list(Batch.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {b.code for b in batches})
    if missing:
        errors["batch_codes"] = [_("No such batch: %(codes)s.") % {"codes": ", ".join(missing)}]
    range_errors = []
    for number, (first, last) in enumerate(serial_ranges, start=1):
        where = {"n": number, "first": first, "last": last}
        if not first or not last:
            range_errors.append(_("Range %(n)d: give the first and the last serial.") % where)
        elif len(first) > _SERIAL_MAX or len(last) > _SERIAL_MAX:
            range_errors.append(
                _("Range %(n)d: a serial has at most %(max)d characters.") % {**where, "max": _SERIAL_MAX}
            )
        elif len(first) != len(last) or serial_prefix(first) is None or serial_prefix(first) != serial_prefix(last):
            # Serials compare as strings: only one length and one prefix keep the order numeric.
            range_errors.append(
                _("Range %(n)d: %(first)s and %(last)s need the same length and prefix, ending in digits.") % where
            )
        elif first > last:
            range_errors.append(_("Range %(n)d: the first serial %(first)s comes after the last %(last)s.") % where)
    if range_errors:
        errors["serial_ranges"] = range_errors
    if not codes and not serial_ranges:
        errors["scope"] = [_("Give at least one batch or one serial range.")]
    return batches


def _check_texts(*, title: str, severity: str, errors: dict) -> None:
    if not (title or "").strip():
        errors["title"] = [_("This field is required.")]
    elif len(title.strip()) > _TITLE_MAX:
        errors["title"] = [_("At most %(max)d characters.") % {"max": _TITLE_MAX}]
    if severity not in RecallSeverity.values:
        errors["severity"] = [_("Choose one of %(choices)s.") % {"choices": ", ".join(RecallSeverity.values)}]


def _set_scope(recall: Recall, batches: list[Batch], serial_ranges: list[tuple[str, str]]) -> None:
    recall.batches.set(batches)
    recall.serial_ranges.all().delete()
    RecallSerialRange.objects.bulk_create(
        RecallSerialRange(recall=recall, first=first, last=last) for first, last in dict.fromkeys(serial_ranges)
    )


@transaction.atomic
def recall_create(
    *,
    actor,
    code: str,
    title: str,
    severity: str,
    reason: str = "",
    remedy: str = "",
    batch_codes: Sequence[str] = (),
    serial_ranges: Iterable = (),
    at: datetime | None = None,
) -> Recall:
    """A new campaign in state draft, opened at `at`. Everything is validated first
    (ApplicationError, every reason by field), so a refusal writes nothing."""
    at = _now(at)
    code = (code or "").strip()
    serial_ranges = _ranges(serial_ranges)
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = [_("This field is required.")]
    elif len(code) > _CODE_MAX:
        errors["code"] = [_("At most %(max)d characters.") % {"max": _CODE_MAX}]
    elif Recall.objects.filter(code=code).exists():
        errors["code"] = [_("A recall %(code)s already exists.") % {"code": code}]
    _check_texts(title=title, severity=severity, errors=errors)
    batches = _check_scope(batch_codes, serial_ranges, errors)
    if errors:
        raise ApplicationError(_("The recall was not created."), errors=errors)
    recall = Recall.objects.create(
        code=code,
        title=title.strip(),
        severity=severity,
        reason=reason or "",
        remedy=remedy or "",
        opened_at=at,
        state=RecallState.DRAFT,
    )
    _set_scope(recall, batches, serial_ranges)
    _event(recall, actor=actor, at=at, kind="created", to_value=RecallState.DRAFT)
    return recall


@transaction.atomic
def recall_update(
    *,
    recall_id: int,
    actor,
    title: str,
    severity: str,
    reason: str = "",
    remedy: str = "",
    batch_codes: Sequence[str] = (),
    serial_ranges: Iterable = (),
    at: datetime | None = None,
) -> Recall:
    """Replace a draft's texts and scope (ConflictError once it left draft: the scope of
    an approved campaign is what was approved)."""
    at = _now(at)
    recall = lock_one(Recall.objects.all(), recall_id)
    if recall.state != RecallState.DRAFT:
        raise ConflictError(
            _("Only a draft can be edited; %(code)s is %(state)s.")
            % {"code": recall.code, "state": recall.get_state_display()},
            errors={"state": [recall.state]},
        )
    serial_ranges = _ranges(serial_ranges)
    errors: dict[str, list[str]] = {}
    _check_texts(title=title, severity=severity, errors=errors)
    batches = _check_scope(batch_codes, serial_ranges, errors)
    if errors:
        raise ApplicationError(_("The recall was not saved."), errors=errors)
    recall.title, recall.severity = title.strip(), severity
    recall.reason, recall.remedy = reason or "", remedy or ""
    recall.save(update_fields=["title", "severity", "reason", "remedy"])
    _set_scope(recall, batches, serial_ranges)
    _event(recall, actor=actor, at=at, kind="updated")
    return recall


@transaction.atomic
def recall_transition(*, recall_id: int, to_state: str, actor, comment: str = "", at: datetime | None = None) -> Recall:
    """The one gate of the campaign's states (RECALL_TRANSITIONS): locks the row, refuses
    a move the table does not allow (ConflictError, 409), stamps the state's time (and
    closed_at on completion or termination), writes a RecallEvent. Terminating needs a
    reason (`comment`). Launching computes the affected units in the same transaction."""
    at = _now(at)
    recall = lock_one(Recall.objects.all(), recall_id)
    if to_state not in RECALL_TRANSITIONS.get(recall.state, ()):
        raise ConflictError(
            _("A recall cannot go from %(from)s to %(to)s.") % {"from": recall.state, "to": to_state},
            errors={"to_state": [_("Not allowed from %(from)s.") % {"from": recall.state}]},
        )
    comment = (comment or "").strip()
    if to_state == RecallState.TERMINATED and not comment:
        raise ApplicationError(
            _("Give the reason for terminating the recall."), errors={"comment": [_("This field is required.")]}
        )
    if at < recall.opened_at:
        raise ApplicationError(_("The time is before the recall was opened."), errors={"at": [at.isoformat()]})
    from_state = recall.state
    recall.state = to_state
    setattr(recall, _STATE_DATES[to_state], at)
    fields = ["state", _STATE_DATES[to_state]]
    if to_state in (RecallState.COMPLETED, RecallState.TERMINATED):
        recall.closed_at = at
        fields.append("closed_at")
    recall.save(update_fields=fields)
    _event(recall, actor=actor, at=at, kind="state", from_value=from_state, to_value=to_state, comment=comment)
    if to_state == RecallState.LAUNCHED:
        recall_units_compute(recall_id=recall.pk, actor=actor, at=at)
    return recall


@transaction.atomic
def recall_units_compute(*, recall_id: int, actor=None, at: datetime | None = None) -> int:
    """Insert a pending RecallUnit for every unit in the scope that has none (one
    INSERT ... SELECT); returns how many were added. Idempotent: a second run adds 0."""
    at = _now(at)
    recall = lock_one(Recall.objects.all(), recall_id)
    missing = recall_scope_units(recall).exclude(recall_units__recall=recall).order_by().values(unit_pk=F("pk"))
    select_sql, params = missing.query.sql_with_params()
    table = connection.ops.quote_name(RecallUnit._meta.db_table)
    # WHERE 1 = 1: SQLite needs it to read ON CONFLICT after INSERT ... SELECT. Only the
    # table name and the ORM's own SELECT are spliced in; values are parameters.
    sql = (
        f"INSERT INTO {table} (recall_id, unit_id, status) "  # noqa: S608
        f"SELECT %s, scope.unit_pk, %s FROM ({select_sql}) scope WHERE 1 = 1 ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [recall.pk, RecallUnitStatus.PENDING, *params])
        added = max(cursor.rowcount, 0)
    _event(recall, actor=actor, at=at, kind="computed", to_value=added)
    return added


def _launched(recall: Recall) -> None:
    if recall.state != RecallState.LAUNCHED:
        raise ConflictError(
            _("Recall %(code)s is not running (%(state)s).")
            % {"code": recall.code, "state": recall.get_state_display()},
            errors={"state": [recall.state]},
        )


def _lock_unit(recall_unit_id: int) -> tuple[Recall, RecallUnit]:
    recall_id = RecallUnit.objects.filter(pk=recall_unit_id).values_list("recall_id", flat=True).first()
    if recall_id is None:
        raise RecallUnit.DoesNotExist(f"no recall unit {recall_unit_id}")
    recall = lock_one(Recall.objects.all(), recall_id)
    # Only the recall unit's row is locked: its unit and customer are read, not changed.
    return recall, lock_one(RecallUnit.objects.all(), recall_unit_id)


@transaction.atomic
def recall_unit_set_status(
    *, recall_unit_id: int, status: str, actor, at: datetime | None = None, team=None
) -> RecallUnit:
    """Move one affected unit (UNIT_TRANSITIONS; ConflictError otherwise) and stamp the
    date of the status it enters. A remedy is done through a ticket: a unit without one
    gets its remedy ticket here before it is marked remedied. Only while launched."""
    at = _now(at)
    if status not in RecallUnitStatus.values:
        raise ApplicationError(
            _("Unknown status “%(status)s”.") % {"status": status[:20]}, errors={"status": [_("Unknown status.")]}
        )
    recall, unit = _lock_unit(recall_unit_id)
    _launched(recall)
    if status not in UNIT_TRANSITIONS.get(unit.status, ()):
        raise ConflictError(
            _("A unit cannot go from %(from)s to %(to)s.") % {"from": unit.status, "to": status},
            errors={"status": [_("Not allowed from %(from)s.") % {"from": unit.status}]},
        )
    fields = ["status", _STATUS_DATES[status]]
    if status == RecallUnitStatus.REMEDIED and unit.ticket_id is None:
        unit.ticket = _remedy_ticket(recall, unit, actor=actor, team=team, at=at)
        fields.append("ticket")
    from_status = unit.status
    unit.status = status
    setattr(unit, _STATUS_DATES[status], at)
    unit.save(update_fields=fields)
    _event(recall, actor=actor, at=at, kind="unit", from_value=from_status, to_value=status, comment=unit.unit.serial)
    return unit


@transaction.atomic
def recall_units_notify(*, recall_id: int, recall_unit_ids: Iterable[int], actor, at: datetime | None = None) -> int:
    """Bulk action: mark the selected units notified (those pending or unreachable; the
    others are left as they are) in one UPDATE; returns how many changed."""
    at = _now(at)
    recall = lock_one(Recall.objects.all(), recall_id)
    _launched(recall)
    changed = RecallUnit.objects.filter(
        recall=recall,
        pk__in=list(recall_unit_ids),
        status__in=[s for s, nexts in UNIT_TRANSITIONS.items() if RecallUnitStatus.NOTIFIED in nexts],
    ).update(status=RecallUnitStatus.NOTIFIED, notified_at=at)
    if changed:
        _event(recall, actor=actor, at=at, kind="notified", to_value=changed)
    return changed


def _remedy_ticket(recall: Recall, unit: RecallUnit, *, actor, team, at) -> Ticket:
    from tickets.services import ticket_create  # the service operation owns tickets

    if unit.unit.customer_id is None:
        raise ApplicationError(
            _("Unit %(serial)s has no customer (unsold stock): a remedy ticket needs one.")
            % {"serial": unit.unit.serial},
            errors={"customer": [_("The unit has no customer.")]},
        )
    return ticket_create(
        actor=actor,
        customer=unit.unit.customer,
        unit=unit.unit,
        subject=_("Recall %(code)s: %(title)s") % {"code": recall.code, "title": recall.title},
        description=recall.remedy,
        type=TicketType.REPAIR,
        channel=Channel.PHONE,
        team=team,
        at=at,
    )


@transaction.atomic
def recall_unit_remedy_ticket(*, recall_unit_id: int, actor, team=None, at: datetime | None = None) -> Ticket:
    """Open the repair ticket that does a unit's remedy, link it and mark the unit
    scheduled. The unit counts as remedied when the ticket is resolved
    (recall_units_remedied_sync). ConflictError when it already has one."""
    at = _now(at)
    recall, unit = _lock_unit(recall_unit_id)
    _launched(recall)
    if unit.ticket_id is not None:
        raise ConflictError(
            _("Unit %(serial)s already has a remedy ticket.") % {"serial": unit.unit.serial},
            errors={"ticket": [str(unit.ticket_id)]},
        )
    if unit.status == RecallUnitStatus.REMEDIED:
        raise ConflictError(
            _("Unit %(serial)s is already remedied.") % {"serial": unit.unit.serial},
            errors={"status": [unit.status]},
        )
    ticket = _remedy_ticket(recall, unit, actor=actor, team=team, at=at)
    from_status = unit.status
    unit.ticket, unit.status, unit.scheduled_at = ticket, RecallUnitStatus.SCHEDULED, at
    unit.save(update_fields=["ticket", "status", "scheduled_at"])
    _event(
        recall,
        actor=actor,
        at=at,
        kind="unit",
        from_value=from_status,
        to_value=RecallUnitStatus.SCHEDULED,
        comment=f"{unit.unit.serial} {ticket.external_id or ticket.pk}",
    )
    return ticket


@transaction.atomic
def recall_units_remedied_sync(*, recall_id: int | None = None) -> int:
    """Units of running campaigns whose remedy ticket is resolved become remedied, at the
    ticket's resolved_at: one UPDATE in the database. Idempotent (remedied units are left
    alone). Returns how many changed."""
    units = RecallUnit.objects.filter(
        ~Q(status=RecallUnitStatus.REMEDIED), recall__state=RecallState.LAUNCHED, ticket__resolved_at__isnull=False
    )
    if recall_id is not None:
        units = units.filter(recall_id=recall_id)
    resolved_at = Ticket.objects.filter(pk=OuterRef("ticket_id")).values("resolved_at")[:1]
    return units.update(status=RecallUnitStatus.REMEDIED, remedied_at=Subquery(resolved_at))
