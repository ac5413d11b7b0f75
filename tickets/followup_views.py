"""Staff actions of the customer card on the ticket page: record a follow-up or a
callback, revoke the customer links. Thin: scope (404), form, one service, message,
redirect. The services decide who may act (the ticket's team, or staff)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog.exceptions import ApplicationError

from . import selectors
from .forms import ServiceTaskCompleteForm
from .models import TaskKind
from .services.followups import service_task_complete
from .services.links import ticket_links_revoke


def _back(ticket):
    return redirect(reverse("tickets:detail", args=[ticket.pk]) + "#customer-card")


@login_required
@require_POST
def task_complete(request, pk, task_id):
    ticket = selectors.ticket_get_for_user(user=request.user, pk=pk)
    task = selectors.ticket_service_tasks(ticket=ticket).filter(pk=task_id).first()
    if task is None:
        raise Http404("No such task.")
    form = ServiceTaskCompleteForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back(ticket)
    try:
        service_task_complete(task_id=task.pk, actor=request.user, outcome=form.cleaned_data["outcome"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        done = _("The follow-up was recorded.") if task.kind == TaskKind.FOLLOW_UP else _("The callback was recorded.")
        messages.success(request, done)
    return _back(ticket)


@login_required
@require_POST
def links_revoke(request, pk):
    ticket = selectors.ticket_get_for_user(user=request.user, pk=pk)
    try:
        ticket_links_revoke(ticket_id=ticket.pk, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Every customer link given out so far no longer works. Send the new ones."))
    return _back(ticket)
