"""The alert centre (issue 7), mounted at /alerts/: open alerts by severity, one alert
with its series, evaluation log and timeline, the actions on it; the rules (list,
form, replay) and the silences. Thin: forms parse, quality.services.alerts validates
and writes (a refusal is shown as a message and changes nothing), selectors read.
Quality engineers and admins act; managers and committee members read; supervisors
see their teams' process alerts; agents get a 403."""

from __future__ import annotations

import datetime as dt
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError

from . import alert_selectors
from .alert_access import (
    ALERT_CHANGE_PERM,
    OPEN_STATUSES,
    RULE_ADD_PERM,
    RULE_CHANGE_PERM,
    SILENCE_ADD_PERM,
    SILENCE_CHANGE_PERM,
    alerts_queryset,
    alerts_readable,
    rules_readable,
    status_filter,
)
from .alert_forms import AlertFilterForm, AlertRuleForm, AssignForm, ReplayForm, SilenceForm, workers
from .kpi.periods import GRAINS, grain_floor, grain_next, grain_previous
from .kpi.registry import DIMENSIONS, kpi_lookup
from .models import AlertEvaluation, AlertKind, AlertRule, AlertSeverity, AlertSilence, AlertStatus
from .panels import alert_panels
from .services import alerts as alert_services

PAGE_SIZE = 50
SERIES_PERIODS = {"day": 60, "week": 26, "month": 24, "quarter": 12, "year": 8}
EVALUATION_LOG = 30
SEVERITY_BADGES = {
    AlertSeverity.CRITICAL: "text-bg-danger",
    AlertSeverity.WARNING: "text-bg-warning",
    AlertSeverity.INFO: "text-bg-info",
}
STATUS_BADGES = {
    AlertStatus.FIRING: "text-bg-danger",
    AlertStatus.ACKNOWLEDGED: "text-bg-primary",
    AlertStatus.RESOLVED: "text-bg-success",
}
KIND_ICONS = {
    AlertKind.THRESHOLD: "bi-rulers",
    AlertKind.TREND: "bi-graph-up-arrow",
    AlertKind.ANOMALY: "bi-activity",
    AlertKind.PROCESS: "bi-hourglass-split",
}


def _reader(check):
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


alert_reader = _reader(alerts_readable)
rule_reader = _reader(rules_readable)


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def member_text(member: dict | None) -> str:
    """{dim: value} as "Batch: WM200-L15 · Team: East"; "" for an unsplit rule."""
    return " · ".join(f"{str(DIMENSIONS.get(dim, dim)).capitalize()}: {value}" for dim, value in (member or {}).items())


def _decorate(alert, now) -> None:
    alert.severity_badge = SEVERITY_BADGES.get(alert.severity, "text-bg-secondary")
    alert.status_badge = STATUS_BADGES.get(alert.status, "text-bg-secondary")
    alert.kind_icon = KIND_ICONS.get(alert.rule.kind, "bi-bell")
    alert.member_label = member_text(alert.member)
    alert.age = now - alert.first_fired_at if alert.first_fired_at else None
    kpi = kpi_lookup(alert.rule.kpi) if alert.rule.kpi else None
    alert.kpi_name = kpi.name if kpi else alert.rule.kpi
    alert.kpi_unit = kpi.unit if kpi else ""


def _alert(request, pk: int):
    alert = alerts_queryset(user=request.user).filter(pk=pk).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


# --- the centre --------------------------------------------------------------------------


@alert_reader
@require_GET
def alert_list(request):
    rules = list(AlertRule.objects.order_by("name").only("code", "name"))
    form = AlertFilterForm(request.GET or None, rules=rules)
    values = form.values()
    alerts = alerts_queryset(
        user=request.user,
        statuses=status_filter(values["status"]) or OPEN_STATUSES,
        severities=[values["severity"]] if values["severity"] else (),
        kinds=[values["kind"]] if values["kind"] else (),
        rule=values["rule"],
    )
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for alert in page.object_list:
        _decorate(alert, now)
    # Open alerts per severity, for the header (one GROUP BY over the user's alerts).
    counts = dict(
        alerts_queryset(user=request.user, statuses=OPEN_STATUSES)
        .order_by()
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "form": form,
        "values": values,
        "query": query.urlencode(),
        "severity_cards": [
            {
                "value": value,
                "label": label,
                "count": counts.get(value, 0),
                "badge": SEVERITY_BADGES[value],
            }
            for value, label in reversed(AlertSeverity.choices)
        ],
        "open_total": sum(counts.values()),
        "can_work": request.user.has_perm(ALERT_CHANGE_PERM),
        "can_rules": rules_readable(request.user),
    }
    return render(request, "quality/alerts/list.html", context)


