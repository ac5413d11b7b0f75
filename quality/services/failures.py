"""Writes of failures on repair tickets and the repeat-failure flag.

Each service runs in one transaction and locks the ticket row first (catalog.db.lock_one),
so two agents recording on the same ticket are serialised; the ticket's timeline gets
an internal note for every change (tickets.services.ticket_comment). After any write
the repeat flags of the unit's failures are recomputed by the same database-side rule
as the bulk mark (failure_repeats_mark), so both can never disagree."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import Component, Unit, User
from tickets.models import Ticket
from tickets.services import ticket_comment

from ..models import Failure, FailureMode, FailurePart, RootCauseCategory

_UNSET = object()


def repeat_window() -> timedelta:
    return timedelta(days=settings.REPEAT_FAILURE_WINDOW_DAYS)


def _earlier_repair(*, unit: str | OuterRef, mode: str | OuterRef, occurred, exclude=None) -> QuerySet:
    """METRICS.md: G is a repeat of F when the same unit has the same mode and
    G.occurred_at lies in (F.repaired_at, F.repaired_at + window]; i.e. F.repaired_at in
    [G.occurred_at - window, G.occurred_at). The latest such repair is the one linked."""
    qs = Failure.objects.filter(
        unit_id=unit,
        failure_mode_id=mode,
        repaired_at__lt=occurred,
        repaired_at__gte=occurred - repeat_window(),
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.order_by("-repaired_at", "-pk").values("pk")[:1]


def failure_repeats_mark(*, failure_ids: Iterable[int] | QuerySet | None = None) -> int:
    """Set repeat_of for the given failures (all when None) in one UPDATE with a
    correlated subquery, database-side on SQLite and PostgreSQL; idempotent. Returns how
    many of those failures are repeats afterwards."""
    earlier = _earlier_repair(
        unit=OuterRef("unit_id"), mode=OuterRef("failure_mode_id"), occurred=OuterRef("occurred_at")
    )
    qs = Failure.objects.all()
    if failure_ids is not None:
        qs = qs.filter(pk__in=failure_ids if isinstance(failure_ids, QuerySet) else list(failure_ids))
    qs.update(repeat_of=Subquery(earlier))
    return qs.filter(repeat_of__isnull=False).count()


def _remark_units(unit_ids: Iterable[int]) -> None:
    # A write can change the flag of the unit's later failures too (a backdated record,
    # a changed repair time, a deletion), so the unit's failures are marked again.
    failure_repeats_mark(failure_ids=Failure.objects.filter(unit_id__in=set(unit_ids)).values("pk"))


# --- validation ---------------------------------------------------------------------


def _aware(value, name: str, errors: dict, *, required: bool) -> datetime | None:
    if value is None or value == "":
        if required:
            errors.setdefault(name, []).append(_("This field is required."))
        return None
    if not isinstance(value, datetime):
        errors.setdefault(name, []).append(_("Enter a date and time."))
        return None
    if timezone.is_naive(value):
        errors.setdefault(name, []).append(_("A time zone is required."))
        return None
    return value


def _decimal(value, name: str, errors: dict, *, field: str, model=Failure) -> Decimal:
    spec = model._meta.get_field(field)
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError, TypeError):
        errors.setdefault(name, []).append(_("Enter a number."))
        return Decimal(0)
    if not number.is_finite():
        errors.setdefault(name, []).append(_("Enter a number."))
        return Decimal(0)
    if number < 0:
        errors.setdefault(name, []).append(_("Must not be negative."))
    limit = Decimal(10) ** (spec.max_digits - spec.decimal_places)
    if number >= limit:
        errors.setdefault(name, []).append(_("Must be less than %(limit)s.") % {"limit": limit})
        return Decimal(0)
    return number.quantize(Decimal(1).scaleb(-spec.decimal_places))


def _mode(value, errors: dict) -> FailureMode | None:
    if isinstance(value, FailureMode):
        return value
    code = (value or "").strip() if isinstance(value, str) else value
    if not code:
        errors.setdefault("failure_mode", []).append(_("This field is required."))
        return None
    found = FailureMode.objects.filter(code=code).first()
    if found is None:
        errors.setdefault("failure_mode", []).append(_("Unknown failure mode “%(code)s”.") % {"code": str(code)[:64]})
    return found


def _component(value, name: str, errors: dict) -> Component | None:
    if value is None or value == "" or isinstance(value, Component):
        return value or None
    found = Component.objects.filter(code=str(value).strip()).first()
    if found is None:
        errors.setdefault(name, []).append(_("Unknown component “%(code)s”.") % {"code": str(value)[:64]})
    return found


def _unit(value, ticket: Ticket, errors: dict) -> Unit | None:
    if value is None or value == "":
        if ticket.unit_id is None:
            errors.setdefault("unit", []).append(_("The ticket names no unit: give the unit's serial."))
            return None
        return ticket.unit
    unit = value if isinstance(value, Unit) else Unit.objects.filter(serial=str(value).strip()).first()
    if unit is None:
        errors.setdefault("unit", []).append(_("Unknown serial “%(serial)s”.") % {"serial": str(value)[:64]})
        return None
    if ticket.unit_id is not None and unit.pk != ticket.unit_id:
        # A failure traces the ticket's own unit; a wrong one would corrupt every figure.
        errors.setdefault("unit", []).append(_("Not the ticket's unit (%(serial)s).") % {"serial": ticket.unit.serial})
    return unit


def _parts(parts: Sequence[Mapping] | None, errors: dict) -> list[FailurePart]:
    built = []
    for index, part in enumerate(parts or (), start=1):
        row: dict[str, list[str]] = {}
        if not isinstance(part, Mapping):
            errors.setdefault("parts", []).append(_("Part %(n)s: not an object.") % {"n": index})
            continue
        number = str(part.get("part_number") or "").strip()
        if not number:
            row.setdefault("part_number", []).append(_("This field is required."))
        elif len(number) > FailurePart._meta.get_field("part_number").max_length:
            row.setdefault("part_number", []).append(_("Too long."))
        raw_quantity = part.get("quantity", 1)
        try:
            quantity = int(raw_quantity)
            if isinstance(raw_quantity, float) and not raw_quantity.is_integer():
                raise ValueError
        except (TypeError, ValueError):
            row.setdefault("quantity", []).append(_("Enter a whole number."))
            quantity = 1
        if quantity <= 0:
            row.setdefault("quantity", []).append(_("Must be at least 1."))
        if quantity > 100_000:
            row.setdefault("quantity", []).append(_("Too many."))
        cost = _decimal(part.get("unit_cost", 0), "unit_cost", row, field="unit_cost", model=FailurePart)
        component = _component(part.get("component"), "component", row)
        for field, reasons in row.items():
            for reason in reasons:
                errors.setdefault("parts", []).append(
                    _("Part %(n)s, %(field)s: %(reason)s") % {"n": index, "field": field, "reason": reason}
                )
        built.append(FailurePart(part_number=number, component=component, quantity=quantity, unit_cost=cost))
    return built


def _check_times(occurred, repaired, now: datetime, errors: dict) -> None:
    if occurred is not None and occurred > now:
        errors.setdefault("occurred_at", []).append(_("Must not be in the future."))
    if repaired is not None:
        if repaired > now:
            errors.setdefault("repaired_at", []).append(_("Must not be in the future."))
        if occurred is not None and repaired < occurred:
            errors.setdefault("repaired_at", []).append(_("Must not be before the failure occurred."))


def _check_root_cause(value: str, errors: dict) -> str:
    value = (value or "").strip()
    if value and value not in RootCauseCategory.values:
        errors.setdefault("root_cause_category", []).append(
            _("“%(value)s” is not a valid choice.") % {"value": value[:40]}
        )
    return value


def _lock_ticket(ticket_id: int) -> Ticket:
    try:
        # No join here: PostgreSQL cannot lock the nullable side of an outer join.
        return lock_one(Ticket.objects.all(), ticket_id)
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise ApplicationError(_("Ticket not found."), errors={"ticket": [_("does not exist")]}) from None


def _new_external_id(at: datetime) -> str:
    return f"F{timezone.localtime(at):%Y%m%d}-{secrets.token_hex(3).upper()}"


def _describe(failure: Failure, verb: str) -> str:
    text = _("Failure %(number)s %(verb)s: %(mode)s") % {
        "number": failure.external_id,
        "verb": verb,
        "mode": f"{failure.failure_mode.code} {failure.failure_mode.name_en}",
    }
    if failure.component_id:
        text += " · " + _("component %(code)s") % {"code": failure.component.code}
    if failure.repeat_of_id:
        text += " · " + _("REPEAT of %(number)s") % {"number": failure.repeat_of.external_id}
    return text


# --- services -----------------------------------------------------------------------


@transaction.atomic
def failure_record(
    *,
    ticket_id: int,
    actor: User | None,
    failure_mode: FailureMode | str,
    unit: Unit | str | None = None,
    component: Component | str | None = None,
    occurred_at: datetime,
    repaired_at: datetime | None = None,
    repair_action: str = "",
    root_cause_category: str = "",
    labor_hours: Decimal | float | int | str = 0,
    parts: Sequence[Mapping] = (),
    at: datetime | None = None,
) -> Failure:
    """Record a failure on a ticket (unit: the ticket's by default). parts_cost is the
    sum of quantity x unit_cost of the parts; repeat_of is set by the repeat rule.
    Locks the ticket; every problem is reported at once, one list per field, and a
    refusal writes nothing. The ticket's timeline gets an internal note."""
    at = at or timezone.now()
    ticket = _lock_ticket(ticket_id)
    errors: dict[str, list[str]] = {}
    mode = _mode(failure_mode, errors)
    the_unit = _unit(unit, ticket, errors)
    the_component = _component(component, "component", errors)
    occurred = _aware(occurred_at, "occurred_at", errors, required=True)
    repaired = _aware(repaired_at, "repaired_at", errors, required=False)
    _check_times(occurred, repaired, at, errors)
    cause = _check_root_cause(root_cause_category, errors)
    hours = _decimal(labor_hours, "labor_hours", errors, field="labor_hours")
    built = _parts(parts, errors)
    cost = sum((p.quantity * p.unit_cost for p in built), Decimal(0))
    if cost >= Decimal(10) ** 10:
        errors.setdefault("parts", []).append(_("The parts cost is too large."))
    if errors:
        raise ApplicationError(_("The failure was not recorded."), errors=errors)

    failure = None
    for _attempt in range(3):
        number = _new_external_id(at)
        try:
            with transaction.atomic():
                failure = Failure.objects.create(
                    external_id=number,
                    ticket=ticket,
                    unit=the_unit,
                    failure_mode=mode,
                    component=the_component,
                    occurred_at=occurred,
                    repaired_at=repaired,
                    root_cause_category=cause,
                    labor_hours=hours,
                    parts_cost=cost,
                    repair_action=(repair_action or "").strip(),
                    recorded_by=actor,
                )
            break
        except IntegrityError:
            if not Failure.objects.filter(external_id=number).exists():
                raise
            # a drawn number that collided: draw again
    if failure is None:
        raise ConflictError(_("Could not draw a free failure number; retry."), errors={"external_id": [_("taken")]})
    for part in built:
        part.failure = failure
    FailurePart.objects.bulk_create(built)
    _remark_units([the_unit.pk])
    failure.refresh_from_db(fields=["repeat_of"])
    ticket_comment(ticket_id=ticket.pk, actor=actor, body=_describe(failure, _("recorded")), public=False, at=at)
    return failure


@transaction.atomic
def failure_update(
    *,
    failure_id: int,
    actor: User | None,
    failure_mode: FailureMode | str | object = _UNSET,
    component: Component | str | None | object = _UNSET,
    occurred_at: datetime | object = _UNSET,
    repaired_at: datetime | None | object = _UNSET,
    repair_action: str | object = _UNSET,
    root_cause_category: str | object = _UNSET,
    labor_hours: Decimal | float | int | str | object = _UNSET,
    parts: Sequence[Mapping] | object = _UNSET,
    at: datetime | None = None,
) -> Failure:
    """Change the given fields of a failure (the unit and ticket stay); parts, when
    given, replace the old ones and parts_cost follows. Same validation and locking as
    failure_record; the repeat flags of the unit are recomputed."""
    at = at or timezone.now()
    ticket_id = Failure.objects.filter(pk=failure_id).values_list("ticket_id", flat=True).first()
    if ticket_id is None:
        raise ApplicationError(_("Failure not found."), errors={"failure": [_("does not exist")]})
    ticket = _lock_ticket(ticket_id)
    failure = Failure.objects.select_related("failure_mode", "component").get(pk=failure_id)
    errors: dict[str, list[str]] = {}
    changed: dict = {}
    if failure_mode is not _UNSET:
        changed["failure_mode"] = _mode(failure_mode, errors)
    if component is not _UNSET:
        changed["component"] = _component(component, "component", errors)
    if occurred_at is not _UNSET:
        changed["occurred_at"] = _aware(occurred_at, "occurred_at", errors, required=True)
    if repaired_at is not _UNSET:
        changed["repaired_at"] = _aware(repaired_at, "repaired_at", errors, required=False)
    if repair_action is not _UNSET:
        changed["repair_action"] = (repair_action or "").strip()
    if root_cause_category is not _UNSET:
        changed["root_cause_category"] = _check_root_cause(root_cause_category, errors)
    if labor_hours is not _UNSET:
        changed["labor_hours"] = _decimal(labor_hours, "labor_hours", errors, field="labor_hours")
    built = None
    if parts is not _UNSET:
        built = _parts(parts, errors)
        changed["parts_cost"] = sum((p.quantity * p.unit_cost for p in built), Decimal(0))
    _check_times(
        changed.get("occurred_at", failure.occurred_at),
        changed.get("repaired_at", failure.repaired_at),
        at,
        {} if "occurred_at" in errors or "repaired_at" in errors else errors,
    )
    if errors:
        raise ApplicationError(_("The failure was not changed."), errors=errors)
    for name, value in changed.items():
        setattr(failure, name, value)
    failure.save(update_fields=list(changed))
    if built is not None:
        failure.parts.all().delete()
        for part in built:
            part.failure = failure
        FailurePart.objects.bulk_create(built)
    _remark_units([failure.unit_id])
    failure.refresh_from_db(fields=["repeat_of"])
    ticket_comment(ticket_id=ticket.pk, actor=actor, body=_describe(failure, _("changed")), public=False, at=at)
    return failure


@transaction.atomic
def failure_delete(*, failure_id: int, actor: User | None, at: datetime | None = None) -> None:
    """Delete a failure recorded by mistake (its parts go with it); failures that were
    repeats of it are marked again. Leaves an internal note on the ticket."""
    at = at or timezone.now()
    ticket_id = Failure.objects.filter(pk=failure_id).values_list("ticket_id", flat=True).first()
    if ticket_id is None:
        raise ApplicationError(_("Failure not found."), errors={"failure": [_("does not exist")]})
    ticket = _lock_ticket(ticket_id)
    failure = Failure.objects.select_related("failure_mode", "component", "repeat_of").get(pk=failure_id)
    body = _describe(failure, _("deleted"))
    unit_id = failure.unit_id
    failure.delete()
    _remark_units([unit_id])
    ticket_comment(ticket_id=ticket.pk, actor=actor, body=body, public=False, at=at)
