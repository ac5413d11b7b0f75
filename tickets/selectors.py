"""Reads of the service operation, scoped to what a user may see. Agents and
supervisors see their teams' tickets and those assigned to them; the global-read
roles see all. Anything outside the scope is simply absent (the views answer 404)."""

from django.db.models import Q, QuerySet
from django.http import Http404

from catalog.roles import user_has_global_read

from .models import Team, Ticket, TicketEvent


def tickets_for_user(user) -> QuerySet[Ticket]:
    qs = Ticket.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user_has_global_read(user):
        return qs
    # A subquery, not a join: no duplicates to DISTINCT away on a large table.
    return qs.filter(Q(team_id__in=Team.objects.filter(members=user).values("pk")) | Q(assignee=user))


def ticket_list(*, user) -> QuerySet[Ticket]:
    return tickets_for_user(user).select_related("customer__region", "unit__product_model", "team", "assignee")


def ticket_get_for_user(*, user, pk) -> Ticket:
    try:
        return ticket_list(user=user).get(pk=pk)
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise Http404("No such ticket.") from None


def ticket_timeline(*, ticket: Ticket, public_only: bool = False) -> QuerySet[TicketEvent]:
    qs = ticket.events.select_related("actor")
    return qs.filter(public=True) if public_only else qs


def teams_for_user(user) -> QuerySet[Team]:
    if user_has_global_read(user):
        return Team.objects.all()
    return Team.objects.filter(members=user)
