"""Agent pages: thin; parse the form, call one selector or service, render.

Every ticket is fetched through selectors.ticket_get_for_user, so anything outside the
user's scope is a 404. Changes are POST-redirect-GET; a refusal by a service is shown
as a message and changes nothing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from catalog import services as catalog_services
from catalog.exceptions import ApplicationError
from catalog.exports import dated_filename, export_response
from catalog.selectors import customer_list, region_list
from catalog.throttles import export_throttle

from . import selectors, services
from .forms import (
    AssignForm,
    CommentForm,
    CustomerCreateForm,
    QueueFilterForm,
    TicketCreateForm,
    TransitionForm,
    customer_label,
    person_label,
    unit_label,
)
from .models import OPEN_STATUSES, Status
from .panels import ticket_panels

PAGE_SIZE = 25
CHANGE_PERM = "tickets.change_ticket"
ADD_PERM = "tickets.add_ticket"

# Status transitions are offered as actions named by what the agent does.
_RESUMABLE = {Status.WAITING_CUSTOMER}
_REOPENABLE = services.REOPEN_FROM
ACTION_LABELS = {
    Status.WAITING_CUSTOMER: (gettext_lazy("Wait for customer"), "bi-hourglass-split", "btn-warning"),
    Status.RESOLVED: (gettext_lazy("Resolve"), "bi-check2-circle", "btn-success"),
    Status.CLOSED: (gettext_lazy("Close"), "bi-archive", "btn-outline-secondary"),
}


def transition_actions(ticket) -> list[dict]:
    """The buttons for services.allowed_transitions(ticket), each labelled as an action."""
    actions = []
    for to_status in services.allowed_transitions(ticket):
        if to_status == Status.IN_PROGRESS:
            if ticket.status in _REOPENABLE:
                label, icon, css = gettext_lazy("Reopen"), "bi-arrow-counterclockwise", "btn-outline-danger"
            elif ticket.status in _RESUMABLE:
                label, icon, css = gettext_lazy("Resume"), "bi-play-fill", "btn-primary"
            else:
                label, icon, css = gettext_lazy("Start"), "bi-play-fill", "btn-primary"
        else:
            label, icon, css = ACTION_LABELS[to_status]
        actions.append({"to_status": to_status, "label": label, "icon": icon, "css": css})
    return actions


def _is_partial(request) -> bool:
    # htmx swaps the results table; a history restore after a cache miss needs the whole page.
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


@login_required
@require_GET
def queue(request):
    # Like a helpdesk's "unsolved tickets" view, the queue opens on the open tickets.
    form = QueueFilterForm.from_query(request.GET, user=request.user)
    tickets = selectors.ticket_queue(user=request.user, **form.filters())
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    # The SLA badge and countdown of each row: every calendar involved read once.
    selectors.tickets_sla_summaries(page.object_list, now=now)
    context = {
        "form": form,
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "open_statuses": OPEN_STATUSES,
        "now": now,
    }
    template = "tickets/_queue_results.html" if _is_partial(request) else "tickets/queue.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
@export_throttle
def queue_export(request):
    """The queue as a CSV or XLSX file: the page's filters and scope, every page of it."""
    form = QueueFilterForm.from_query(request.GET, user=request.user)
    tickets = selectors.ticket_queue(user=request.user, **form.filters())
    headers, rows = selectors.ticket_export_table(tickets, translated=True)
    try:
        return export_response(
            filename=dated_filename("tickets"), fmt=request.GET.get("format", ""), headers=headers, rows=rows
        )
    except ApplicationError as error:
        return render(request, "tickets/export_error.html", {"error": error}, status=400)


@login_required
@permission_required(ADD_PERM, raise_exception=True)
def ticket_create(request):
    if request.method == "POST":
        form = TicketCreateForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                ticket = services.ticket_create(actor=request.user, **form.service_kwargs())
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(request, _("Ticket %(number)s was created.") % {"number": ticket.external_id})
                return redirect("tickets:detail", pk=ticket.pk)
    else:
        form = TicketCreateForm(user=request.user, initial={"customer": request.GET.get("customer")})
    return render(request, "tickets/create.html", {"form": form})


@login_required
@permission_required("catalog.add_customer", raise_exception=True)
def customer_create(request):
    """Register a new caller, then go back to the ticket form with them chosen."""
    form = CustomerCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = catalog_services.customer_create(**form.cleaned_data)
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("Customer %(name)s was registered.") % {"name": customer.name})
            return redirect(f"{reverse('tickets:create')}?customer={customer.pk}")
    return render(request, "tickets/customer_create.html", {"form": form, "regions": region_list()})