@never_cache
@require_GET
def alert_badge(request):
    """The navbar's open-alert count, polled by htmx (like the bell): no page pays for it.
    Signed out or not a reader: 204, which htmx leaves alone."""
    if not alerts_readable(request.user):
        return HttpResponse(status=204)
    counts = dict(
        alerts_queryset(user=request.user, statuses=OPEN_STATUSES)
        .order_by()
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    count = sum(counts.values())
    return render(
        request,
        "quality/alerts/_badge.html",
        {"count": count, "critical": counts.get(AlertSeverity.CRITICAL, 0)},
    )


def _records_url(alert) -> str | None:
    """The KPI drill-down page for the period that fired, with the rule's filters and the
    alert's member (None for a process rule, which has no KPI)."""
    rule = alert.rule
    if not rule.kpi or alert.period_start is None or kpi_lookup(rule.kpi) is None:
        return None
    grain = rule.grain if rule.grain in GRAINS else "month"
    start = alert.period_start
    query = {
        "grain": grain,
        "start": start.isoformat(),
        "end": grain_next(start, grain).isoformat(),
        "period_start": start.isoformat(),
        **{dim: str(value) for dim, value in (rule.filters or {}).items()},
        **{dim: str(value) for dim, value in (alert.member or {}).items()},
    }
    return f"{reverse('quality:records', args=[rule.kpi])}?{urlencode(query)}"


@alert_reader
@require_GET
def alert_detail(request, pk):
    alert = _alert(request, pk)
    now = timezone.now()
    _decorate(alert, now)
    evaluations = list(
        AlertEvaluation.objects.filter(rule=alert.rule, member_key=alert.member_key).order_by("-evaluated_at", "-id")[
            :EVALUATION_LOG
        ]
    )
    events = list(alert.events.select_related("actor").order_by("at", "id"))
    can_work = request.user.has_perm(ALERT_CHANGE_PERM)
    is_open = alert.status in OPEN_STATUSES
    context = {
        "alert": alert,
        "evaluations": evaluations,
        "events": events,
        "records_url": _records_url(alert),
        "can_work": can_work,
        "can_acknowledge": can_work and alert.status == AlertStatus.FIRING,
        "can_resolve": can_work and is_open,
        "can_assign": can_work and is_open,
        "can_silence": can_work and request.user.has_perm(SILENCE_ADD_PERM),
        "workers": list(workers()) if can_work and is_open else [],
        "silence_form": SilenceForm(initial={"duration": "1d"}),
        # Panels of the apps above quality (improvement issues): see quality.panels.
        "panels": alert_panels(alert, request.user),
        "chart_config": {
            "url": reverse("alerts:series", args=[alert.pk]),
            "labels": {
                "value": _("Value"),
                "baseline": _("Baseline"),
                "lcl": _("Lower limit"),
                "ucl": _("Upper limit"),
                "fired": _("Fired"),
                "period": _("Period"),
                "empty": _("No values for this series."),
                "error": _("The series could not be loaded."),
            },
        },
    }
    return render(request, "quality/alerts/detail.html", context)


@alert_reader
@require_GET
def alert_series(request, pk):
    """The chart's JSON: the rule's KPI for the alert's member over the last periods up
    to the one that fired, with the limits the evaluations logged per period (the
    alert's own where none was logged). A process rule has no KPI: its series is the
    evaluation log."""
    alert = _alert(request, pk)
    rule = alert.rule
    grain = rule.grain if rule.grain in GRAINS else "week"
    evaluations = list(
        AlertEvaluation.objects.filter(rule=rule, member_key=alert.member_key)
        .exclude(period_start=None)
        .order_by("evaluated_at", "id")
        .values("period_start", "value", "baseline", "lcl", "ucl", "decision")
    )
    by_period = {row["period_start"]: row for row in evaluations}  # the latest evaluation wins
    last = max([alert.period_start, *by_period.keys()], default=None, key=lambda d: d or dt.date.min)
    last = last or grain_floor(timezone.localdate(), grain)
    end = grain_next(grain_floor(last, grain), grain)
    start = end
    for _n in range(SERIES_PERIODS.get(grain, 26)):
        start = grain_previous(start, grain)
    values: dict[dt.date, float | None] = {}
    kpi = kpi_lookup(rule.kpi) if rule.kpi else None
    unit = kpi.unit if kpi is not None else ""
    # A members comparison judges a window summed over periods, not one period's value:
    # its chart is the evaluation log, where value and limits are on the same footing.
    windowed = (rule.params or {}).get("compare") == "members" or (rule.params or {}).get("mode") == "members"
    if kpi is not None and not windowed:
        filters = {**(rule.filters or {}), **{dim: str(v) for dim, v in (alert.member or {}).items()}}
        try:
            rows = alert_selectors.alert_rule_series(rule=_with_filters(rule, filters), kpi=kpi, start=start, end=end)
        except ApplicationError:
            rows = {}
        for series in rows.values():
            for period, row in series.items():
                values[period] = row.get("value")
    else:
        values = {period: row["value"] for period, row in by_period.items() if start <= period < end}
    periods = sorted(set(values) | {p for p in by_period if start <= p < end})
    points = []
    for period in periods:
        logged = by_period.get(period, {})
        fired = alert.period_start == period or logged.get("decision") == "fire"
        points.append(
            {
                "period_start": period.isoformat(),
                "value": values.get(period, logged.get("value")),
                "baseline": logged.get("baseline", alert.baseline if period == alert.period_start else None),
                "lcl": logged.get("lcl", alert.lcl if period == alert.period_start else None),
                "ucl": logged.get("ucl", alert.ucl if period == alert.period_start else None),
                "fired": fired,
            }
        )
    return JsonResponse(
        {
            "alert": alert.pk,
            "kpi": rule.kpi,
            "unit": unit,
            "unit_name": kpi.unit_name if kpi is not None else "",
            "grain": grain,
            "member": alert.member,
            "fired_period": alert.period_start.isoformat() if alert.period_start else None,
            "baseline": alert.baseline,
            "lcl": alert.lcl,
            "ucl": alert.ucl,
            "points": points,
        }
    )


def _with_filters(rule: AlertRule, filters: dict) -> AlertRule:
    """An unsaved copy of the rule narrowed to one member (one series, no split)."""
    narrowed = AlertRule(
        code=rule.code, kind=rule.kind, kpi=rule.kpi, grain=rule.grain, filters=filters, split_by="", params=rule.params
    )
    narrowed.pk = rule.pk
    return narrowed


def _act(request, pk, action, success: str):
    _require(request, ALERT_CHANGE_PERM)
    alert = _alert(request, pk)
    try:
        action(alert)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect("alerts:detail", pk=alert.pk)


@alert_reader
@require_POST
def alert_acknowledge(request, pk):
    comment = request.POST.get("comment", "")[:2000]
    return _act(
        request,
        pk,
        lambda alert: alert_services.alert_acknowledge(alert_id=alert.pk, actor=request.user, comment=comment),
        _("The alert was acknowledged."),
    )


@alert_reader
@require_POST
def alert_resolve(request, pk):
    comment = request.POST.get("comment", "")[:2000]
    return _act(
        request,
        pk,
        lambda alert: alert_services.alert_resolve(alert_id=alert.pk, actor=request.user, comment=comment),
        _("The alert was resolved."),
    )


@alert_reader
@require_POST
def alert_assign(request, pk):
    form = AssignForm(request.POST)
    if not form.is_valid():
        _require(request, ALERT_CHANGE_PERM)
        messages.error(request, _("Choose someone who may work alerts."))
        return redirect("alerts:detail", pk=pk)
    assignee = form.cleaned_data["assignee"]
    return _act(
        request,
        pk,
        lambda alert: alert_services.alert_assign(alert_id=alert.pk, assignee=assignee, actor=request.user),
        _("The alert was assigned to %(name)s.") % {"name": assignee.get_username()}
        if assignee
        else _("The alert is no longer assigned."),
    )


@alert_reader
@require_POST
def alert_silence(request, pk):
    """Silence this alert's rule and member for 1 day, 1 week or until a given time."""
    _require(request, SILENCE_ADD_PERM)
    alert = _alert(request, pk)
    form = SilenceForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("alerts:detail", pk=alert.pk)
    data = form.cleaned_data
    try:
        silence = alert_services.alert_silence_create(
            actor=request.user,
            rule=alert.rule,
            member=dict(alert.member or {}),
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            comment=data["comment"],
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        until = timezone.localtime(silence.ends_at).strftime("%Y-%m-%d %H:%M")
        messages.success(request, _("Notifications of this alert are silenced until %(until)s.") % {"until": until})
    return redirect("alerts:detail", pk=alert.pk)


# --- rules -------------------------------------------------------------------------------


@rule_reader
@require_GET
def rule_list(request):
    open_q = Q(alerts__status__in=OPEN_STATUSES)
    rules = list(AlertRule.objects.annotate(open_alerts=Count("alerts", filter=open_q)).order_by("code"))
    for rule in rules:
        rule.severity_badge = SEVERITY_BADGES.get(rule.severity, "text-bg-secondary")
        rule.kind_icon = KIND_ICONS.get(rule.kind, "bi-bell")
        kpi = kpi_lookup(rule.kpi) if rule.kpi else None
        rule.kpi_name = kpi.name if kpi else rule.kpi
        rule.split_label = str(DIMENSIONS.get(rule.split_by, rule.split_by)) if rule.split_by else ""
    context = {"rules": rules, "can_add": request.user.has_perm(RULE_ADD_PERM)}
    return render(request, "quality/alerts/rules.html", context)


def _rule_form(request, rule: AlertRule | None):
    form = AlertRuleForm(request.POST or None, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            saved = alert_services.alert_rule_save(actor=request.user, rule=rule, **form.service_kwargs())
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("Rule %(code)s was saved.") % {"code": saved.code})
            return redirect("alerts:rules")
    return render(request, "quality/alerts/rule_form.html", {"form": form, "rule": rule})


@rule_reader
def rule_create(request):
    _require(request, RULE_ADD_PERM)
    return _rule_form(request, None)


@rule_reader
def rule_edit(request, code):
    _require(request, RULE_CHANGE_PERM)
    rule = AlertRule.objects.filter(code=code).prefetch_related("recipient_users", "recipient_teams").first()
    if rule is None:
        raise Http404("No such rule.")
    return _rule_form(request, rule)


@rule_reader
@require_GET
def rule_replay(request, code):
    """The backtest: the periods the rule would have fired for, per member, between two
    dates (nothing is written or sent)."""
    rule = AlertRule.objects.filter(code=code).first()
    if rule is None:
        raise Http404("No such rule.")
    form = ReplayForm(request.GET, today=timezone.localdate())
    rows, error = [], ""
    if form.is_valid():
        try:
            rows = alert_services.alert_rule_replay(
                rule=rule, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
            )
        except ApplicationError as exc:
            error = exc.message
    fired = [row for row in rows if row.get("decision", "fire") == "fire"]
    members: dict[str, dict] = {}
    for row in fired:
        label = member_text(row.get("member")) or _("(all)")
        entry = members.setdefault(label, {"label": label, "rows": []})
        entry["rows"].append(row)
    periods = sorted({row.get("period_start") for row in fired if row.get("period_start")}, key=str)
    timeline = [
        {
            "label": entry["label"],
            "count": len(entry["rows"]),
            "first": min((str(r.get("period_start")) for r in entry["rows"]), default=""),
            "cells": [any(str(r.get("period_start")) == str(p) for r in entry["rows"]) for p in periods],
        }
        for entry in sorted(members.values(), key=lambda e: (-len(e["rows"]), e["label"]))
    ]
    context = {
        "rule": rule,
        "form": form,
        "error": error,
        "rows": fired,
        "evaluated": len(rows),
        "periods": periods,
        "timeline": timeline,
        "kind_icon": KIND_ICONS.get(rule.kind, "bi-bell"),
    }
    return render(request, "quality/alerts/replay.html", context)


# --- silences ----------------------------------------------------------------------------


@rule_reader
def silence_list(request):
    now = timezone.now()
    form = SilenceForm(request.POST or None)
    if request.method == "POST":
        _require(request, SILENCE_ADD_PERM)
        if form.is_valid():
            data = form.cleaned_data
            try:
                alert_services.alert_silence_create(
                    actor=request.user,
                    rule=data["rule"],
                    kpi=data["kpi"],
                    member=data["member"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    comment=data["comment"],
                )
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(request, _("The silence was created."))
                return redirect("alerts:silences")
    silences = AlertSilence.objects.select_related("rule", "created_by").order_by("-ends_at", "-id")
    active = [s for s in silences if s.starts_at <= now < s.ends_at]
    context = {
        "active": active,
        "past": [s for s in silences if not (s.starts_at <= now < s.ends_at)][:50],
        "form": form,
        "now": now,
        "can_add": request.user.has_perm(SILENCE_ADD_PERM),
        "can_expire": request.user.has_perm(SILENCE_CHANGE_PERM),
        "member_text": member_text,
    }
    for silence in context["active"] + context["past"]:
        silence.member_label = member_text(silence.member)
    return render(request, "quality/alerts/silences.html", context)


@rule_reader
@require_POST
def silence_expire(request, pk):
    _require(request, SILENCE_CHANGE_PERM)
    silence = AlertSilence.objects.filter(pk=pk).first()
    if silence is None:
        raise Http404("No such silence.")
    try:
        alert_services.alert_silence_expire(silence_id=silence.pk, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The silence has ended."))
    return redirect("alerts:silences")
