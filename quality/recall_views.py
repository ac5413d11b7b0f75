"""Recall campaign pages (issue 6), mounted at /recalls/. Thin: forms parse, services
validate and write (a refusal is shown as a message and changes nothing), selectors
read. Quality engineers and admins run campaigns; managers and committee members read;
agents and supervisors get a 403."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError
from catalog.exports import dated_filename, export_response
from catalog.throttles import export_throttle

from . import recall_selectors as selectors
from . import services
from .models import RecallState, RecallUnit, RecallUnitStatus
from .panels import recall_actions
from .recall_forms import RecallForm, UnitFilterForm

PAGE_SIZE = 50
# The button that moves a campaign to each state.
STATE_ACTIONS = {
    RecallState.APPROVED: (gettext_lazy("Approve"), "bi-check2", "btn-primary"),
    RecallState.LAUNCHED: (gettext_lazy("Launch"), "bi-megaphone", "btn-success"),
    RecallState.COMPLETED: (gettext_lazy("Complete"), "bi-flag", "btn-outline-success"),
    RecallState.TERMINATED: (gettext_lazy("Terminate"), "bi-x-octagon", "btn-outline-danger"),
}
STATE_BADGES = {
    RecallState.DRAFT: "text-bg-secondary",
    RecallState.APPROVED: "text-bg-info",
    RecallState.LAUNCHED: "text-bg-primary",
    RecallState.COMPLETED: "text-bg-success",
    RecallState.TERMINATED: "text-bg-dark",
}
UNIT_BADGES = {
    RecallUnitStatus.PENDING: "text-bg-light border",
    RecallUnitStatus.NOTIFIED: "text-bg-info",
    RecallUnitStatus.SCHEDULED: "text-bg-warning",
    RecallUnitStatus.REMEDIED: "text-bg-success",
    RecallUnitStatus.UNREACHABLE: "text-bg-danger",
}


def _percentages(figures: dict) -> dict:
    """The shares as percentages for display (None stays None: an empty denominator)."""
    keys = ("remedied_share", "notification_rate", "response_rate", "unreachable_share")
    return {f"{key}_pct": None if figures[key] is None else figures[key] * 100 for key in keys}


def recall_reader(view):
    """Logged in and allowed to read recalls (a global-read role), else 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not selectors.recalls_readable(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def recall_ticket_panel(ticket, user) -> dict | None:
    """The ticket page's "Recall" panel: shown on a remedy ticket only."""
    unit = selectors.recall_unit_for_ticket(ticket)
    if unit is None:
        return None
    return {"recall": unit.recall, "unit": unit, "can_read": selectors.recalls_readable(user)}


@recall_reader
@require_GET
def recall_list(request):
    state = request.GET.get("state") or None
    if state not in RecallState.values:
        state = None
    recalls = list(selectors.recall_list(state=state))
    for recall in recalls:
        recall.remedied_share = recall.remedied / recall.affected if recall.affected else None
        recall.badge = STATE_BADGES.get(recall.state, "text-bg-secondary")
    context = {
        "recalls": recalls,
        "state": state,
        "states": RecallState.choices,
        "can_add": request.user.has_perm(selectors.ADD_PERM),
    }
    return render(request, "quality/recalls/list.html", context)


@recall_reader
def recall_create(request):
    _require(request, selectors.ADD_PERM)
    form = RecallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            recall = services.recall_create(actor=request.user, code=form.cleaned_data["code"], **form.service_kwargs())
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("Recall %(code)s was created as a draft.") % {"code": recall.code})
            return redirect("recalls:detail", code=recall.code)
    return render(request, "quality/recalls/form.html", {"form": form, "recall": None})


@recall_reader
def recall_edit(request, code):
    _require(request, selectors.CHANGE_PERM)
    recall = selectors.recall_get(code=code)
    if recall.state != RecallState.DRAFT:
        messages.error(request, _("Only a draft can be edited."))
        return redirect("recalls:detail", code=recall.code)
    form = RecallForm(request.POST or None, recall=recall)
    if request.method == "POST" and form.is_valid():
        try:
            services.recall_update(recall_id=recall.pk, actor=request.user, **form.service_kwargs())
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("Recall %(code)s was saved.") % {"code": recall.code})
            return redirect("recalls:detail", code=recall.code)
    return render(request, "quality/recalls/form.html", {"form": form, "recall": recall})