def _options(request, options, *, blank=None, empty=None):
    """<option> elements for a type-ahead <select> (htmx swaps them in)."""
    return render(request, "tickets/_options.html", {"options": options, "blank": blank, "empty": empty})


@login_required
@permission_required(ADD_PERM, raise_exception=True)
@require_GET
def customer_lookup(request):
    q = request.GET.get("customer_q", "")
    customers = selectors.customer_search(q=q)
    return _options(
        request,
        [(c.pk, customer_label(c)) for c in customers],
        empty=_("No customer found.") if q.strip() else _("Type to search customers."),
    )


@login_required
@permission_required(ADD_PERM, raise_exception=True)
@require_GET
def unit_lookup(request):
    customer_id, q = request.GET.get("customer", ""), request.GET.get("unit_q", "")
    customer = customer_list().filter(pk=customer_id).first() if customer_id.isdigit() else None
    units = selectors.unit_search(customer=customer, q=q)
    return _options(
        request,
        [(u.pk, unit_label(u, with_owner=customer is None)) for u in units],
        blank=_("No unit"),
        empty=_("No unit found.") if customer or q.strip() else None,
    )


@login_required
@permission_required(ADD_PERM, raise_exception=True)
@require_GET
def assignee_lookup(request):
    team_id = request.GET.get("team", "")
    team = selectors.teams_for_user(request.user).filter(pk=team_id).first() if team_id.isdigit() else None
    users = selectors.assignee_choices(user=request.user, team=team) if team is not None else []
    return _options(request, [(u.pk, person_label(u)) for u in users], blank=_("Nobody yet (dispatch later)"))


@login_required
@require_GET
def ticket_detail(request, pk):
    ticket = selectors.ticket_get_for_user(user=request.user, pk=pk)
    can_change = request.user.has_perm(CHANGE_PERM)
    context = {
        "ticket": ticket,
        "events": selectors.ticket_timeline(ticket=ticket),
        "can_change": can_change,
        "now": timezone.now(),
        # Panels of the apps above tickets (failures, recalls): see tickets.panels.
        "panels": ticket_panels(ticket, request.user),
    }
    if can_change:
        context.update(
            actions=transition_actions(ticket),
            can_assign=ticket.status in services.ASSIGNABLE,
            assign_form=AssignForm(
                user=request.user, ticket=ticket, initial={"version": ticket.version, "assignee": ticket.assignee_id}
            ),
            comment_form=CommentForm(initial={"version": ticket.version}),
            transition_form=TransitionForm(initial={"version": ticket.version}),
        )
    return render(request, "tickets/detail.html", context)


def _ticket_action(request, pk, make_form, call):
    """One POST action on a ticket: scope (404), form, one service call, message, redirect."""
    ticket = selectors.ticket_get_for_user(user=request.user, pk=pk)
    form = make_form(ticket)
    if not form.is_valid():
        for field, errors in form.errors.items():
            name = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{name}: {error}" if name else error)
    else:
        try:
            success = call(ticket, form.cleaned_data)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, success)
    return redirect(reverse("tickets:detail", args=[ticket.pk]))


@login_required
@permission_required(CHANGE_PERM, raise_exception=True)
@require_POST
def ticket_comment(request, pk):
    def call(ticket, data):
        public = data["visibility"] == CommentForm.PUBLIC
        services.ticket_comment(
            ticket_id=ticket.pk, actor=request.user, body=data["body"], public=public, expected_version=data["version"]
        )
        return _("Your reply was added.") if public else _("Your internal note was added.")

    return _ticket_action(request, pk, lambda ticket: CommentForm(request.POST), call)


@login_required
@permission_required(CHANGE_PERM, raise_exception=True)
@require_POST
def ticket_assign(request, pk):
    def call(ticket, data):
        services.ticket_assign(
            ticket_id=ticket.pk, assignee=data["assignee"], actor=request.user, expected_version=data["version"]
        )
        return _("The ticket was assigned to %(user)s.") % {"user": person_label(data["assignee"])}

    return _ticket_action(request, pk, lambda ticket: AssignForm(request.POST, user=request.user, ticket=ticket), call)


@login_required
@permission_required(CHANGE_PERM, raise_exception=True)
@require_POST
def ticket_transition(request, pk):
    def call(ticket, data):
        ticket = services.ticket_transition(
            ticket_id=ticket.pk,
            to_status=data["to_status"],
            actor=request.user,
            expected_version=data["version"],
            comment=data["comment"],
        )
        return _("The ticket is now “%(status)s”.") % {"status": ticket.get_status_display()}

    return _ticket_action(request, pk, lambda ticket: TransitionForm(request.POST), call)
