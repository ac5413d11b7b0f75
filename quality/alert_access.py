"""Who may see and work alerts, and the filtered alert list the centre and the API
share (issue 7). The scoping itself is alert_selectors.alerts_for_user (global readers:
every alert; supervisors: their teams' process alerts); an alert out of scope is a 404."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Case, IntegerField, QuerySet, Value, When

from catalog.roles import SUPERVISOR, user_has_global_read, user_roles

from .alert_selectors import alerts_for_user
from .models import Alert, AlertSeverity, AlertStatus

VIEW_PERM = "quality.view_alert"
RULE_VIEW_PERM = "quality.view_alertrule"
ALERT_CHANGE_PERM = "quality.change_alert"
RULE_ADD_PERM = "quality.add_alertrule"
RULE_CHANGE_PERM = "quality.change_alertrule"
SILENCE_ADD_PERM = "quality.add_alertsilence"
SILENCE_CHANGE_PERM = "quality.change_alertsilence"

OPEN_STATUSES = (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED)
SEVERITY_RANK = {AlertSeverity.CRITICAL: 0, AlertSeverity.WARNING: 1, AlertSeverity.INFO: 2}


def alerts_readable(user) -> bool:
    """Quality engineers, committee members, managers and admins; supervisors (their
    teams' process alerts); agents work tickets, not alerts."""
    if not getattr(user, "is_authenticated", False) or not user.has_perm(VIEW_PERM):
        return False
    return user_has_global_read(user) or SUPERVISOR in user_roles(user)


def rules_readable(user) -> bool:
    """Rules and silences: the global readers only."""
    return bool(
        getattr(user, "is_authenticated", False) and user_has_global_read(user) and user.has_perm(RULE_VIEW_PERM)
    )


def alerts_workable(user) -> bool:
    return alerts_readable(user) and user.has_perm(ALERT_CHANGE_PERM)


def status_filter(raw: str) -> tuple[str, ...] | None:
    """`open` (firing or acknowledged), `all`, or comma-separated statuses; None when a
    value is unknown."""
    raw = (raw or "open").strip()
    if raw == "open":
        return OPEN_STATUSES
    if raw == "all":
        return tuple(AlertStatus.values)
    values = tuple(v for v in (part.strip() for part in raw.split(",")) if v)
    if not values or any(v not in AlertStatus.values for v in values):
        return None
    return values


def alerts_queryset(
    *,
    user,
    statuses: Sequence[str] = (),
    severities: Sequence[str] = (),
    kinds: Sequence[str] = (),
    rule: str = "",
    kpi: str = "",
) -> QuerySet[Alert]:
    """The user's alerts, critical first, then the most recently fired; one query for a
    page (the rule and the people joined)."""
    alerts = alerts_for_user(user=user).select_related("rule", "assignee", "acknowledged_by")
    if statuses:
        alerts = alerts.filter(status__in=statuses)
    if severities:
        alerts = alerts.filter(severity__in=severities)
    if kinds:
        alerts = alerts.filter(rule__kind__in=kinds)
    if rule:
        alerts = alerts.filter(rule__code=rule)
    if kpi:
        alerts = alerts.filter(rule__kpi=kpi)
    rank = Case(
        *(When(severity=severity, then=Value(n)) for severity, n in SEVERITY_RANK.items()),
        default=Value(9),
        output_field=IntegerField(),
    )
    return alerts.annotate(severity_rank=rank).order_by("severity_rank", "-last_fired_at", "-id")
