"""Auto-dispatch: a new ticket is routed to a team by the first matching DispatchRule,
then to the agent of that team who is on shift with the fewest open tickets.

Dispatches to one team are serialised by a row lock on the Team, so two tickets
created at the same moment see each other's assignment and go to two different
agents of equal load."""

from datetime import datetime

from django.db import transaction
from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import User

from ..models import AgentShift, DispatchMethod, DispatchRule, EventKind, Team, Ticket, TicketType, Weekday
from ..supervisor_selectors import default_calendar, open_ticket_count, shift_filter, team_agents, team_time_zone
from .tickets import ASSIGNABLE, _apply, _Change, _lock, _now, ticket_assign


def dispatch_rule_match(ticket: Ticket) -> DispatchRule | None:
    """The first active rule by (position, id) whose non-blank criteria all match the
    ticket. A criterion the ticket cannot answer (no unit, so no product line) only
    matches a rule that leaves it blank."""
    unit = ticket.unit
    product_line_id = unit.product_model.product_line_id if unit is not None else None
    rules = DispatchRule.objects.filter(active=True).filter(
        Q(region__isnull=True) | Q(region_id=ticket.customer.region_id),
        Q(product_line__isnull=True) | Q(product_line_id=product_line_id),
        Q(ticket_type="") | Q(ticket_type=ticket.type),
        Q(skill="") | Q(skill=ticket.skill),
    )
    return rules.select_related("team").order_by("position", "id").first()


def dispatch_candidates(team: Team, *, at: datetime) -> QuerySet[User]:
    """The team's agents on shift at `at`, best first: fewest open tickets (any team),
    then round-robin (the one whose latest automatic assignment in this team is the
    oldest; never assigned first), then the lowest pk. A team without any shift row
    has every agent member on shift."""
    agents = team_agents([team.pk])
    if AgentShift.objects.filter(team=team).exists():
        zone = team_time_zone(team, default=default_calendar())
        agents = agents.filter(pk__in=AgentShift.objects.filter(shift_filter(at, zone), team=team).values("user_id"))
    latest_auto = (
        Ticket.objects.filter(assignee=OuterRef("pk"), team=team, dispatch_method=DispatchMethod.AUTO)
        .order_by("-assigned_at")
        .values("assigned_at")[:1]
    )
    return agents.annotate(open_count=open_ticket_count(), latest_auto=Subquery(latest_auto)).order_by(
        "open_count", F("latest_auto").asc(nulls_first=True), "pk"
    )


@transaction.atomic
def ticket_team_set(*, ticket_id: int, team: Team, actor: User | None = None, at: datetime | None = None) -> Ticket:
    """Route an unassigned ticket to `team` without choosing an assignee (it waits in
    the team's queue). Locks the ticket; one `assigned` event naming the team."""
    at = _now(at)
    ticket = _lock(ticket_id, None)
    if ticket.assignee_id is not None:
        raise ConflictError(
            _("The ticket is already assigned; reassign it instead."), errors={"team": [_("ticket is assigned")]}
        )
    if ticket.status not in ASSIGNABLE:
        raise ConflictError(_("A resolved or closed ticket cannot be routed."), errors={"team": [_("not open")]})
    if ticket.team_id == team.pk:
        return ticket
    change = _Change(
        kind=EventKind.ASSIGNED,
        fields={"team": team},
        from_value=ticket.team.name if ticket.team_id else "",
        to_value=team.name,
        comment=_("Routed to team %(team)s; nobody on shift yet.") % {"team": team.name},
    )
    return _apply(ticket, change, actor=actor, at=at)


