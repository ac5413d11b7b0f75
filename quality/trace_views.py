"""Traceability pages (/trace/) and the failures panel of the ticket page. Thin: parse,
call one selector or service, render. Failures and tickets are scoped to the user
(quality.trace_selectors); changes are POST-redirect-GET."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError
from catalog.models import Unit
from tickets.models import Team
from tickets.selectors import ticket_get_for_user

from . import services
from . import trace_selectors as selectors
from .trace_forms import FailureRecordForm, SerialSearchForm

VIEW_PERM = "quality.view_failure"
ADD_PERM = "quality.add_failure"
DELETE_PERM = "quality.delete_failure"


def _as_of(request) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.GET.get("as_of", ""))
    except ValueError:
        return None


def can_work_ticket(ticket, user) -> bool:
    """Who may record failures on the ticket: its team's members and supervisor, and its
    assignee (one query)."""
    if ticket.assignee_id == user.pk:
        return True
    if ticket.team_id is None:
        return False
    return Team.objects.filter(pk=ticket.team_id).filter(members=user).exists() or (
        ticket.team.supervisor_id == user.pk
    )


def failures_panel_context(ticket, user) -> dict | None:
    """The ticket page's "Failures" panel (registered in QualityConfig.ready)."""
    if not user.has_perm(VIEW_PERM):
        return None
    can_record = user.has_perm(ADD_PERM) and can_work_ticket(ticket, user)
    return {
        "failures": selectors.ticket_failures(ticket=ticket),
        "can_record": can_record,
        "can_delete": can_record and user.has_perm(DELETE_PERM),
        "form": FailureRecordForm(initial={"labor_hours": 0}) if can_record else None,
    }


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def index(request):
    form = SerialSearchForm(request.GET or None)
    if form.is_valid():
        serial = form.cleaned_data["serial"].strip()
        if Unit.objects.filter(serial=serial).exists():
            return redirect("trace:unit", serial=serial)
        messages.error(request, _("No unit with serial “%(serial)s”.") % {"serial": serial})
    context = selectors.trace_index(user=request.user, as_of=_as_of(request))
    context["form"] = form if form.is_bound else SerialSearchForm()
    context["min_units"] = selectors.RANKING_MIN_UNITS
    return render(request, "quality/trace/index.html", context)


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def unit_history(request, serial):
    context = selectors.unit_history(user=request.user, serial=serial)
    context["form"] = SerialSearchForm(initial={"serial": serial})
    return render(request, "quality/trace/unit.html", context)


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def mode_detail(request, code):
    mode = selectors.mode_get(code=code)
    context = selectors.mode_trace(user=request.user, mode=mode, as_of=_as_of(request))
    return render(request, "quality/trace/mode.html", context)


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def batch_detail(request, code):
    batch = selectors.batch_get(code=code)
    context = selectors.batch_trace(user=request.user, batch=batch, as_of=_as_of(request))
    return render(request, "quality/trace/batch.html", context)


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def supplier_detail(request, code):
    supplier = selectors.supplier_get(code=code)
    context = selectors.supplier_trace(user=request.user, supplier=supplier, as_of=_as_of(request))
    return render(request, "quality/trace/supplier.html", context)


def _back(ticket) -> str:
    return reverse("tickets:detail", args=[ticket.pk]) + "#failures"


@login_required
@permission_required(ADD_PERM, raise_exception=True)
@require_POST
def failure_record(request, pk):
    ticket = ticket_get_for_user(user=request.user, pk=pk)
    if not can_work_ticket(ticket, request.user):
        messages.error(request, _("Only the ticket's team can record failures on it."))
        return redirect(_back(ticket))
    form = FailureRecordForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            name = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{name}: {error}" if name else error)
        return redirect(_back(ticket))
    try:
        failure = services.failure_record(ticket_id=ticket.pk, actor=request.user, **form.service_kwargs())
    except ApplicationError as error:
        messages.error(request, error.message)
        for field, reasons in error.errors.items():
            label = form.fields[field].label if field in form.fields else field
            for reason in reasons:
                messages.error(request, f"{label}: {reason}")
    else:
        text = _("Failure %(number)s was recorded.") % {"number": failure.external_id}
        if failure.repeat_of_id:
            text += " " + _("It is a repeat of %(number)s.") % {"number": failure.repeat_of.external_id}
        messages.success(request, text)
    return redirect(_back(ticket))


@login_required
@permission_required(DELETE_PERM, raise_exception=True)
@require_POST
def failure_delete(request, pk):
    failure = selectors.failures_for_user(request.user).select_related("ticket").filter(pk=pk).first()
    if failure is None:
        from django.http import Http404

        raise Http404("No such failure.")
    ticket = failure.ticket
    if not can_work_ticket(ticket, request.user):
        messages.error(request, _("Only the ticket's team can delete its failures."))
        return redirect(_back(ticket))
    try:
        services.failure_delete(failure_id=failure.pk, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Failure %(number)s was deleted.") % {"number": failure.external_id})
    return redirect(_back(ticket))
