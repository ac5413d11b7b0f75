"""Reads of dispatch and of the supervisor page: who may see which teams, who is on
shift, the team queue by SLA state, escalations, overdue follow-ups, callbacks and the
load per agent. Every read is one query whatever the number of rows (the page has a
query budget, see tests/tickets/test_supervisor.py)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from catalog.models import User
from catalog.roles import AGENT, SUPERVISOR, user_has_global_read, user_roles

from . import selectors
from .models import (
    OPEN_STATUSES,
    AgentShift,
    BusinessCalendar,
    DispatchRule,
    Escalation,
    ServiceTask,
    TaskKind,
    Team,
    Ticket,
)

# Rows shown per list of the page; the counts above them are exact.
LIST_SIZE = 25
ESCALATION_DAYS = 7


# --- teams and shifts -------------------------------------------------------------------------


def user_can_supervise(user) -> bool:
    """The supervisor page is for supervisors (their teams) and the global-read roles."""
    return SUPERVISOR in user_roles(user) or user_has_global_read(user)


def supervisor_teams(user) -> QuerySet[Team]:
    """Teams the user supervises: all for the global-read roles; for a supervisor the
    teams they lead (Team.supervisor) or belong to; none for anybody else."""
    qs = Team.objects.select_related("calendar").order_by("name")
    if user_has_global_read(user):
        return qs
    if SUPERVISOR not in user_roles(user):
        return qs.none()
    return qs.filter(Q(supervisor=user) | Q(pk__in=Team.objects.filter(members=user).values("pk")))


def default_calendar() -> BusinessCalendar | None:
    return BusinessCalendar.objects.filter(is_default=True).first()


def team_time_zone(team: Team, *, default: BusinessCalendar | None) -> ZoneInfo:
    """The zone the team's shifts are written in: its calendar's, else the default
    calendar's, else the site's."""
    calendar = team.calendar if team.calendar_id else default
    return ZoneInfo(calendar.time_zone if calendar else settings.TIME_ZONE)


def shift_filter(at: datetime, zone: ZoneInfo) -> Q:
    """AgentShift rows covering `at`: [start, end) on the local weekday."""
    local = at.astimezone(zone)
    return Q(weekday=local.weekday(), start__lte=local.time(), end__gt=local.time())


def shift_covers(shift: AgentShift, at: datetime, zone: ZoneInfo) -> bool:
    """The same rule as shift_filter, for rows already in memory."""
    local = at.astimezone(zone)
    return shift.weekday == local.weekday() and shift.start <= local.time() < shift.end


def team_agents(team_ids) -> QuerySet[User]:
    """Active users with the agent role who are members of any of `team_ids`."""
    members = Team.members.through.objects.filter(team_id__in=team_ids).values("user_id")
    return User.objects.filter(is_active=True, pk__in=members, groups__name=AGENT)


def open_ticket_count(user_ref: str = "pk") -> Coalesce:
    """Open tickets assigned to OuterRef(user_ref), in any team (a correlated subquery)."""
    open_tickets = (
        Ticket.objects.filter(assignee=OuterRef(user_ref), status__in=OPEN_STATUSES)
        .order_by()
        .values("assignee")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(open_tickets, output_field=IntegerField()), Value(0))


def dispatch_rule_list() -> QuerySet[DispatchRule]:
    return DispatchRule.objects.select_related("team", "region", "product_line").order_by("position", "id")


def shift_list(*, teams: QuerySet[Team]) -> QuerySet[AgentShift]:
    return AgentShift.objects.filter(team__in=teams).select_related("team", "user")


# --- the supervisor page ----------------------------------------------------------------------


def sla_annotated(queryset: QuerySet[Ticket], *, now: datetime) -> QuerySet[Ticket]:
    """`sla_state` and `sla_next_due_at` from tickets.selectors.sla_state_annotate."""
    return selectors.sla_state_annotate(queryset, now=now)


@dataclass
class TeamQueue:
    counts: dict[str, int]
    lists: dict[str, list[Ticket]] = field(default_factory=dict)


QUEUE_BUCKETS = ("breached", "at_risk", "ok", "unassigned")


def supervisor_queue(*, teams: QuerySet[Team], include_teamless: bool, now: datetime) -> TeamQueue:
    """Open tickets of `teams` (and, for the global view, those no rule routed) by SLA
    state: exact counts (one query) and the first LIST_SIZE of each bucket, nearest due
    first (one query each). `ok` includes tickets without SLA targets; `unassigned`
    overlaps the others (an unassigned ticket also has an SLA state)."""
    scope = Q(team__in=teams)
    if include_teamless:
        scope |= Q(team__isnull=True)
    qs = sla_annotated(Ticket.objects.filter(scope, status__in=OPEN_STATUSES), now=now)
    counts = qs.aggregate(
        breached=Count("pk", filter=Q(sla_state="breached")),
        at_risk=Count("pk", filter=Q(sla_state="at_risk")),
        ok=Count("pk", filter=Q(sla_state__in=("ok", "none"))),
        unassigned=Count("pk", filter=Q(assignee__isnull=True)),
    )
    rows = qs.select_related("customer", "team", "assignee").order_by(
        F("sla_next_due_at").asc(nulls_last=True), "created_at", "id"
    )
    lists = {
        "breached": list(rows.filter(sla_state="breached")[:LIST_SIZE]),
        "at_risk": list(rows.filter(sla_state="at_risk")[:LIST_SIZE]),
        "ok": list(rows.filter(sla_state__in=("ok", "none"))[:LIST_SIZE]),
        "unassigned": list(rows.filter(assignee__isnull=True)[:LIST_SIZE]),
    }
    return TeamQueue(counts=counts, lists=lists)


def recent_escalations(*, teams: QuerySet[Team], include_teamless: bool, now: datetime) -> list[Escalation]:
    """Escalations of the last ESCALATION_DAYS days, newest first."""
    scope = Q(ticket__team__in=teams)
    if include_teamless:
        scope |= Q(ticket__team__isnull=True)
    qs = Escalation.objects.filter(scope, at__gte=now - timedelta(days=ESCALATION_DAYS))
    return list(qs.select_related("ticket__team", "ticket__assignee").order_by("-at", "-id")[:LIST_SIZE])


def _tasks(kind: str, *, teams: QuerySet[Team], include_teamless: bool) -> QuerySet[ServiceTask]:
    scope = Q(team__in=teams)
    if include_teamless:
        scope |= Q(team__isnull=True)
    return (
        ServiceTask.objects.filter(scope, kind=kind, done_at__isnull=True)
        .select_related("ticket__customer", "ticket__assignee", "team")
        .order_by("due_at", "id")
    )


def overdue_follow_ups(*, teams: QuerySet[Team], include_teamless: bool, now: datetime) -> list[ServiceTask]:
    """Follow-ups (回访) not done by their due time, most overdue first."""
    qs = _tasks(TaskKind.FOLLOW_UP, teams=teams, include_teamless=include_teamless).filter(due_at__lt=now)
    return list(qs[:LIST_SIZE])


def open_callbacks(*, teams: QuerySet[Team], include_teamless: bool) -> list[ServiceTask]:
    """Callbacks after a low satisfaction score that nobody has made yet, earliest due first."""
    return list(_tasks(TaskKind.CALLBACK, teams=teams, include_teamless=include_teamless)[:LIST_SIZE])


@dataclass
class AgentLoad:
    team: Team
    user: User
    open_count: int
    on_shift: bool


def agent_load(*, teams: QuerySet[Team], now: datetime) -> list[AgentLoad]:
    """One row per team and agent member: open tickets (any team, as dispatch counts
    them) and whether the agent is on shift in that team now (same rule as dispatch:
    a team without shift rows has every agent on shift). Three queries."""
    memberships = list(
        Team.members.through.objects.filter(
            team__in=teams,
            user__is_active=True,
            user__in=User.objects.filter(groups__name=AGENT),
        )
        .select_related("team__calendar", "user")
        .annotate(open_count=open_ticket_count("user_id"))
        .order_by("team__name", "user__username")
    )
    shifts: dict[int, list[AgentShift]] = {}
    for shift in AgentShift.objects.filter(team__in=teams).order_by():
        shifts.setdefault(shift.team_id, []).append(shift)
    default = default_calendar() if any(not m.team.calendar_id for m in memberships) else None
    rows = []
    for m in memberships:
        team_shifts = shifts.get(m.team_id)
        if team_shifts is None:
            on_shift = True
        else:
            zone = team_time_zone(m.team, default=default)
            on_shift = any(s.user_id == m.user_id and shift_covers(s, now, zone) for s in team_shifts)
        rows.append(AgentLoad(team=m.team, user=m.user, open_count=m.open_count, on_shift=on_shift))
    return rows
