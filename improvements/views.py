"""Pages of the improvement loop (/improvements/): the board, an issue with its
fishbone, 5-why chains, actions, closure waterfall and timeline, creating an issue
(by hand, from an alert, from records), "my actions". Thin: forms parse, one service
call writes (a refusal is shown as a message and changes nothing), selectors read.
Quality engineers and committee members work issues; an action's owner updates that
action; everybody else reads what the selectors let them see (out of scope: 404)."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError
from quality.alert_access import alerts_queryset, alerts_readable
from quality.kpi.registry import kpi_lookup

from . import selectors, services
from .forms import (
    ActionForm,
    ActionStatusForm,
    BoardFilterForm,
    CauseForm,
    CauseVerifyForm,
    DueChangeForm,
    EvidenceForm,
    IssueEditForm,
    IssueForm,
    ReasonForm,
    RecordsForm,
    TransitionForm,
    WhysForm,
)
from .models import ActionStatus, Decision, ImprovementIssue, Severity, State, Verdict
from .panels import issue_actions as issue_page_actions
from .services.issues import NEEDS_REASON, OPEN_STATES, REOPEN_TO, is_committee

RECALL_ADD_PERM = "quality.add_recall"
STATE_BADGES = {
    State.DRAFT: "text-bg-secondary",
    State.TRIAGE: "text-bg-info",
    State.CONTAINMENT: "text-bg-warning",
    State.ROOT_CAUSE: "text-bg-warning",
    State.ACTION_PLAN: "text-bg-primary",
    State.IMPLEMENTATION: "text-bg-primary",
    State.VERIFICATION: "text-bg-info",
    State.CLOSED: "text-bg-success",
    State.REJECTED: "text-bg-dark",
    State.CANCELLED: "text-bg-dark",
}
SEVERITY_BADGES = {
    Severity.CRITICAL: "text-bg-danger",
    Severity.MAJOR: "text-bg-warning",
    Severity.MINOR: "text-bg-light border",
}
ACTION_BADGES = {
    ActionStatus.OPEN: "text-bg-light border",
    ActionStatus.IN_PROGRESS: "text-bg-primary",
    ActionStatus.DONE: "text-bg-success",
    ActionStatus.CANCELLED: "text-bg-dark",
}
# The button that moves an issue to each state: label, icon, style.
MOVES = {
    State.TRIAGE: (gettext_lazy("To triage"), "bi-funnel", "btn-primary"),
    State.CONTAINMENT: (gettext_lazy("Contain"), "bi-shield-exclamation", "btn-outline-warning"),
    State.ROOT_CAUSE: (gettext_lazy("Root-cause analysis"), "bi-diagram-3", "btn-primary"),
    State.ACTION_PLAN: (gettext_lazy("Action plan"), "bi-list-check", "btn-primary"),
    State.IMPLEMENTATION: (gettext_lazy("Implementation"), "bi-tools", "btn-primary"),
    State.VERIFICATION: (gettext_lazy("Verification"), "bi-clipboard-data", "btn-primary"),
    State.CLOSED: (gettext_lazy("Close"), "bi-check2-circle", "btn-success"),
    State.REJECTED: (gettext_lazy("Reject"), "bi-x-circle", "btn-outline-danger"),
    State.CANCELLED: (gettext_lazy("Cancel issue"), "bi-slash-circle", "btn-outline-secondary"),
}
EVENT_LABELS = {
    "created": gettext_lazy("Created"),
    "transition": gettext_lazy("Moved"),
    "reopened": gettext_lazy("Reopened"),
    "not_effective": gettext_lazy("Not effective: back to root cause"),
    "plan_approved": gettext_lazy("Plan approved"),
    "updated": gettext_lazy("Edited"),
    "evidence": gettext_lazy("Evidence linked"),
    "cause_added": gettext_lazy("Cause added"),
    "cause_changed": gettext_lazy("Cause changed"),
    "cause_deleted": gettext_lazy("Cause deleted"),
    "cause_verified": gettext_lazy("Cause verified"),
    "cause_unverified": gettext_lazy("Cause verification withdrawn"),
    "whys": gettext_lazy("5-why chain saved"),
    "recall": gettext_lazy("Recall launched"),
    "action_added": gettext_lazy("Action added"),
    "action_updated": gettext_lazy("Action edited"),
    "action_owner": gettext_lazy("Action owner changed"),
    "action_due": gettext_lazy("Action due date moved"),
    "action_status": gettext_lazy("Action status"),
    "due_changed": gettext_lazy("Due date moved"),
    "status": gettext_lazy("Action status"),
    "reminded": gettext_lazy("Reminder sent"),
    "escalated": gettext_lazy("Escalated"),
    "verification": gettext_lazy("Verification run"),
    "review": gettext_lazy("Committee review"),
    "recurrence": gettext_lazy("Recurrence"),
}


def _labelled(value: str) -> str:
    """A state or status value as its label (the timeline's from/to)."""
    for choices in (State, ActionStatus, Decision, Verdict):
        if value in choices.values:
            return str(choices(value).label)
    return value


def improvements_reader(view):
    """Logged in and allowed to see improvement issues (or owning an action), else 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not selectors.improvements_visible(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _require_work(request) -> None:
    if not selectors.issues_workable(request.user):
        raise PermissionDenied


def _refused(request, error: ApplicationError) -> None:
    """A service's refusal as one message: what was refused, then the reasons."""
    reasons = [
        str(r) for values in (error.errors or {}).values() for r in (values if isinstance(values, list) else [values])
    ]
    reasons = [r for r in reasons if r != str(error.message)]
    text = str(error.message) + (" " + " ".join(reasons) if reasons else "")
    messages.error(request, text)


def _attempt(request, call, success):
    """Run one service call for a page: a refusal becomes the page's error message, a
    success its message (`success` may take the call's result). Returns the result or None."""
    try:
        result = call()
    except ApplicationError as error:
        _refused(request, error)
        return None
    messages.success(request, success(result) if callable(success) else success)
    return result


def _posted_reason(request) -> str:
    """The reason a reopen or a withdrawal gives; the service refuses a missing one."""
    form = ReasonForm(request.POST)
    form.is_valid()
    return form.cleaned_data.get("reason", "")


def _form_refused(request, form) -> None:
    reasons = [f"{error}" for errors in form.errors.values() for error in errors]
    messages.error(request, _("Not saved: %(reasons)s") % {"reasons": " ".join(reasons)})


def _back(issue_id: int, anchor: str = ""):
    url = reverse("improvements:issue-detail", args=[issue_id])
    return redirect(f"{url}#{anchor}" if anchor else url)


def decorate_issue(issue: ImprovementIssue) -> ImprovementIssue:
    issue.state_badge = STATE_BADGES.get(issue.state, "text-bg-secondary")
    issue.severity_badge = SEVERITY_BADGES.get(issue.severity, "text-bg-secondary")
    return issue


# --- board and lists ---------------------------------------------------------------------


@improvements_reader
@require_GET
def board(request):
    owners = (
        selectors.issues_for_user(request.user)
        .exclude(owner=None)
        .values_list("owner", flat=True)
        .order_by()
        .distinct()
    )
    form = BoardFilterForm(
        request.GET or None, owners=get_user_model().objects.filter(pk__in=owners).order_by("username")
    )
    columns = selectors.issue_board(request.user, form.values())
    for column in columns:
        column["badge"] = STATE_BADGES.get(column["state"], "text-bg-secondary")
        for issue in column["issues"]:
            decorate_issue(issue)
    context = {
        "columns": columns,
        "form": form,
        "can_create": selectors.issues_creatable(request.user),
        "total": sum(column["count"] for column in columns),
    }
    return render(request, "improvements/board.html", context)


@login_required
@require_GET
def my_actions(request):
    groups = selectors.my_actions(request.user)
    for actions in groups.values():
        for action in actions:
            action.status_badge = ACTION_BADGES.get(action.status, "text-bg-secondary")
    sections = [
        ("overdue", _("Overdue"), "text-danger", "bi-exclamation-octagon"),
        ("soon", _("Due soon"), "text-warning-emphasis", "bi-alarm"),
        ("later", _("Later"), "text-body", "bi-calendar"),
        ("done", _("Done recently"), "text-success", "bi-check2-circle"),
    ]
    context = {
        "sections": [
            {"key": key, "label": label, "css": css, "icon": icon, "actions": groups[key]}
            for key, label, css, icon in sections
        ],
        "total": sum(len(actions) for actions in groups.values()),
        "today": timezone.localdate(),
        "status_form": ActionStatusForm(),
    }
    return render(request, "improvements/my_actions.html", context)


# --- creating an issue -------------------------------------------------------------------


@login_required
def issue_create(request):
    """By hand; `?alert=<pk>` asks to confirm an issue from that alert, and `?tickets=` /
    `?failures=` start one from those records."""
    if not selectors.issues_creatable(request.user):
        raise PermissionDenied
    if request.method == "GET" and request.GET.get("alert"):
        return issue_from_alert(request)
    if request.method == "GET" and (request.GET.get("tickets") or request.GET.get("failures")):
        return issue_from_records(request)
    form = IssueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        if kwargs is not None:
            try:
                issue = services.issue_create(actor=request.user, **kwargs)
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(request, _("Improvement issue %(code)s was opened.") % {"code": issue.code})
                return redirect("improvements:issue-detail", pk=issue.pk)
    return render(request, "improvements/issue_form.html", {"form": form})


def _alert_for(request, raw):
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise Http404("No such alert.") from None
    if not alerts_readable(request.user):
        raise Http404("No such alert.")
    alert = alerts_queryset(user=request.user).filter(pk=pk).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


@login_required
def issue_from_alert(request):
    """GET: confirm (what the issue will hold); POST: create it with the alert's scope."""
    if not selectors.issues_creatable(request.user):
        raise PermissionDenied
    alert = _alert_for(request, request.POST.get("alert") if request.method == "POST" else request.GET.get("alert"))
    linked = list(selectors.issues_for_user(request.user).filter(alerts=alert).order_by("-created_at"))
    if request.method == "POST":
        try:
            issue = services.issue_create_from_alert(
                alert_id=alert.pk, actor=request.user, title=request.POST.get("title", "")[:255]
            )
        except ApplicationError as error:
            _refused(request, error)
        else:
            messages.success(request, _("Improvement issue %(code)s was opened.") % {"code": issue.code})
            return redirect("improvements:issue-detail", pk=issue.pk)
    from quality.alert_views import member_text

    kpi = kpi_lookup(alert.rule.kpi) if alert.rule.kpi else None
    context = {
        "alert": alert,
        "member_label": member_text(alert.member),
        "kpi_name": kpi.name if kpi else alert.rule.kpi,
        "linked": linked,
    }
    return render(request, "improvements/issue_from_alert.html", context)


@login_required
def issue_from_records(request):
    if not selectors.issues_creatable(request.user):
        raise PermissionDenied
    form = RecordsForm(request.POST if request.method == "POST" else request.GET or None)
    if request.method == "POST" and form.is_valid():
        records = form.record_ids()
        if not form.errors:
            try:
                issue = services.issue_create_from_records(
                    actor=request.user,
                    ticket_ids=records["tickets"],
                    failure_ids=records["failures"],
                    title=form.cleaned_data["title"],
                    severity=form.cleaned_data["severity"],
                )
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(request, _("Improvement issue %(code)s was opened.") % {"code": issue.code})
                return redirect("improvements:issue-detail", pk=issue.pk)
    return render(request, "improvements/issue_from_records.html", {"form": form})


# --- one issue ---------------------------------------------------------------------------


def _moves(issue: ImprovementIssue, user) -> list[dict]:
    """The transition buttons: each allowed step, disabled with the guard's reasons."""
    committee = is_committee(user)
    moves = []
    for state in services.allowed_transitions(issue):
        errors = services.issue_guard_errors(issue, state, actor=user)
        errors.pop("reason", None)  # asked for in the form itself
        needs_override = False
        if state == State.CLOSED and "verification" in errors and committee:
            # A committee member may close with an override reason instead.
            errors.pop("verification")
            needs_override = True
        label, icon, css = MOVES.get(state, (State(state).label, "bi-arrow-right", "btn-outline-primary"))
        reasons = [str(r) for values in errors.values() for r in values]
        moves.append(
            {
                "state": state,
                "label": label,
                "icon": icon,
                "css": css,
                "disabled": bool(reasons),
                "reasons": reasons,
                "needs_reason": state in NEEDS_REASON,
                "needs_override": needs_override,
            }
        )
    return moves


def _waterfall(issue: ImprovementIssue) -> dict:
    rows = selectors.issue_phase_days(issue)
    return {
        "labels": [str(row["label"]) for row in rows],
        "phases": [row["phase"] for row in rows],
        "days": [round(row["days"], 3) for row in rows],
        "running": [round(row["running"], 3) for row in rows],
        "text": {
            "spent": _("Days spent"),
            "running": _("Running (current phase)"),
            "days": _("days"),
            "total": _("Total"),
        },
    }


@improvements_reader
@require_GET
def issue_detail(request, pk):
    issue = decorate_issue(selectors.issue_get(user=request.user, pk=pk))
    user = request.user
    can_work = selectors.issues_workable(user)
    causes = selectors.issue_causes(issue)
    actions = selectors.issue_actions(issue)
    today = timezone.localdate()
    for action in actions:
        action.status_badge = ACTION_BADGES.get(action.status, "text-bg-secondary")
        action.moved = action.current_due_on != action.due_on
        action.overdue = action.status in selectors.ACTIVE_ACTION and action.current_due_on < today
        action.can_update = can_work or action.owner_id == user.pk
    waterfall = _waterfall(issue)
    zh = (get_language() or "").startswith("zh")
    bones = selectors.issue_fishbone(issue, causes)
    for bone in bones:
        bone["name"] = (bone["name_zh"] if zh and bone["name_zh"] else bone["name_en"]) or bone["code"]
    half = (len(bones) + 1) // 2
    baseline_kpi = kpi_lookup(issue.baseline_kpi) if issue.baseline_kpi else None
    timeline = selectors.issue_timeline(issue)
    for row in timeline:
        row["label"] = EVENT_LABELS.get(row["kind"], row["kind"].replace("_", " "))
        row["from_label"] = _labelled(row["from"])
        row["to_label"] = _labelled(row["to"])
    context = {
        "issue": issue,
        "can_work": can_work,
        "is_committee": is_committee(user),
        "moves": _moves(issue, user) if can_work else [],
        "can_reopen": can_work and issue.state in REOPEN_TO,
        "can_edit": can_work and issue.state in OPEN_STATES,
        "watched": issue.state == State.CLOSED and issue.watch_until is not None and issue.watch_until > timezone.now(),
        "can_approve": can_work
        and is_committee(user)
        and issue.state == State.ACTION_PLAN
        and issue.plan_approved_at is None,
        "can_recall": can_work and user.has_perm(RECALL_ADD_PERM) and issue.batches.exists(),
        "bones_top": bones[:half],
        "bones_bottom": bones[half:],
        "bones": bones,
        "causes": causes,
        "actions": actions,
        "tickets": list(issue.tickets.select_related("customer").order_by("created_at")[:200]),
        "failures": list(issue.failures.select_related("failure_mode", "unit").order_by("occurred_at")[:200]),
        "alerts": list(issue.alerts.select_related("rule").order_by("-first_fired_at")),
        "recalls": list(issue.recalls.order_by("code")),
        "batches": list(issue.batches.order_by("code")),
        "baseline_kpi": baseline_kpi,
        "waterfall": waterfall,
        "total_days": sum(waterfall["days"]) + sum(waterfall["running"]),
        "timeline": timeline,
        "page_actions": issue_page_actions(issue, user),
        "action_form": ActionForm(causes=causes, initial={"owner": user.pk}),
        "evidence_form": EvidenceForm(),
        "action_statuses": ActionStatus.choices,
        "today": today,
    }
    return render(request, "improvements/issue_detail.html", context)


def _issue_for_work(request, pk) -> ImprovementIssue:
    issue = selectors.issue_get(user=request.user, pk=pk)
    _require_work(request)
    return issue


@login_required
def issue_edit(request, pk):
    """The problem's fields (title, description, severity, owner, team, scope, baseline
    KPI), saved by issue_update. Only while the issue is open: the page of a closed issue
    sends back to the issue; a POST gets the service's refusal (409), and a refused edit
    shows its reasons on the form (status of the error) and writes nothing."""
    issue = _issue_for_work(request, pk)
    if request.method == "GET" and issue.state not in OPEN_STATES:
        messages.error(request, _("A closed issue cannot be edited; reopen it first."))
        return _back(issue.pk)
    form = IssueEditForm(request.POST if request.method == "POST" else None, issue=issue)
    status = 200
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        if kwargs is not None:
            try:
                services.issue_update(issue_id=issue.pk, actor=request.user, **kwargs)
            except ApplicationError as error:
                form.add_application_error(error)
                status = error.status_code
            else:
                messages.success(request, _("%(code)s was saved.") % {"code": issue.code})
                return _back(issue.pk)
    return render(request, "improvements/issue_form.html", {"form": form, "issue": issue}, status=status)


@login_required
@require_POST
def issue_transition(request, pk):
    issue = _issue_for_work(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _back(issue.pk)
    data = form.cleaned_data
    _attempt(
        request,
        lambda: services.issue_transition(
            issue_id=issue.pk,
            to_state=data["state"],
            actor=request.user,
            reason=data["reason"],
            override_reason=data["override_reason"],
        ),
        lambda issue: _("%(code)s is now in “%(state)s”.") % {"code": issue.code, "state": State(issue.state).label},
    )
    return _back(issue.pk)


@login_required
@require_POST
def issue_reopen(request, pk):
    issue = _issue_for_work(request, pk)
    reason = _posted_reason(request)
    _attempt(
        request,
        lambda: services.issue_reopen(issue_id=issue.pk, actor=request.user, reason=reason),
        lambda issue: _("%(code)s was reopened.") % {"code": issue.code},
    )
    return _back(issue.pk)


@login_required
@require_POST
def issue_plan_approve(request, pk):
    issue = _issue_for_work(request, pk)
    _attempt(
        request,
        lambda: services.issue_plan_approve(
            issue_id=issue.pk, actor=request.user, comment=request.POST.get("comment", "")
        ),
        _("The action plan was approved."),
    )
    return _back(issue.pk, "actions")


@login_required
@require_POST
def issue_evidence(request, pk):
    issue = _issue_for_work(request, pk)
    form = EvidenceForm(request.POST)
    if form.is_valid():
        records = form.record_ids()
    if not form.is_valid() or form.errors:
        _form_refused(request, form)
        return _back(issue.pk, "evidence")
    _attempt(
        request,
        lambda: services.issue_evidence_link(issue_id=issue.pk, actor=request.user, **records),
        _("The evidence was linked."),
    )
    return _back(issue.pk, "evidence")


# --- root-cause analysis -----------------------------------------------------------------


@login_required
@require_POST
def cause_add(request, pk):
    issue = _issue_for_work(request, pk)
    form = CauseForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _back(issue.pk, "fishbone")
    _attempt(
        request,
        lambda: services.cause_add(issue_id=issue.pk, actor=request.user, **form.cleaned_data),
        _("The cause was added."),
    )
    return _back(issue.pk, "fishbone")


def _cause_for_work(request, pk):
    cause = selectors.cause_get(user=request.user, pk=pk)
    _require_work(request)
    return cause


@login_required
@require_POST
def cause_verify(request, pk):
    cause = _cause_for_work(request, pk)
    form = CauseVerifyForm(request.POST)
    failure_ids = form.failure_ids() if form.is_valid() else []
    if not form.is_valid() or form.errors:
        _form_refused(request, form)
        return _back(cause.issue_id, f"cause-{cause.pk}")
    _attempt(
        request,
        lambda: services.cause_verify(
            cause_id=cause.pk, actor=request.user, evidence=form.cleaned_data["evidence"], failure_ids=failure_ids
        ),
        _("The cause is verified."),
    )
    return _back(cause.issue_id, f"cause-{cause.pk}")


@login_required
@require_POST
def cause_unverify(request, pk):
    cause = _cause_for_work(request, pk)
    reason = _posted_reason(request)
    _attempt(
        request,
        lambda: services.cause_unverify(cause_id=cause.pk, actor=request.user, reason=reason),
        _("The verification was withdrawn."),
    )
    return _back(cause.issue_id, f"cause-{cause.pk}")


@login_required
@require_POST
def cause_whys(request, pk):
    cause = _cause_for_work(request, pk)
    form = WhysForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _back(cause.issue_id, f"cause-{cause.pk}")
    _attempt(
        request,
        lambda: services.why_set(cause_id=cause.pk, actor=request.user, whys=form.whys()),
        _("The 5-why chain was saved."),
    )
    return _back(cause.issue_id, f"cause-{cause.pk}")


@login_required
@require_POST
def cause_delete(request, pk):
    cause = _cause_for_work(request, pk)
    _attempt(request, lambda: services.cause_delete(cause_id=cause.pk, actor=request.user), _("The cause was deleted."))
    return _back(cause.issue_id, "fishbone")


@login_required
@require_POST
def cause_recall(request, pk):
    cause = _cause_for_work(request, pk)
    if not request.user.has_perm(RECALL_ADD_PERM):
        raise PermissionDenied
    try:
        recall = services.cause_recall_launch(
            cause_id=cause.pk, actor=request.user, title=request.POST.get("title", "")
        )
    except ApplicationError as error:
        _refused(request, error)
        return _back(cause.issue_id, f"cause-{cause.pk}")
    messages.success(request, _("Recall %(code)s was created as a draft.") % {"code": recall.code})
    return redirect("recalls:detail", code=recall.code)


# --- actions -----------------------------------------------------------------------------


@login_required
@require_POST
def action_add(request, pk):
    issue = _issue_for_work(request, pk)
    form = ActionForm(request.POST, causes=selectors.issue_causes(issue))
    if not form.is_valid():
        _form_refused(request, form)
        return _back(issue.pk, "actions")
    data = form.cleaned_data
    _attempt(
        request,
        lambda: services.action_create(
            issue_id=issue.pk,
            actor=request.user,
            kind=data["kind"],
            title=data["title"],
            description=data["description"],
            owner=data["owner"],
            due_on=data["due_on"],
            cause_id=data["cause"],
        ),
        _("The action was added."),
    )
    return _back(issue.pk, "actions")


def _action_for_update(request, pk, *, owner_may: bool):
    action = selectors.action_get(user=request.user, pk=pk)
    allowed = (
        selectors.action_editable_by(action, request.user) if owner_may else selectors.issues_workable(request.user)
    )
    if not allowed:
        raise PermissionDenied
    return action


def _after_action(request, action):
    nxt = request.POST.get("next", "")
    if nxt == "mine":
        return redirect("improvements:my-actions")
    if not selectors.issues_for_user(request.user).filter(pk=action.issue_id).exists():
        return redirect("improvements:my-actions")
    return _back(action.issue_id, f"action-{action.pk}")


@login_required
@require_POST
def action_due(request, pk):
    action = _action_for_update(request, pk, owner_may=False)
    form = DueChangeForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _after_action(request, action)
    _attempt(
        request,
        lambda: services.action_due_change(action_id=action.pk, actor=request.user, **form.cleaned_data),
        _("The due date was moved."),
    )
    return _after_action(request, action)


@login_required
@require_POST
def action_status(request, pk):
    action = _action_for_update(request, pk, owner_may=True)
    form = ActionStatusForm(request.POST)
    if not form.is_valid():
        _form_refused(request, form)
        return _after_action(request, action)
    data = form.cleaned_data
    _attempt(
        request,
        lambda: services.action_status_set(
            action_id=action.pk,
            actor=request.user,
            status=data["status"],
            evidence=data["evidence"],
            completed_on=data["completed_on"],
        ),
        _("The action is now “%(status)s”.") % {"status": ActionStatus(data["status"]).label},
    )
    return _after_action(request, action)
