"""SLA clocks: which policy applies, the due times, pauses, and the escalation checkpoints.

Policy match (sla_policy_match): among the active policies whose non-blank criteria all
equal the ticket's (priority, type, customer segment, the unit's product line, the
customer's region), the most specific wins:

1. more criteria set first (a policy with priority + segment beats one with priority);
2. on a tie, the larger sum of the criteria's weights: priority 16, type 8, segment 4,
   product line 2, region 1 (so priority + type beats segment + product line);
3. then the lowest id (the older policy).

Calendar: the policy's, else the ticket team's, else the default calendar (24x7 when
there is none). Due time = clock.add(created_at, target + paused business minutes).

The clock (all in business minutes of that calendar):
- entering waiting_customer pauses it (sla_paused_at); leaving it (the agent resumes,
  the customer replies, or it is resolved) adds the paused minutes to
  sla_paused_minutes and pushes the unmet due times by as much;
- the response target is met at the first public reply (or at the resolution when
  there was none), the resolution target at resolved_at;
- while resolved or closed nothing escalates; a reopen counts the time between the
  resolution and the reopen as paused (the customer had a solution meanwhile), so the
  reopened ticket continues with the business time it had left;
- a change of priority (ticket_priority_set) re-matches the policy and recomputes the
  unmet due times from created_at + the new target + the paused minutes: time already
  worked still counts, paused time stays paused;
- imported due times (sla_due_source=import) are never recomputed from a policy (a pause
  still pushes them: the clock stops while the customer has the ball).

Escalation checkpoints of an unmet target (tickets.services.escalation): level 1 when
SLA_AT_RISK_RATIO of its business time is consumed, level 2 at the due time, level 3
SLA_LEVEL3_BUSINESS_HOURS business hours after it. sla_next_check_at is the earliest
checkpoint not yet escalated (None while paused, resolved or closed).
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import User

from ..calendars import BusinessClock, ClockCache, calendar_clock
from ..models import (
    OPEN_STATUSES,
    BusinessCalendar,
    CalendarDay,
    CalendarDayKind,
    CalendarDaySource,
    Escalation,
    EscalationLevel,
    EventKind,
    Priority,
    SlaDueSource,
    SlaPolicy,
    SlaTarget,
    Status,
    Ticket,
    Weekday,
)
from . import tickets as gate

# (policy field, ticket fact, weight) in the order of the specificity rule.
CRITERIA = (
    ("priority", "priority", 16),
    ("ticket_type", "type", 8),
    ("segment", "segment", 4),
    ("product_line_id", "product_line_id", 2),
    ("region_id", "region_id", 1),
)
TARGETS = (SlaTarget.RESPONSE, SlaTarget.RESOLUTION)
_CLOSED = frozenset({Status.RESOLVED, Status.CLOSED})


# --- policy match ----------------------------------------------------------------------


@dataclass(frozen=True)
class SlaFacts:
    """What a policy matches on, for one ticket."""

    priority: str
    type: str
    segment: str | None
    product_line_id: int | None
    region_id: int | None


def sla_facts(ticket: Ticket) -> SlaFacts:
    customer = ticket.customer
    unit = ticket.unit
    return SlaFacts(
        priority=ticket.priority,
        type=ticket.type,
        segment=customer.segment,
        product_line_id=unit.product_model.product_line_id if unit is not None else None,
        region_id=customer.region_id,
    )


class SlaPolicyMatcher:
    """The active policies, read once and ordered by specificity, matched in memory
    (the bulk import matches every row with one of these)."""

    def __init__(self, policies: Iterable[SlaPolicy] | None = None):
        if policies is None:
            policies = SlaPolicy.objects.filter(active=True)
        ranked = []
        for policy in policies:
            wanted = tuple(
                (fact, getattr(policy, field))
                for field, fact, _weight in CRITERIA
                if getattr(policy, field) not in ("", None)
            )
            weight = sum(w for field, _fact, w in CRITERIA if getattr(policy, field) not in ("", None))
            ranked.append(((-len(wanted), -weight, policy.pk), wanted, policy))
        ranked.sort(key=lambda item: item[0])
        self.ranked = [(wanted, policy) for _key, wanted, policy in ranked]

    def match(self, facts: SlaFacts) -> SlaPolicy | None:
        for wanted, policy in self.ranked:
            if all(getattr(facts, fact) == value for fact, value in wanted):
                return policy
        return None


def sla_policy_match(ticket: Ticket) -> SlaPolicy | None:
    """The active policy for the ticket (module docstring: the specificity rule)."""
    return SlaPolicyMatcher().match(sla_facts(ticket))


# --- the clock of a ticket -------------------------------------------------------------


def sla_calendar_id(*, policy: SlaPolicy | None, team_calendar_id: int | None) -> int | None:
    """The policy's calendar, else the team's; None: the default calendar."""
    if policy is not None and policy.calendar_id is not None:
        return policy.calendar_id
    return team_calendar_id


def ticket_clock(ticket: Ticket, *, clocks: ClockCache | None = None) -> BusinessClock:
    team_calendar_id = ticket.team.calendar_id if ticket.team_id else None
    calendar_id = sla_calendar_id(policy=ticket.sla_policy, team_calendar_id=team_calendar_id)
    if clocks is not None:
        return clocks.get(calendar_id)
    calendar = BusinessCalendar.objects.filter(pk=calendar_id).first() if calendar_id else None
    return calendar_clock(calendar)


def target_due(ticket: Ticket, target: str) -> datetime | None:
    return ticket.response_due_at if target == SlaTarget.RESPONSE else ticket.resolution_due_at


def target_met_at(ticket: Ticket, target: str) -> datetime | None:
    """When the target was met: the first response (or, without one, the resolution);
    the resolution."""
    if target == SlaTarget.RESPONSE:
        return ticket.first_response_at or ticket.resolved_at
    return ticket.resolved_at


def target_minutes(ticket: Ticket, target: str, clock: BusinessClock) -> float:
    """The target's business minutes as they stand (imported or from the policy): the
    business time from creation to the due time, less the pauses that pushed it."""
    due = target_due(ticket, target)
    if due is None:
        return 0.0
    return max(0.0, clock.minutes_between(ticket.created_at, due) - ticket.sla_paused_minutes)


@dataclass(frozen=True)
class Checkpoint:
    target: str
    level: int
    at: datetime
    due_at: datetime


def sla_checkpoints(ticket: Ticket, clock: BusinessClock, *, levels: Iterable[int] = (1, 2, 3)) -> list[Checkpoint]:
    """The escalation checkpoints (of `levels`) of the ticket's unmet targets; none
    while it is paused, resolved or closed."""
    if ticket.status not in OPEN_STATUSES or ticket.sla_paused_at is not None:
        return []
    ratio = settings.SLA_AT_RISK_RATIO
    level3 = settings.SLA_LEVEL3_BUSINESS_HOURS * 60
    points = []
    for target in TARGETS:
        due = target_due(ticket, target)
        if due is None or target_met_at(ticket, target) is not None:
            continue
        if EscalationLevel.AT_RISK in levels:
            total = target_minutes(ticket, target, clock)
            at_risk = clock.add(ticket.created_at, ratio * total + ticket.sla_paused_minutes)
            points.append(Checkpoint(target, EscalationLevel.AT_RISK, at_risk, due))
        if EscalationLevel.BREACHED in levels:
            points.append(Checkpoint(target, EscalationLevel.BREACHED, due, due))
        if EscalationLevel.LONG_BREACHED in levels:
            points.append(Checkpoint(target, EscalationLevel.LONG_BREACHED, clock.add(due, level3), due))
    return points


def sla_next_check(
    ticket: Ticket, clock: BusinessClock, *, done: set[tuple[str, int]] | None = None
) -> datetime | None:
    """The earliest checkpoint not yet escalated (`done`: (target, level) recorded; read
    from the database when not given)."""
    if done is not None and not done:
        # Nothing escalated yet: a target's level 1 comes before its levels 2 and 3.
        points = sla_checkpoints(ticket, clock, levels=(EscalationLevel.AT_RISK,))
        return min((p.at for p in points), default=None)
    points = sla_checkpoints(ticket, clock)
    if not points:
        return None
    if done is None:
        done = (
            set(Escalation.objects.filter(ticket_id=ticket.pk).values_list("target", "level")) if ticket.pk else set()
        )
    pending = [p.at for p in points if (p.target, p.level) not in done]
    return min(pending) if pending else None


# --- hooks of the gate (tickets.services.tickets) --------------------------------------


def sla_ticket_start(*, ticket: Ticket, at: datetime) -> Ticket:
    """At creation (inside ticket_create's transaction, after dispatch chose the team):
    match the policy and set the due times and the first checkpoint. Part of the
    creation, so no event of its own."""
    policy = sla_policy_match(ticket)
    if policy is None:
        return ticket
    ticket.sla_policy = policy
    clock = ticket_clock(ticket)
    ticket.sla_due_source = SlaDueSource.POLICY
    ticket.response_due_at = clock.add(ticket.created_at, policy.response_minutes)
    ticket.resolution_due_at = clock.add(ticket.created_at, policy.resolution_minutes)
    ticket.sla_next_check_at = sla_next_check(ticket, clock, done=set())
    ticket.save(
        update_fields=[
            "sla_policy",
            "sla_due_source",
            "response_due_at",
            "resolution_due_at",
            "sla_next_check_at",
            "updated_at",
        ]
    )
    return ticket


def sla_change_fields(ticket: Ticket, fields: dict, *, at: datetime) -> dict:
    """The SLA fields a change of status or first response brings along (called by the
    gate's _apply on the locked ticket, before it saves `fields`): pause, resume, reopen,
    and the next checkpoint. Returns the fields to add."""
    old_status = ticket.status
    new_status = fields.get("status", old_status)
    extra: dict = {}
    pushed = 0.0
    clock: BusinessClock | None = None
    has_dues = ticket.response_due_at is not None or ticket.resolution_due_at is not None
    if not has_dues:
        # No SLA clock runs (no policy matched, nothing imported): nothing to pause.
        return {"sla_paused_at": None} if ticket.sla_paused_at is not None else {}
    if ticket.sla_paused_at is not None and new_status != Status.WAITING_CUSTOMER:
        extra["sla_paused_at"] = None
        clock = ticket_clock(ticket)
        pushed += clock.minutes_between(ticket.sla_paused_at, at)
    if old_status in _CLOSED and new_status in OPEN_STATUSES and ticket.resolved_at is not None:
        clock = clock or ticket_clock(ticket)
        pushed += clock.minutes_between(ticket.resolved_at, at)
    if new_status == Status.WAITING_CUSTOMER and ticket.sla_paused_at is None:
        extra["sla_paused_at"] = at
    after = copy.copy(ticket)
    for name, value in {**fields, **extra}.items():
        setattr(after, name, value)
    minutes = round(pushed)
    if minutes > 0:
        extra["sla_paused_minutes"] = after.sla_paused_minutes = ticket.sla_paused_minutes + minutes
        for target in TARGETS:
            due = target_due(after, target)
            if due is not None and target_met_at(after, target) is None:
                extra[f"{target}_due_at"] = clock.add(due, minutes)
                setattr(after, f"{target}_due_at", extra[f"{target}_due_at"])
    if after.status not in OPEN_STATUSES or after.sla_paused_at is not None:
        next_check = None
    else:
        clock = clock or ticket_clock(ticket)
        next_check = sla_next_check(after, clock)
    if next_check != ticket.sla_next_check_at:
        extra["sla_next_check_at"] = next_check
    return extra


# --- services --------------------------------------------------------------------------


@transaction.atomic
def ticket_priority_set(
    *,
    ticket_id: int,
    priority: str,
    actor: User | None,
    expected_version: int | None = None,
    comment: str = "",
    at: datetime | None = None,
) -> Ticket:
    """Change the priority (event `priority`). Re-matches the SLA policy and recomputes
    the unmet due times from created_at + the new targets + the paused minutes, so the
    business time already elapsed counts and paused time stays paused; imported due
    times are kept. Locks the ticket row."""
    at = gate._now(at)
    if priority not in Priority.values:
        raise ApplicationError(
            _("Unknown priority."),
            errors={"priority": [_("“%(value)s” is not a valid choice.") % {"value": priority}]},
        )
    ticket = gate._lock(ticket_id, expected_version)
    if ticket.priority == priority:
        raise ConflictError(_("The ticket already has this priority."), errors={"priority": [_("unchanged")]})
    fields: dict = {"priority": priority}
    after = copy.copy(ticket)
    after.priority = priority
    policy = sla_policy_match(after)
    if policy is not None or ticket.sla_due_source != SlaDueSource.IMPORT:
        fields["sla_policy"] = after.sla_policy = policy
    clock = ticket_clock(after)
    if policy is not None and ticket.sla_due_source != SlaDueSource.IMPORT:
        fields["sla_due_source"] = SlaDueSource.POLICY
        for target, minutes in (
            (SlaTarget.RESPONSE, policy.response_minutes),
            (SlaTarget.RESOLUTION, policy.resolution_minutes),
        ):
            if target_met_at(ticket, target) is None:
                due = clock.add(ticket.created_at, minutes + ticket.sla_paused_minutes)
                fields[f"{target}_due_at"] = due
                setattr(after, f"{target}_due_at", due)
    next_check = sla_next_check(after, clock)
    if next_check != ticket.sla_next_check_at:
        fields["sla_next_check_at"] = next_check
    change = gate._Change(
        kind=EventKind.PRIORITY, fields=fields, from_value=ticket.priority, to_value=priority, comment=comment
    )
    return gate._apply(ticket, change, actor=actor, at=at)


_SUBSTITUTED = re.compile(r"(\d{2})/(\d{2})/(\d{4})")


def _library_days(country: str, years: list[int]) -> dict[date, tuple[str, str, int]]:
    """{date: (kind, name, works_like)} of the `holidays` library for the years. For CN
    the entries are the days off (with the "Day off (substituted from ...)" ones) and
    `weekend_workdays` the make-up working days, which work like the weekday they stand
    in for."""
    import holidays

    library = holidays.country_holidays(country, years=years)
    wanted = set(years)
    days: dict[date, tuple[str, str, int]] = {}
    works_like: dict[date, int] = {}
    for day, name in sorted(library.items()):
        if day.year not in wanted:
            continue
        days[day] = (CalendarDayKind.HOLIDAY, str(name)[:120], Weekday.MONDAY)
        found = _SUBSTITUTED.search(str(name))
        if found:
            month, dom, year = (int(x) for x in found.groups())
            with contextlib.suppress(ValueError):
                works_like[date(year, month, dom)] = day.weekday()
    for day in sorted(getattr(library, "weekend_workdays", ()) or ()):
        if day.year in wanted and day not in days:
            days[day] = (CalendarDayKind.WORKDAY, "Make-up working day", works_like.get(day, Weekday.FRIDAY))
    return days


@transaction.atomic
def calendar_holidays_prefill(*, calendar: BusinessCalendar, years: Iterable[int]) -> int:
    """Fill the calendar's days of `years` from the `holidays` library (its
    holiday_country). Idempotent; rows edited by hand (source manual) are never touched;
    library rows the library no longer has are removed. Returns the rows written."""
    years = sorted({int(y) for y in years})
    if not calendar.holiday_country or not years:
        return 0
    try:
        wanted = _library_days(calendar.holiday_country, years)
    except NotImplementedError:
        raise ApplicationError(
            _("The holiday library does not know the country “%(code)s”.") % {"code": calendar.holiday_country},
            errors={"holiday_country": [_("unknown country")]},
        ) from None
    existing = {
        d.date: d
        for d in CalendarDay.objects.select_for_update().filter(
            calendar=calendar, date__gte=date(years[0], 1, 1), date__lte=date(years[-1], 12, 31)
        )
        if d.date.year in years
    }
    written = 0
    create = []
    for day, (kind, name, works_like) in wanted.items():
        row = existing.get(day)
        if row is None:
            create.append(
                CalendarDay(
                    calendar=calendar,
                    date=day,
                    kind=kind,
                    name=name,
                    works_like=works_like,
                    source=CalendarDaySource.LIBRARY,
                )
            )
        elif row.source == CalendarDaySource.LIBRARY and (row.kind, row.name, row.works_like) != (
            kind,
            name,
            works_like,
        ):
            row.kind, row.name, row.works_like = kind, name, works_like
            row.save(update_fields=["kind", "name", "works_like"])
            written += 1
    CalendarDay.objects.bulk_create(create)
    stale = [row.pk for day, row in existing.items() if row.source == CalendarDaySource.LIBRARY and day not in wanted]
    if stale:
        CalendarDay.objects.filter(pk__in=stale).delete()
    return written + len(create) + len(stale)


# --- configuration (admin API) ---------------------------------------------------------


def _validated(obj, *, exclude=()) -> None:
    from django.core.exceptions import ValidationError

    try:
        obj.full_clean(exclude=list(exclude), validate_unique=True)
    except ValidationError as error:
        raise ApplicationError(
            _("The changes were not saved."),
            errors={k: [str(m) for m in v] for k, v in error.message_dict.items()},
        ) from None


@transaction.atomic
def sla_policy_save(*, policy: SlaPolicy | None = None, data: dict) -> SlaPolicy:
    """Create or change a policy. Tickets keep their due times until their next change
    of priority (due times are promises made at creation)."""
    policy = policy or SlaPolicy()
    for name, value in data.items():
        setattr(policy, name, value)
    _validated(policy)
    policy.save()
    return policy


@transaction.atomic
def business_calendar_save(
    *,
    calendar: BusinessCalendar | None = None,
    data: dict,
    windows: list[dict] | None = None,
    days: list[dict] | None = None,
) -> BusinessCalendar:
    """Create or change a calendar; `windows` / `days` given replace its weekly windows
    / its days (days given here count as edited by hand). Becoming the default takes
    the flag from the former default. Locks the calendar row."""
    from ..models import WorkingWindow

    if calendar is not None:
        calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    calendar = calendar or BusinessCalendar()
    for name, value in data.items():
        setattr(calendar, name, value)
    _validated(calendar, exclude=["is_default"])
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(calendar.time_zone)
    except Exception:  # noqa: BLE001 - any unknown or malformed zone name
        raise ApplicationError(
            _("The changes were not saved."), errors={"time_zone": [_("unknown time zone")]}
        ) from None
    if calendar.is_default:
        BusinessCalendar.objects.filter(is_default=True).exclude(pk=calendar.pk).update(is_default=False)
    calendar.save()
    if windows is not None:
        rows = [WorkingWindow(calendar=calendar, **w) for w in windows]
        for index, row in enumerate(rows):
            if row.end <= row.start:
                raise ApplicationError(
                    _("The changes were not saved."),
                    errors={"windows": [_("window %(n)s ends before it starts") % {"n": index + 1}]},
                )
        calendar.windows.all().delete()
        WorkingWindow.objects.bulk_create(rows)
    if days is not None:
        seen = set()
        for day in days:
            if day["date"] in seen:
                raise ApplicationError(
                    _("The changes were not saved."),
                    errors={"days": [_("%(date)s is given twice") % {"date": day["date"]}]},
                )
            seen.add(day["date"])
        calendar.days.all().delete()
        CalendarDay.objects.bulk_create(
            [CalendarDay(calendar=calendar, source=CalendarDaySource.MANUAL, **day) for day in days]
        )
    return calendar