@transaction.atomic
def ticket_dispatch(*, ticket_id: int, actor: User | None = None, at: datetime | None = None) -> Ticket:
    """Route an unassigned open ticket: its team (else the first matching rule's team),
    then the best candidate of dispatch_candidates, through ticket_assign with method
    auto. No matching rule: nothing is written. Nobody on shift: only the team is set.
    An assigned or closed ticket is returned unchanged.

    Locking: the Team row first (serialises dispatches to one team), then the ticket
    (ticket_assign), always in that order."""
    at = _now(at)
    try:
        ticket = Ticket.objects.select_related("customer", "unit__product_model", "team").get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise ApplicationError(_("Ticket not found."), errors={"ticket": [_("does not exist")]}) from None
    if ticket.assignee_id is not None or ticket.status not in ASSIGNABLE:
        return ticket
    team = ticket.team
    if team is None:
        rule = dispatch_rule_match(ticket)
        if rule is None:
            return ticket
        team = rule.team
    team = lock_one(Team.objects.all(), team.pk)
    # Read again under the lock: a concurrent dispatch or a supervisor may have won.
    ticket = _lock(ticket_id, None)
    if ticket.assignee_id is not None or ticket.status not in ASSIGNABLE or ticket.team_id not in (None, team.pk):
        return ticket
    agent = dispatch_candidates(team, at=at).first()
    if agent is None:
        return ticket_team_set(ticket_id=ticket.pk, team=team, actor=actor, at=at)
    return ticket_assign(ticket_id=ticket.pk, assignee=agent, team=team, actor=actor, method=DispatchMethod.AUTO, at=at)


# --- configuration: dispatch rules and shifts (admin and API) ----------------------------------

RULE_FIELDS = ("name", "position", "region", "product_line", "ticket_type", "skill", "team", "active")
SHIFT_FIELDS = ("team", "user", "weekday", "start", "end")


def _rule_errors(values: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not (values.get("name") or "").strip():
        errors["name"] = [_("This field is required.")]
    if values.get("team") is None:
        errors["team"] = [_("This field is required.")]
    if values.get("ticket_type") and values["ticket_type"] not in TicketType.values:
        errors["ticket_type"] = [_("“%(value)s” is not a valid choice.") % {"value": values["ticket_type"]}]
    if len(values.get("skill") or "") > DispatchRule._meta.get_field("skill").max_length:
        errors["skill"] = [_("At most %(limit)s characters.") % {"limit": 64}]
    return errors


def _shift_errors(values: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    team, user = values.get("team"), values.get("user")
    if team is None:
        errors["team"] = [_("This field is required.")]
    if user is None:
        errors["user"] = [_("This field is required.")]
    elif team is not None and not team.members.filter(pk=user.pk).exists():
        errors["user"] = [_("%(user)s is not a member of team %(team)s.") % {"user": user, "team": team}]
    if values.get("weekday") not in Weekday.values:
        errors["weekday"] = [_("A weekday from 0 (Monday) to 6 (Sunday).")]
    start, end = values.get("start"), values.get("end")
    if start is not None and end is not None and end <= start:
        # A night shift is two rows: until midnight, and from midnight the next day.
        errors["end"] = [_("The end must be after the start (split a night shift at midnight).")]
    return errors


@transaction.atomic
def dispatch_rule_save(*, rule_id: int | None = None, **values) -> DispatchRule:
    """Create a rule, or change the given fields of one (locked). Refuses blank names,
    a missing team and unknown ticket types."""
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    rule = DispatchRule() if rule_id is None else lock_one(DispatchRule.objects.all(), rule_id)
    merged = {name: getattr(rule, name, None) for name in RULE_FIELDS if rule_id is not None} | values
    errors = _rule_errors(merged)
    if errors:
        raise ApplicationError(_("The dispatch rule was not saved."), errors=errors)
    for name, value in values.items():
        setattr(rule, name, value.strip() if isinstance(value, str) else value)
    if rule_id is None:
        rule.save()
    elif values:
        rule.save(update_fields=list(values))
    return rule


@transaction.atomic
def agent_shift_save(*, shift_id: int | None = None, **values) -> AgentShift:
    """Create a shift, or change the given fields of one (locked). The agent must be a
    member of the team and the shift must end after it starts, the same day."""
    unknown = set(values) - set(SHIFT_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    shift = AgentShift() if shift_id is None else lock_one(AgentShift.objects.all(), shift_id)
    merged = {name: getattr(shift, name, None) for name in SHIFT_FIELDS if shift_id is not None} | values
    errors = _shift_errors(merged)
    if errors:
        raise ApplicationError(_("The shift was not saved."), errors=errors)
    for name, value in values.items():
        setattr(shift, name, value)
    if shift_id is None:
        shift.save()
    elif values:
        shift.save(update_fields=list(values))
    return shift


@transaction.atomic
def dispatch_rule_delete(*, rule_id: int) -> None:
    DispatchRule.objects.filter(pk=rule_id).delete()


@transaction.atomic
def agent_shift_delete(*, shift_id: int) -> None:
    AgentShift.objects.filter(pk=shift_id).delete()
