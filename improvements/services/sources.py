"""Creating an issue from where the problem shows: an alert (scope from its member),
a selection of tickets or failures. Both end in issue_create (validation, code,
detected_at = earliest evidence, the "created" event)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError
from catalog.models import Batch, Component, ProductLine, ProductModel, Region
from quality.kpi.periods import grain_next, grain_previous, local_midnight
from quality.kpi.registry import kpi_lookup
from quality.models import Alert, AlertSeverity, Failure, FailureMode
from tickets.models import Team, Ticket

from ..models import ImprovementIssue, Severity, Source
from .issues import OPEN_STATES, issue_create

SEVERITY_OF_ALERT = {AlertSeverity.CRITICAL: Severity.CRITICAL, AlertSeverity.WARNING: Severity.MAJOR}
# Failure paths of the member dimensions that pin a population of failures down.
FAILURE_PATHS = {
    "batch": "unit__batch__code",
    "product_model": "unit__product_model__code",
    "product_line": "unit__product_model__product_line__code",
    "component": "component__code",
    "failure_mode": "failure_mode__code",
    "region": "unit__customer__region__name",
}
EVIDENCE_DIMS = ("batch", "product_model", "component", "failure_mode")
MAX_ALERT_FAILURES = 500


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def _scope_of_member(member: dict) -> dict:
    """issue_create's scope keywords from an alert member {dim: value} (KPI members are
    codes, regions and teams names); unknown values are left out."""
    scope: dict = {}
    if member.get("batch"):
        batch = Batch.objects.select_related("product_model__product_line").filter(code=member["batch"]).first()
        if batch is not None:
            scope["batches"] = [batch]
            scope["product_model"] = batch.product_model
            scope["product_line"] = batch.product_model.product_line
    if member.get("product_model"):
        model = ProductModel.objects.select_related("product_line").filter(code=member["product_model"]).first()
        if model is not None:
            scope["product_model"], scope["product_line"] = model, model.product_line
    if member.get("product_line") and "product_line" not in scope:
        scope["product_line"] = ProductLine.objects.filter(code=member["product_line"]).first()
    if member.get("component"):
        component = Component.objects.select_related("supplier").filter(code=member["component"]).first()
        if component is not None:
            scope["component"], scope["supplier"] = component, component.supplier
    if member.get("failure_mode"):
        scope["failure_mode"] = FailureMode.objects.filter(code=member["failure_mode"]).first()
    if member.get("region"):
        scope["region"] = Region.objects.filter(name=member["region"]).order_by("pk").first()
    if member.get("team"):
        scope["team"] = Team.objects.filter(name=member["team"]).first()
    return {name: value for name, value in scope.items() if value is not None}


def alert_window(alert: Alert) -> tuple[dt.date, dt.date] | None:
    """The dates [start, end) the alert judged: its period, widened back to the rule's
    window when a members comparison summed several periods."""
    if alert.period_start is None:
        return None
    grain = alert.rule.grain
    start = alert.period_start
    for _step in range(max(int((alert.detail or {}).get("window_periods") or 1), 1) - 1):
        start = grain_previous(start, grain)
    return start, grain_next(alert.period_start, grain)


def _alert_failures(alert: Alert, filters: dict, window: tuple[dt.date, dt.date] | None) -> list[int]:
    """The failures of the alert's scope in its window, newest first, capped."""
    if window is None or not any(filters.get(dim) for dim in EVIDENCE_DIMS):
        return []
    lookups = {FAILURE_PATHS[dim]: value for dim, value in filters.items() if dim in FAILURE_PATHS and value}
    return list(
        Failure.objects.filter(
            **lookups, occurred_at__gte=local_midnight(window[0]), occurred_at__lt=local_midnight(window[1])
        )
        .order_by("-occurred_at", "-pk")
        .values_list("pk", flat=True)[:MAX_ALERT_FAILURES]
    )


