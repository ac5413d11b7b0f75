"""Reads of the alerting engine: the KPI series a rule watches, open alerts, silences
and the JSON shape of an alert (INTERFACES.md, GET /api/v1/alerts/)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

from django.db.models import Q, QuerySet

from catalog.roles import user_has_global_read, user_roles

from .kpi.engine import kpi_compute
from .kpi.periods import grain_floor, grain_previous
from .kpi.registry import Kpi
from .models import Alert, AlertKind, AlertRule, AlertSilence, AlertStatus

OPEN_STATUSES = (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED)


def alert_member_key(member: Mapping[str, str]) -> str:
    """The canonical string of a member ({dim: value}); "" for an unsplit rule."""
    return "&".join(f"{dim}={member[dim]}" for dim in sorted(member))[:255]


def alert_tested_period(*, as_of: dt.date, grain: str) -> tuple[dt.date, dt.date]:
    """The last COMPLETE period before `as_of` as (label, exclusive end): the period
    holding as_of is still running, so it is never tested."""
    end = grain_floor(as_of, grain)
    return grain_previous(end, grain), end


def alert_rule_series(
    *, rule: AlertRule, kpi: Kpi, start: dt.date, end: dt.date, by: tuple[str, ...] | None = None
) -> dict[tuple[tuple[str, str], ...], dict[dt.date, dict]]:
    """{member: {period label: row}} of the rule's KPI over [start, end), filters
    applied, one series per member of split_by (one GROUP BY in the database); `by`
    replaces split_by (a members comparison groups by (group_by, split_by))."""
    if by is None:
        by = (rule.split_by,) if rule.split_by else ()
    rows = kpi_compute(kpi=kpi, grain=rule.grain, start=start, end=end, by=by, filters=rule.filters or {})
    series: dict = defaultdict(dict)
    for row in rows:
        member = tuple((dim, row[dim]) for dim in by)
        series[member][dt.date.fromisoformat(row["period_start"])] = row
    return series


def alert_silences_active(*, at: dt.datetime) -> list[AlertSilence]:
    return list(AlertSilence.objects.filter(starts_at__lte=at, ends_at__gt=at))


def alert_silence_matches(silence: AlertSilence, *, rule: AlertRule, member: Mapping[str, str]) -> bool:
    """Blank matchers match anything; `member` matches when every given dimension has
    the given value."""
    if silence.rule_id is not None and silence.rule_id != rule.pk:
        return False
    if silence.kpi and silence.kpi != rule.kpi:
        return False
    return all(str(member.get(dim)) == str(value) for dim, value in (silence.member or {}).items())


def alert_open_for(*, rule: AlertRule, member_key: str) -> Alert | None:
    return Alert.objects.filter(rule=rule, member_key=member_key, status__in=OPEN_STATUSES).first()


def alerts_for_user(*, user, status: str | None = None) -> QuerySet[Alert]:
    """Alerts a user may see: every alert for the global readers (quality engineers,
    committee members, managers, admins); a supervisor sees the process alerts of the
    teams they supervise; everyone else nothing. `status` "open" means firing or
    acknowledged."""
    qs = Alert.objects.select_related("rule", "assignee")
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if user_has_global_read(user):
        return qs
    if "supervisor" in user_roles(user):
        teams = list(user.supervised_teams.values_list("name", flat=True))
        return qs.filter(rule__kind=AlertKind.PROCESS, member__team__in=teams) if teams else qs.none()
    return qs.none()


def alert_payload(alert: Alert) -> dict:
    """One alert as GET /api/v1/alerts/ gives it."""
    rule = alert.rule
    return {
        "id": alert.pk,
        "rule": rule.code,
        "kind": rule.kind,
        "kpi": rule.kpi,
        "member": dict(alert.member or {}),
        "severity": alert.severity,
        "status": alert.status,
        "period_start": alert.period_start.isoformat() if alert.period_start else None,
        "value": alert.value,
        "baseline": alert.baseline,
        "lcl": alert.lcl,
        "ucl": alert.ucl,
        "first_fired_at": alert.first_fired_at.isoformat() if alert.first_fired_at else None,
    }


def alert_open_counts() -> dict[str, int]:
    """Open alerts per severity (the navigation badge, the alert centre's header)."""
    counts = {s: 0 for s in ("critical", "warning", "info")}
    for severity in Alert.objects.filter(status__in=OPEN_STATUSES).values_list("severity", flat=True):
        counts[severity] = counts.get(severity, 0) + 1
    return counts


def alert_rules_for(*, schedule: str | None = None, codes=None) -> QuerySet[AlertRule]:
    qs = AlertRule.objects.filter(active=True)
    if schedule:
        qs = qs.filter(schedule=schedule)
    if codes:
        qs = qs.filter(Q(code__in=list(codes)))
    return qs.prefetch_related("recipient_users", "recipient_teams").order_by("code")
