"""The SLA sweep: escalates the tickets whose next checkpoint has come.

Levels per ticket and target (checkpoints: tickets.services.sla): 1 at risk -> the
assignee (the team supervisor when unassigned), not urgent (waits for the recipient's
working hours); 2 breached -> the team supervisor, the priority one step up (the due
times do not move) and an `escalated` event; 3 breached for long -> the managers.

Invariants: each level happens at most once per ticket and target. The Escalation
unique constraint is the guarantee: its insert runs in a savepoint and a duplicate skips
the level's effects. Two sweeps share the work: each locks a ticket with SKIP LOCKED
(PostgreSQL) and re-reads its sla_next_check_at, so a ticket one sweep holds or has just
finished is skipped by the other. A sweep killed mid-ticket rolls that ticket back; the
next one redoes it (notification dedupe keys make a resend a no-op).
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.models import User
from catalog.roles import MANAGER

from ..calendars import ClockCache
from ..models import (
    Escalation,
    EscalationLevel,
    EventKind,
    Priority,
    SlaPolicy,
    SlaTarget,
    Team,
    Ticket,
)
from . import tickets as gate
from .sla import Checkpoint, sla_checkpoints, sla_next_check

CHUNK = 200
# low -> normal -> high -> urgent
NEXT_PRIORITY = {Priority.LOW: Priority.NORMAL, Priority.NORMAL: Priority.HIGH, Priority.HIGH: Priority.URGENT}
KINDS = {
    EscalationLevel.AT_RISK: "sla.at_risk",
    EscalationLevel.BREACHED: "sla.breached",
    EscalationLevel.LONG_BREACHED: "sla.long_breached",
}
TITLES = {
    EscalationLevel.AT_RISK: _("SLA at risk: %(number)s (%(target)s)"),
    EscalationLevel.BREACHED: _("SLA breached: %(number)s (%(target)s)"),
    EscalationLevel.LONG_BREACHED: _("SLA breached for long: %(number)s (%(target)s)"),
}
BODY = _("%(target)s of ticket %(number)s “%(subject)s” is due %(due)s.")


class _Calendars:
    """Calendar of a ticket from its policy and team, read once per sweep."""

    def __init__(self):
        self.clocks = ClockCache()
        self.policies = dict(SlaPolicy.objects.values_list("pk", "calendar_id"))
        self.teams = dict(Team.objects.values_list("pk", "calendar_id"))

    def clock(self, ticket: Ticket):
        policy_calendar = self.policies.get(ticket.sla_policy_id)
        team_calendar = self.teams.get(ticket.team_id)
        return self.clocks.get(policy_calendar or team_calendar)


def sla_sweep(*, now: datetime | None = None) -> dict:
    """Escalate every ticket whose sla_next_check_at <= now (the partial index), in
    chunks by pk, one transaction per ticket. Returns counts: tickets looked at and
    escalations per level."""
    now = now or timezone.now()
    counts = {"tickets": 0, "level_1": 0, "level_2": 0, "level_3": 0}
    calendars = _Calendars()
    last = 0
    while True:
        ids = list(
            Ticket.objects.filter(sla_next_check_at__lte=now, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            break
        last = ids[-1]
        for pk in ids:
            levels = _sweep_ticket(pk, now=now, calendars=calendars)
            if levels is None:
                continue
            counts["tickets"] += 1
            for level in levels:
                counts[f"level_{level}"] += 1
    return counts


@transaction.atomic
def _sweep_ticket(pk: int, *, now: datetime, calendars: _Calendars) -> list[int] | None:
    """One ticket: lock it (skipped when another sweep holds it or has moved its next
    check on), record and act on each reached level, set the next check."""
    qs = Ticket.objects.filter(pk=pk, sla_next_check_at__lte=now)
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, no_key=connection.features.has_select_for_no_key_update)
    ticket = qs.first()
    if ticket is None:
        return None
    clock = calendars.clock(ticket)
    done = set(Escalation.objects.filter(ticket=ticket).values_list("target", "level"))
    fired = []
    for point in sla_checkpoints(ticket, clock):
        if point.at > now or (point.target, point.level) in done:
            continue
        done.add((point.target, point.level))
        try:
            with transaction.atomic():
                Escalation.objects.create(
                    ticket=ticket, target=point.target, level=point.level, at=now, due_at=point.due_at
                )
        except IntegrityError:
            continue  # already escalated (a concurrent or an earlier sweep)
        _escalate(ticket, point, now=now)
        fired.append(point.level)
    next_check = sla_next_check(ticket, clock, done=done)
    Ticket.objects.filter(pk=pk).update(sla_next_check_at=next_check)
    ticket.sla_next_check_at = next_check
    return fired


def _escalate(ticket: Ticket, point: Checkpoint, *, now: datetime) -> None:
    from .notifications import notification_send

    level = point.level
    team = Team.objects.select_related("supervisor").filter(pk=ticket.team_id).first()
    supervisor = team.supervisor if team is not None else None
    if level == EscalationLevel.AT_RISK:
        recipients = [ticket.assignee if ticket.assignee_id else supervisor]
    elif level == EscalationLevel.BREACHED:
        recipients = [supervisor]
        _raise_priority(ticket, point, now=now)
    else:
        recipients = list(User.objects.filter(groups__name=MANAGER, is_active=True).distinct())
    recipients = [r for r in recipients if r is not None]
    params = {
        "number": ticket.external_id,
        "subject": ticket.subject,
        "target": SlaTarget(point.target).label,
        "due": timezone.localtime(point.due_at).strftime("%Y-%m-%d %H:%M"),
    }
    notification_send(
        recipients=recipients,
        kind=KINDS[level],
        title=TITLES[level],
        body=BODY,
        params=params,
        url=reverse("tickets:detail", args=[ticket.pk]),
        payload={
            "ticket": ticket.external_id,
            "ticket_id": ticket.pk,
            "target": point.target,
            "level": int(level),
            "due_at": point.due_at.isoformat(),
            "priority": ticket.priority,
        },
        urgent=level != EscalationLevel.AT_RISK,
        dedupe_key=f"sla:{ticket.pk}:{point.target}:{int(level)}",
        at=now,
    )


def _raise_priority(ticket: Ticket, point: Checkpoint, *, now: datetime) -> None:
    """Level 2: one step up and an `escalated` event (urgent stays urgent; the event is
    still written). Through the gate, so the version moves; the due times stay."""
    old = ticket.priority
    new = NEXT_PRIORITY.get(old, old)
    fields = {"priority": new} if new != old else {}
    comment = gettext("%(target)s target breached (due %(due)s).") % {
        "target": SlaTarget(point.target).label,
        "due": timezone.localtime(point.due_at).strftime("%Y-%m-%d %H:%M"),
    }
    change = gate._Change(kind=EventKind.ESCALATED, fields=fields, from_value=old, to_value=new, comment=comment)
    gate._apply(ticket, change, actor=None, at=max(now, ticket.created_at))
