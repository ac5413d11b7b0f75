"""Report pages: thin. The archive, a new report, the report page (its progress polled
by htmx), the download, the dashboard's "Download PDF" and "My subscriptions"."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.exceptions import ApplicationError
from quality.kpi.registry import DIMENSIONS

from . import selectors, services
from .forms import ReportRequestForm, SubscriptionForm, current_language
from .models import ReportKind, ReportStatus

PAGE_SIZE = 25
CHOICES_LIMIT = 300


def _choices(user) -> dict:
    """The issues and recalls the user may report on (the CAPA and recall kinds)."""
    from improvements.selectors import issues_for_user
    from quality.models import Recall
    from quality.recall_selectors import recalls_readable

    issues = list(issues_for_user(user).only("pk", "code", "title").order_by("-created_at", "-id")[:CHOICES_LIMIT])
    recalls = []
    if recalls_readable(user):
        recalls = list(Recall.objects.only("pk", "code", "title").order_by("-opened_at", "code")[:CHOICES_LIMIT])
    return {"issues": issues, "recalls": recalls}


# --- the archive ------------------------------------------------------------------------------


@login_required
@permission_required(selectors.VIEW_PERM, raise_exception=True)
@require_GET
def report_list(request):
    kind = request.GET.get("kind", "")
    kind = kind if kind in ReportKind.values else ""
    mine = request.GET.get("mine") == "1"
    page = Paginator(selectors.report_list(user=request.user, kind=kind or None, mine=mine), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "reports": page.object_list,
        "kind": kind,
        "mine": mine,
        "kinds": ReportKind.choices,
        "see_all": selectors.reports_see_all(request.user),
        "can_generate": selectors.reports_generatable(request.user),
        "can_subscribe": selectors.subscriptions_allowed(request.user),
        "dimension_labels": {dim: str(label) for dim, label in DIMENSIONS.items()},
    }
    return render(request, "reports/report_list.html", context)


@login_required
@permission_required(selectors.ADD_PERM, raise_exception=True)
@require_http_methods(["GET", "POST"])
def report_create(request):
    choices = _choices(request.user)
    initial = {}
    if request.method == "GET":
        for name in ("kind", "issue", "recall"):
            if request.GET.get(name):
                initial[name] = request.GET[name]
    form = ReportRequestForm(request.POST or None, user=request.user, initial=initial, **choices)
    if request.method == "POST" and form.is_valid():
        try:
            report = services.report_request(user=request.user, **form.request_arguments())
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            return redirect("reports:detail", pk=report.pk)
    return render(request, "reports/report_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@permission_required(selectors.ADD_PERM, raise_exception=True)
@require_POST
def report_from_dashboard(request):
    """The dashboard's "Download PDF": the quality report of the page's period, grain and
    filters (every dimension, drill-downs too), in the page's language."""
    post = request.POST
    parameters = {
        "start": post.get("start", ""),
        "end": post.get("end", ""),
        "grain": post.get("grain") or "month",
        "filters": {dim: post[dim] for dim in DIMENSIONS if post.get(dim)},
    }
    try:
        report = services.report_request(
            kind=ReportKind.QUALITY, parameters=parameters, language=current_language(), user=request.user
        )
    except ApplicationError as error:
        reasons = "; ".join(str(r) for rs in error.errors.values() for r in (rs if isinstance(rs, list) else [rs]))
        messages.error(request, f"{error.message} {reasons}".strip())
        back = post.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = "quality:overview"
        return redirect(back)
    return redirect("reports:detail", pk=report.pk)


def _report_context(report) -> dict:
    return {
        "report": report,
        "finished": report.status in (ReportStatus.DONE, ReportStatus.FAILED),
        "downloadable": selectors.report_downloadable(report),
        "dimension_labels": {dim: str(label) for dim, label in DIMENSIONS.items()},
    }


@login_required
@require_GET
def report_detail(request, pk):
    report = selectors.report_get(user=request.user, pk=pk)
    return render(request, "reports/report_detail.html", _report_context(report))


@login_required
@require_GET
def report_progress(request, pk):
    """The progress partial the report page polls every second until it is finished."""
    report = selectors.report_get(user=request.user, pk=pk)
    return render(request, "reports/_report_progress.html", _report_context(report))


def report_download_name(report) -> str:
    params = report.parameters or {}
    if report.kind == ReportKind.QUALITY and params.get("start") and params.get("end"):
        last = dt.date.fromisoformat(params["end"]) - dt.timedelta(days=1)
        return f"quality-report-{params['start']}_{last.isoformat()}-{report.language}.pdf"
    return f"{report.kind}-report-{report.pk}-{report.language}.pdf"


@login_required
@require_GET
def report_download(request, pk):
    """The PDF, as an attachment: the requester, managers and admins (others: 404)."""
    report = selectors.report_get(user=request.user, pk=pk)
    if not selectors.report_downloadable(report):
        raise Http404("The report is not ready.")
    try:
        handle = report.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("The report file is missing.") from None
    return FileResponse(
        handle, as_attachment=True, filename=report_download_name(report), content_type="application/pdf"
    )


# --- subscriptions ----------------------------------------------------------------------------


@login_required
@permission_required(selectors.SUBSCRIBE_PERM, raise_exception=True)
@require_GET
def subscription_list(request):
    subscriptions = list(selectors.subscriptions_for_user(request.user))
    for subscription in subscriptions:
        subscription.log = list(selectors.subscription_deliveries(subscription, limit=5))
    context = {"subscriptions": subscriptions, "dimension_labels": {d: str(label) for d, label in DIMENSIONS.items()}}
    return render(request, "reports/subscription_list.html", context)


@login_required
@permission_required(selectors.SUBSCRIBE_PERM, raise_exception=True)
@require_http_methods(["GET", "POST"])
def subscription_edit(request, pk=None):
    subscription = selectors.subscription_get(user=request.user, pk=pk) if pk else None
    form = SubscriptionForm(request.POST or None, user=request.user, subscription=subscription)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.subscription_save(owner=request.user, subscription=subscription, **form.save_arguments())
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("Subscription “%(name)s” saved.") % {"name": saved.name})
            return redirect("reports:subscription_edit", pk=saved.pk)
    context = {
        "form": form,
        "subscription": subscription,
        "deliveries": selectors.subscription_deliveries(subscription) if subscription else [],
    }
    return render(request, "reports/subscription_form.html", context, status=400 if form.errors else 200)


@login_required
@permission_required(selectors.SUBSCRIBE_PERM, raise_exception=True)
@require_POST
def subscription_delete(request, pk):
    subscription = selectors.subscription_get(user=request.user, pk=pk)
    name = subscription.name
    services.subscription_delete(subscription=subscription)
    messages.success(request, _("Subscription “%(name)s” deleted.") % {"name": name})
    return redirect("reports:subscription_list")
