"""The supervisor page: the team queue by SLA state, recent escalations, overdue
follow-ups, low-score callbacks and the load per agent, with a quick reassign control.
Thin: every read comes from tickets.supervisor_selectors, the reassignment from
services.ticket_assign (so it is counted and logged as any other)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError
from catalog.roles import user_has_global_read

from . import services
from . import supervisor_selectors as sel
from .forms import AssignForm, person_label
from .models import Ticket

CHANGE_PERM = "tickets.change_ticket"


def _supervisor_only(user) -> None:
    # Agents have their queue; this page is not theirs.
    if not sel.user_can_supervise(user):
        raise PermissionDenied


@login_required
@require_GET
def supervisor_home(request):
    _supervisor_only(request.user)
    teams = sel.supervisor_teams(request.user)
    team_list = list(teams)
    chosen = next((t for t in team_list if str(t.pk) == request.GET.get("team", "")), None)
    scope = teams.filter(pk=chosen.pk) if chosen else teams
    # Tickets that no rule routed belong to nobody's team: the global view shows them.
    teamless = chosen is None and user_has_global_read(request.user)
    now = timezone.now()

    load = sel.agent_load(teams=scope, now=now)
    queue = sel.supervisor_queue(teams=scope, include_teamless=teamless, now=now)
    can_reassign = request.user.has_perm(CHANGE_PERM)
    if can_reassign:
        by_team: dict[int, list] = {}
        for row in load:
            by_team.setdefault(row.team.pk, []).append(row)
        for tickets in queue.lists.values():
            for ticket in tickets:
                ticket.reassign_options = by_team.get(ticket.team_id, [])
    context = {
        "teams": team_list,
        "chosen": chosen,
        "now": now,
        "queue": queue,
        "buckets": [
            ("breached", _("Breached"), "danger", "bi-alarm"),
            ("at_risk", _("At risk"), "warning", "bi-hourglass-split"),
            ("ok", _("On track"), "success", "bi-check2-circle"),
            ("unassigned", _("Unassigned"), "secondary", "bi-person-dash"),
        ],
        "escalations": sel.recent_escalations(teams=scope, include_teamless=teamless, now=now),
        "escalation_days": sel.ESCALATION_DAYS,
        "follow_ups": sel.overdue_follow_ups(teams=scope, include_teamless=teamless, now=now),
        "callbacks": sel.open_callbacks(teams=scope, include_teamless=teamless),
        "load": load,
        "list_size": sel.LIST_SIZE,
        "can_reassign": can_reassign,
    }
    return render(request, "tickets/supervisor/home.html", context)


@login_required
@permission_required(CHANGE_PERM, raise_exception=True)
@require_POST
def supervisor_assign(request, pk):
    """The quick reassign control of the page: one ticket_assign, then back to the page."""
    _supervisor_only(request.user)
    scope = Ticket.objects.select_related("team")
    if not user_has_global_read(request.user):
        scope = scope.filter(team__in=sel.supervisor_teams(request.user))
    try:
        ticket = scope.get(pk=pk)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket.") from None
    form = AssignForm(request.POST, user=request.user, ticket=ticket)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            services.ticket_assign(
                ticket_id=ticket.pk,
                assignee=form.cleaned_data["assignee"],
                actor=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("%(number)s was assigned to %(user)s.")
                % {"number": ticket.external_id, "user": person_label(form.cleaned_data["assignee"])},
            )
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    return redirect(back or "tickets:supervisor")