@transaction.atomic
def issue_create_from_alert(*, alert_id: int, actor, title: str = "", at=None) -> ImprovementIssue:
    """A draft issue from an alert: scope from its member, severity from the alert, the
    rule's KPI as baseline, the alert and its scope's failures as evidence. Locks the
    alert: while an open issue lists the alert, that issue is returned and nothing is
    written (the rule's auto-action and a user's click meet here)."""
    at = _now(at)
    try:
        alert = lock_one(Alert.objects.all(), alert_id)
    except Alert.DoesNotExist:
        raise ApplicationError(_("Alert not found."), errors={"alert": [_("does not exist")]}) from None
    existing = alert.improvements.filter(state__in=OPEN_STATES).order_by("pk").first()
    if existing is not None:
        return existing
    rule = alert.rule
    member = dict(alert.member or {})
    # The rule's own filters scope its KPI as much as the member does.
    filters = {**(rule.filters or {}), **member}
    window = alert_window(alert)
    member_text = ", ".join(str(value) for value in member.values()) or _("all")
    kpi = rule.kpi if rule.kpi and kpi_lookup(rule.kpi) is not None else ""
    issue = issue_create(
        title=(title or "").strip() or (_("%(rule)s: %(member)s") % {"rule": rule.name, "member": member_text})[:255],
        actor=actor,
        source=Source.ALERT,
        severity=SEVERITY_OF_ALERT.get(alert.severity, Severity.MINOR),
        description=_(
            "Opened from the alert “%(rule)s” for %(member)s (value %(value)s in the period from %(period)s)."
        )
        % {
            "rule": rule.name,
            "member": member_text,
            "value": "-" if alert.value is None else f"{alert.value:.4g}",
            "period": alert.period_start.isoformat() if alert.period_start else "-",
        },
        alerts=[alert.pk],
        failures=_alert_failures(alert, filters, window),
        baseline_kpi=kpi,
        baseline_filters=filters if kpi else {},
        at=at,
        **_scope_of_member(member),
    )
    if kpi:
        issue.baseline_value = alert.value
        issue.baseline_start, issue.baseline_end = window or (None, None)
        issue.save(update_fields=["baseline_value", "baseline_start", "baseline_end"])
    return issue


def _agreed(querysets: Iterable[QuerySet], path: str):
    """The one value of `path` shared by the records of the querysets, else None. A
    record without a value (a ticket without a unit) neither agrees nor disagrees. One
    aggregate per queryset: its distinct values and the smallest."""
    values = set()
    for qs in querysets:
        row = qs.aggregate(distinct=Count(path, distinct=True), value=Min(path))
        if row["distinct"] > 1:
            return None
        if row["distinct"] == 1:
            values.add(row["value"])
    return values.pop() if len(values) == 1 else None


@transaction.atomic
def issue_create_from_records(
    *, actor, ticket_ids: Iterable = (), failure_ids: Iterable = (), title: str = "", severity: str = "major", at=None
) -> ImprovementIssue:
    """A draft issue (source ticket cluster) from a selection of tickets and failures;
    the scope gets every field the records agree on (records without the value do not
    count): product model (and its line) and batch through the units, failure mode and
    component (and its supplier) through the failures, the selected ones and those
    recorded on the selected tickets. Counted in the database, one aggregate per set."""
    at = _now(at)
    try:
        ticket_ids = sorted({int(i) for i in ticket_ids})
        failure_ids = sorted({int(i) for i in failure_ids})
    except (TypeError, ValueError):
        raise ApplicationError(_("Give record ids (integers)."), errors={"records": [_("not ids")]}) from None
    if not ticket_ids and not failure_ids:
        raise ApplicationError(
            _("Select at least one ticket or failure."), errors={"records": [_("This field is required.")]}
        )
    tickets = Ticket.objects.filter(pk__in=ticket_ids)
    failures = Failure.objects.filter(pk__in=failure_ids)
    failures_of_tickets = Failure.objects.filter(ticket_id__in=ticket_ids).exclude(pk__in=failure_ids)
    units = (tickets, failures)
    all_failures = (failures, failures_of_tickets)
    model_id = _agreed(units, "unit__product_model")
    batch_id = _agreed(units, "unit__batch")
    mode_id = _agreed(all_failures, "failure_mode")
    component_id = _agreed(all_failures, "component")
    model = ProductModel.objects.select_related("product_line").filter(pk=model_id).first() if model_id else None
    component = Component.objects.select_related("supplier").filter(pk=component_id).first() if component_id else None
    mode = FailureMode.objects.filter(pk=mode_id).first() if mode_id else None
    count = len(ticket_ids) + len(failure_ids)
    if not (title or "").strip():
        about = ", ".join(x for x in (mode and mode.code, model and model.code) if x) or _("several products")
        title = _("%(about)s: %(count)d record(s)") % {"about": about, "count": count}
    return issue_create(
        title=title,
        actor=actor,
        source=Source.TICKET_CLUSTER,
        severity=severity,
        product_model=model,
        product_line=model.product_line if model else None,
        batches=[batch_id] if batch_id else (),
        component=component,
        supplier=component.supplier if component else None,
        failure_mode=mode,
        tickets=ticket_ids,
        failures=failure_ids,
        at=at,
    )