@recall_reader
@require_GET
def recall_detail(request, code):
    recall = selectors.recall_get(code=code)
    services.recall_units_remedied_sync(recall_id=recall.pk)
    filter_form = UnitFilterForm(request.GET)
    status = filter_form.status_value()
    page = Paginator(selectors.recall_units(recall=recall, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        row.badge = UNIT_BADGES.get(row.status, "text-bg-secondary")
        row.next_statuses = [
            (value, RecallUnitStatus(value).label) for value in selectors.unit_allowed_statuses(row.status)
        ]
    figures = selectors.recall_completion(recall=recall)
    can_change = request.user.has_perm(selectors.CHANGE_PERM)
    can_units = request.user.has_perm(selectors.UNIT_CHANGE_PERM) and recall.state == RecallState.LAUNCHED
    actions = []
    if can_change:
        for to_state in selectors.recall_allowed_transitions(recall):
            label, icon, css = STATE_ACTIONS[to_state]
            actions.append({"to_state": to_state, "label": label, "icon": icon, "css": css})
    for row in figures["by_batch"]:
        row.update(_percentages(row))
    figures.update(_percentages(figures))
    status_counts = {key: figures[key] for key in ("pending", "scheduled", "remedied", "unreachable")}
    status_counts["notified"] = figures["notified"] - figures["responded"]
    cards = [
        {"label": _("Affected units"), "value": figures["affected"]},
        {"label": _("Remedied"), "pct": figures["remedied_share_pct"], "note": figures["remedied"]},
        {"label": _("Notification rate"), "pct": figures["notification_rate_pct"], "note": figures["notified"]},
        {"label": _("Response rate"), "pct": figures["response_rate_pct"], "note": figures["responded"]},
        {"label": _("Unreachable"), "pct": figures["unreachable_share_pct"], "note": figures["unreachable"]},
        {"label": _("Weeks to 50 %"), "value": figures["weeks_to_50"]},
        {"label": _("Weeks to 80 %"), "value": figures["weeks_to_80"]},
        {"label": _("Pending"), "value": figures["pending"]},
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "recall": recall,
        "badge": STATE_BADGES.get(recall.state, "text-bg-secondary"),
        "figures": figures,
        "cards": cards,
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "filter_form": filter_form,
        "status": status or "",
        "statuses": [(value, label, status_counts[value]) for value, label in RecallUnitStatus.choices],
        "query": query.urlencode(),
        "actions": actions,
        "can_edit": can_change and recall.state == RecallState.DRAFT,
        "can_units": can_units,
        "events": selectors.recall_events(recall)[:20],
        "page_actions": recall_actions(recall, request.user),
        "chart_config": {
            "url": reverse("recall-detail", args=[recall.code]),
            "labels": {
                "remedied": _("Remedied (cumulative %)"),
                "week": _("Week since launch"),
                "target50": _("50 %"),
                "target80": _("80 %"),
                "empty": _("No remedies yet."),
                "error": _("The completion curve could not be loaded."),
            },
        },
    }
    return render(request, "quality/recalls/detail.html", context)


@recall_reader
@require_POST
def recall_transition(request, code):
    _require(request, selectors.CHANGE_PERM)
    recall = selectors.recall_get(code=code)
    to_state = request.POST.get("to_state", "")
    try:
        services.recall_transition(
            recall_id=recall.pk, to_state=to_state, actor=request.user, comment=request.POST.get("comment", "")
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        label = RecallState(to_state).label
        messages.success(request, _("Recall %(code)s is now %(state)s.") % {"code": recall.code, "state": label})
    return redirect("recalls:detail", code=recall.code)


def _back(request, recall):
    url = reverse("recalls:detail", args=[recall.code])
    query = request.POST.get("back", "")
    return redirect(f"{url}?{query}#units" if query else f"{url}#units")


@recall_reader
@require_POST
def recall_unit_status(request, code, pk):
    _require(request, selectors.UNIT_CHANGE_PERM)
    recall = selectors.recall_get(code=code)
    unit = get_object_or_404(RecallUnit.objects.select_related("unit"), pk=pk, recall=recall)
    try:
        services.recall_unit_set_status(
            recall_unit_id=unit.pk, status=request.POST.get("status", ""), actor=request.user
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Unit %(serial)s was updated.") % {"serial": unit.unit.serial})
    return _back(request, recall)


@recall_reader
@require_POST
def recall_unit_ticket(request, code, pk):
    _require(request, selectors.UNIT_CHANGE_PERM)
    recall = selectors.recall_get(code=code)
    unit = get_object_or_404(RecallUnit.objects.select_related("unit"), pk=pk, recall=recall)
    try:
        ticket = services.recall_unit_remedy_ticket(recall_unit_id=unit.pk, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Remedy ticket %(number)s was opened for unit %(serial)s.")
            % {"number": ticket.external_id or ticket.pk, "serial": unit.unit.serial},
        )
    return _back(request, recall)


@recall_reader
@require_POST
def recall_units_notify(request, code):
    _require(request, selectors.UNIT_CHANGE_PERM)
    recall = selectors.recall_get(code=code)
    ids = [int(v) for v in request.POST.getlist("units") if v.isdigit()]
    if not ids:
        messages.warning(request, _("Select the units to mark notified."))
        return _back(request, recall)
    try:
        changed = services.recall_units_notify(recall_id=recall.pk, recall_unit_ids=ids, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(count)d units were marked notified.") % {"count": changed})
    return _back(request, recall)


@recall_reader
@require_GET
@export_throttle
def recall_units_export(request, code):
    """The affected units (with the page's status filter) as CSV or XLSX, for a
    notification campaign: who to call or write to, and where each unit stands."""
    recall = selectors.recall_get(code=code)
    services.recall_units_remedied_sync(recall_id=recall.pk)
    filter_form = UnitFilterForm(request.GET)
    units = selectors.recall_units(recall=recall, status=filter_form.status_value())
    headers, rows = selectors.recall_units_export_table(units, translated=True)
    try:
        return export_response(
            filename=dated_filename(f"recall-{recall.code}"),
            fmt=request.GET.get("format", ""),
            headers=headers,
            rows=rows,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("recalls:detail", code=recall.code)
