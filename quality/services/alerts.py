"""Alert rules, their evaluation and the alert lifecycle.

A rule watches one KPI (catalogue or self-service metric), optionally split by one
dimension, at one grain. Evaluation as of a day D tests the LAST COMPLETE period before
D (the period holding D is still running) using only records before D: the KPI engine's
end is exclusive and is set to the start of D's period. Each member gets a decision
(fire | clear | insufficient | silenced | error) that is logged as an AlertEvaluation.

`params` per kind (validated by alert_rule_save):

- threshold: {"op": "above" | "below", "value": x, "overrides": {member: x},
  "holiday_value": x, "min_denominator": n}. `overrides` are keyed by the member's
  value of split_by. `holiday_value` replaces the limit when the tested period is a
  day (grain "day") that the default business calendar does not work.
- trend: {"mode": "previous" | "year_ago" | "run" | "members", "pct": X, "periods": N,
  "baseline_periods": B, "min_denominator": n, "min_count": c}. previous: the value
  moved more than X % in the KPI's worse direction against the mean of the B (default
  1) periods before it; year_ago: against the same period a year earlier (52 weeks
  for day/week grains); run: the last N periods each worse than the one before;
  members (see below): the member's value over the window against the pooled value
  of the other members (sum of numerators / sum of denominators), beyond X %.
  Periods whose denominator is below n, or a tested numerator below c, are
  "insufficient" (in members mode: the member's window sums; other members below n
  are left out of the pool).
- anomaly: {"method": "p" | "u" | "laney_p" | "laney_u" | "c" | "xmr" | "ewma" |
  "cusum" | "poisson", "baseline_periods": 12, "min_count": 5, "min_baseline": 3,
  plus the chart's params (L, lambda, k, h, alpha ...)}: the last baseline_periods + 1
  periods are charted with quality.analysis.control.chart_compute and only the LAST
  point is tested, and only in the KPI's worse direction. p/u/laney/poisson chart the
  numerators against the denominators; xmr/ewma/cusum the values. ewma, cusum and
  poisson take their target, sigma or rate from the baseline periods alone (the
  tested point does not dilute its own reference). A tested numerator below
  min_count never fires (sparse counts).
  With "compare": "members" (rate methods only) the last period's members are tested
  against each other instead of against their own history: see below.
- process: {"check": "stuck" | "sla_breaches" | "overdue_followups" |
  "overdue_actions", "status": "waiting_customer", "business_hours": N, "count": n}:
  per team (split_by "team") or in total (split_by ""), fire when the count is >= n.
  stuck: tickets in `status` at the evaluation instant for more than N business hours
  of their team's calendar; sla_breaches: SLA breaches (escalation level "breached", either target) in
  the tested period (level "breached"); overdue_followups: follow-up tasks due before the instant and not
  done by then. Other checks (overdue_actions: the improvements app) are registered
  with alert_process_check_register.

Members comparison (trend mode "members", anomaly "compare": "members"), with
{"window_periods": W (default 1), "group_by": dim (optional), "min_members": m
(default 3)}: each member's numerator and denominator are summed over the last W
periods, the tested one included (a stock denominator summed over periods is an
exposure: units in service x weeks), and the member is compared with the OTHER
members of its group (same value of group_by, e.g. the batches of one product model;
without group_by all members). poisson tests the member's count against the pooled
rate of the others (leave-one-out, so a bad batch does not raise its own reference);
p/u/laney_p/laney_u chart all members of the group as subgroups and test the member's
point. Fewer than m other members with a denominator: "insufficient". This is how a
warranty analyst finds a bad lot among its siblings, and it keeps firing as long as
the member stays worse than its peers, where a comparison with the member's own
recent history fires once at the change and then clears.

Lifecycle: one open alert per (rule, member) (a partial unique constraint);
firing -> acknowledged -> resolved, each step through one gate writing an AlertEvent.
A fire on a resolved member opens a new alert; `resolve_after` clear evaluations in a
row resolve it; notifications respect `renotify_minutes` and silences.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from tickets import calendars
from tickets.models import Escalation, EscalationLevel, ServiceTask, Status, Team, Ticket, TicketEvent
from tickets.services.notifications import notification_send

from ..alert_selectors import (
    OPEN_STATUSES,
    alert_member_key,
    alert_open_for,
    alert_rule_series,
    alert_rules_for,
    alert_silence_matches,
    alert_silences_active,
    alert_tested_period,
)
from ..analysis.control import ControlChartError, chart_compute, last_point_signal
from ..kpi.engine import KpiUsageError
from ..kpi.periods import GRAINS, grain_floor, grain_next, grain_previous, local_midnight
from ..kpi.registry import Kpi, kpi_lookup
from ..models import (
    Alert,
    AlertAutoAction,
    AlertEvaluation,
    AlertEvent,
    AlertKind,
    AlertRule,
    AlertSchedule,
    AlertSeverity,
    AlertSilence,
    AlertStatus,
)

logger = logging.getLogger(__name__)

TREND_MODES = ("previous", "year_ago", "run", "members")
ANOMALY_METHODS = ("p", "u", "laney_p", "laney_u", "c", "xmr", "ewma", "cusum", "poisson")
RATE_METHODS = ("p", "u", "laney_p", "laney_u", "poisson")  # numerators against denominators
COMPARES = ("history", "members")
BUILTIN_CHECKS = ("stuck", "sla_breaches", "overdue_followups")
CHANNELS = ("in_app", "email", "webhook")
NOTIFICATION_KIND = "alert"

# Transition table of the alert lifecycle; one gate (_alert_transition) applies it.
TRANSITIONS: dict[str, set[str]] = {
    AlertStatus.FIRING: {AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED},
    AlertStatus.ACKNOWLEDGED: {AlertStatus.RESOLVED},
    AlertStatus.RESOLVED: set(),
}

# --- registries filled by later apps (improvements) ------------------------------------

ProcessCheck = Callable[..., dict[str, int]]  # (rule=, at=, period=(start, end)) -> {team or "": count}
_PROCESS_CHECKS: dict[str, ProcessCheck] = {}
_AUTO_ACTIONS: dict[str, Callable[..., str]] = {}


def alert_process_check_register(name: str, fn: ProcessCheck) -> None:
    """A process check from a later app (the improvements app: "overdue_actions").
    fn(rule=, at=, period=) returns {team name or "": count}."""
    _PROCESS_CHECKS[name] = fn


def alert_auto_action_register(name: str, fn: Callable[..., str]) -> None:
    """An auto-action from a later app ("improvement": draft an improvement issue).
    fn(alert=) runs inside the firing transaction and returns a short note."""
    _AUTO_ACTIONS[name] = fn


# --- validation -------------------------------------------------------------------------


def _number(params: Mapping, name: str, errors: dict, *, required=False, minimum=None, integer=False):
    value = params.get(name)
    if value is None or value == "":
        if required:
            errors.setdefault("params", []).append(_("“%(name)s” is required.") % {"name": name})
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.setdefault("params", []).append(_("“%(name)s” must be a number.") % {"name": name})
        return None
    try:
        number = float(value)
    except ValueError:
        errors.setdefault("params", []).append(_("“%(name)s” must be a number.") % {"name": name})
        return None
    if not math.isfinite(number) or (integer and number != int(number)):
        errors.setdefault("params", []).append(_("“%(name)s” must be a whole number.") % {"name": name})
        return None
    if minimum is not None and number < minimum:
        errors.setdefault("params", []).append(
            _("“%(name)s” must be at least %(min)s.") % {"name": name, "min": minimum}
        )
        return None
    return int(number) if integer else number


def _members_params(params: Mapping, out: dict, kpi: Kpi | None, split_by: str, errors: dict) -> None:
    """The settings of a members comparison (trend mode "members", anomaly compare
    "members"): window_periods, group_by, min_members."""
    out["window_periods"] = _number(params, "window_periods", errors, minimum=1, integer=True) or 1
    out["min_members"] = _number(params, "min_members", errors, minimum=1, integer=True) or 3
    group = params.get("group_by") or ""
    if group:
        if not isinstance(group, str) or (kpi is not None and group not in kpi.dims) or group == split_by:
            errors.setdefault("params", []).append(_("“group_by” must be another dimension of the KPI than the split."))
        out["group_by"] = group
    if not split_by:
        errors.setdefault("params", []).append(_("Comparing members needs a split dimension."))


def _params_check(
    kind: str, params: Mapping, kpi: Kpi | None, grain: str, errors: dict, split_by: str | None = None
) -> dict:
    """The params of one kind, normalised; problems go to errors["params"]. split_by
    None: not checked (a members comparison needs one)."""
    if not isinstance(params, Mapping):
        errors["params"] = [_("The condition must be an object.")]
        return {}
    out: dict = {}
    if kind == AlertKind.THRESHOLD:
        op = params.get("op", "above")
        if op not in ("above", "below"):
            errors.setdefault("params", []).append(_("“op” must be above or below."))
        out["op"] = op
        out["value"] = _number(params, "value", errors, required=True)
        overrides = params.get("overrides") or {}
        if not isinstance(overrides, Mapping):
            errors.setdefault("params", []).append(_("“overrides” maps a member to its limit."))
            overrides = {}
        out["overrides"] = {str(m): _number(overrides, m, errors, required=True) for m in overrides}
        for name in ("holiday_value", "min_denominator"):
            value = _number(params, name, errors, minimum=0 if name == "min_denominator" else None)
            if value is not None:
                out[name] = value
        if "holiday_value" in out and grain != "day":
            errors.setdefault("params", []).append(_("A holiday limit needs the day grain."))
    elif kind == AlertKind.TREND:
        mode = params.get("mode", "previous")
        if mode not in TREND_MODES:
            errors.setdefault("params", []).append(
                _("“mode” must be one of %(names)s.") % {"names": ", ".join(TREND_MODES)}
            )
        out["mode"] = mode
        if mode == "run":
            out["periods"] = _number(params, "periods", errors, required=True, minimum=2, integer=True)
        elif mode == "members":
            out["pct"] = _number(params, "pct", errors, required=True, minimum=0)
            _members_params(params, out, kpi, "-" if split_by is None else split_by, errors)
        else:
            out["pct"] = _number(params, "pct", errors, required=True, minimum=0)
            out["baseline_periods"] = _number(params, "baseline_periods", errors, minimum=1, integer=True) or 1
        for name in ("min_denominator", "min_count"):
            value = _number(params, name, errors, minimum=0)
            if value is not None:
                out[name] = value
    elif kind == AlertKind.ANOMALY:
        method = params.get("method", "poisson")
        if method not in ANOMALY_METHODS:
            errors.setdefault("params", []).append(
                _("“method” must be one of %(names)s.") % {"names": ", ".join(ANOMALY_METHODS)}
            )
        elif kpi is not None and method in RATE_METHODS and kpi.kind == "mean":
            errors.setdefault("params", []).append(
                _("%(method)s charts counts against sizes; %(kpi)s is a mean: use xmr, ewma or cusum.")
                % {"method": method, "kpi": kpi.code}
            )
        elif kpi is not None and method in ("p", "laney_p") and kpi.scale not in (1.0, 100.0):
            errors.setdefault("params", []).append(_("A p chart needs a proportion (a % KPI); use u or poisson."))
        out["method"] = method
        compare = params.get("compare") or "history"
        if compare not in COMPARES:
            errors.setdefault("params", []).append(_("“compare” must be history or members."))
        elif compare == "members":
            out["compare"] = compare
            if method not in RATE_METHODS:
                errors.setdefault("params", []).append(
                    _("Members are compared with p, u, laney_p, laney_u or poisson.")
                )
            _members_params(params, out, kpi, "-" if split_by is None else split_by, errors)
        out["baseline_periods"] = _number(params, "baseline_periods", errors, minimum=2, integer=True) or 12
        out["min_baseline"] = _number(params, "min_baseline", errors, minimum=2, integer=True) or 3
        min_count = _number(params, "min_count", errors, minimum=0)
        out["min_count"] = 5 if min_count is None else min_count
        for name in ("L", "lambda", "k", "h", "alpha", "target", "sigma", "rate"):
            value = _number(params, name, errors, minimum=0)
            if value is not None:
                out[name] = value
        if params.get("limits"):
            out["limits"] = params["limits"]
        if out["min_baseline"] > out["baseline_periods"]:
            errors.setdefault("params", []).append(_("“min_baseline” cannot exceed “baseline_periods”."))
    elif kind == AlertKind.PROCESS:
        check = params.get("check")
        if check not in (*BUILTIN_CHECKS, "overdue_actions", *_PROCESS_CHECKS):
            errors.setdefault("params", []).append(
                _("“check” must be one of %(names)s.")
                % {"names": ", ".join([*BUILTIN_CHECKS, "overdue_actions", *_PROCESS_CHECKS])}
            )
        out["check"] = check
        out["count"] = _number(params, "count", errors, minimum=1, integer=True) or 1
        if check == "stuck":
            status = params.get("status", Status.WAITING_CUSTOMER)
            if status not in {s for s in Status.values if s not in (Status.RESOLVED, Status.CLOSED)}:
                errors.setdefault("params", []).append(_("“status” must be an open ticket status."))
            out["status"] = status
            out["business_hours"] = _number(params, "business_hours", errors, required=True, minimum=0)
    return out


@transaction.atomic
def alert_rule_save(*, actor, rule: AlertRule | None = None, **fields) -> AlertRule:
    """Create (rule None) or update one rule after checking its target and condition;
    raises ApplicationError with field errors. M2M fields: recipient_users,
    recipient_teams (iterables of users / teams)."""
    users = fields.pop("recipient_users", None)
    teams = fields.pop("recipient_teams", None)
    if rule is None:
        rule = AlertRule(created_by=actor if getattr(actor, "pk", None) else None)
    else:
        rule = lock_one(AlertRule.objects.all(), rule.pk)
    unknown = set(fields) - {f.name for f in AlertRule._meta.concrete_fields}
    if unknown:
        raise ApplicationError(_("Unknown fields."), errors={name: [_("Unknown field.")] for name in unknown})
    for name, value in fields.items():
        setattr(rule, name, value)
    errors: dict[str, list] = {}
    if not rule.code:
        errors["code"] = [_("A code is required.")]
    elif AlertRule.objects.filter(code=rule.code).exclude(pk=rule.pk).exists():
        errors["code"] = [_("Another rule has this code.")]
    if not rule.name:
        errors["name"] = [_("A name is required.")]
    if rule.kind not in AlertKind.values:
        errors["kind"] = [_("Unknown kind.")]
    if rule.severity not in AlertSeverity.values:
        errors["severity"] = [_("Unknown severity.")]
    if rule.schedule not in AlertSchedule.values:
        errors["schedule"] = [_("Unknown schedule.")]
    if rule.grain not in GRAINS:
        errors["grain"] = [_("Unknown grain: choose one of %(grains)s.") % {"grains": ", ".join(GRAINS)}]
    if not isinstance(rule.filters, dict) or not all(isinstance(v, str) for v in rule.filters.values()):
        errors["filters"] = [_("Filters map a dimension to one member.")]
    kpi = None
    if rule.kind == AlertKind.PROCESS:
        if rule.split_by not in ("", "team"):
            errors["split_by"] = [_("Process rules are split by team or not at all.")]
        rule.kpi = rule.kpi or ""
    else:
        kpi = kpi_lookup(rule.kpi) if rule.kpi else None
        if kpi is None:
            errors["kpi"] = [_("Unknown KPI or metric.")]
        else:
            if rule.split_by and rule.split_by not in kpi.dims:
                errors["split_by"] = [
                    _("%(kpi)s cannot be split by %(dim)s; it supports: %(dims)s.")
                    % {"kpi": kpi.code, "dim": rule.split_by, "dims": ", ".join(kpi.dims) or "-"}
                ]
            bad = [d for d in (rule.filters or {}) if d not in kpi.dims] if "filters" not in errors else []
            if bad:
                errors["filters"] = [
                    _("%(kpi)s cannot be filtered by %(dims)s.") % {"kpi": kpi.code, "dims": ", ".join(bad)}
                ]
    if not isinstance(rule.recipient_roles, list) or not set(rule.recipient_roles) <= _role_names():
        errors["recipient_roles"] = [_("Unknown role.")]
    if not isinstance(rule.channels, list) or not set(rule.channels) <= set(CHANNELS):
        errors["channels"] = [_("Channels are in_app, email and webhook.")]
    if rule.auto_action not in AlertAutoAction.values:
        errors["auto_action"] = [_("Unknown auto-action.")]
    if rule.resolve_after is None or rule.resolve_after < 1:
        errors["resolve_after"] = [_("At least one clear evaluation is needed to resolve.")]
    rule.params = _params_check(rule.kind, rule.params, kpi, rule.grain, errors, split_by=rule.split_by or "")
    if errors:
        raise ApplicationError(_("The rule is not valid."), errors=errors)
    rule.updated_at = timezone.now()
    rule.save()
    if users is not None:
        rule.recipient_users.set(users)
    if teams is not None:
        rule.recipient_teams.set(teams)
    return rule


def _role_names() -> set[str]:
    from catalog.roles import ROLES

    return set(ROLES)


# --- conditions ------------------------------------------------------------------------


def _decision(decision: str, *, period_start=None, value=None, baseline=None, lcl=None, ucl=None, **detail) -> dict:
    return {
        "decision": decision,
        "period_start": period_start,
        "value": value,
        "baseline": baseline,
        "lcl": lcl,
        "ucl": ucl,
        "detail": detail,
    }


def _worse(kpi: Kpi, new: float, old: float) -> bool:
    return new > old if kpi.direction == "down" else new < old


def _enough(row: dict | None, params: Mapping) -> bool:
    if row is None or row.get("value") is None:
        return False
    denominator = row.get("denominator")
    floor = params.get("min_denominator")
    return not (floor and denominator is not None and denominator < floor)


def _back(label: dt.date, grain: str, n: int) -> dt.date:
    for _i in range(n):
        label = grain_previous(label, grain)
    return label


def _year_ago(label: dt.date, grain: str) -> dt.date:
    if grain in ("day", "week"):
        return label - dt.timedelta(weeks=52)  # same weekday / ISO week a year before
    return dt.date(label.year - 1, label.month, 1)


def _non_working(day: dt.date) -> bool:
    clock = calendars.calendar_clock(None)
    return not clock.always and not clock.windows_on(day)


def _threshold(rule, kpi, member, rows: dict, label: dt.date) -> dict:
    params = rule.params
    row = rows.get(label)
    if not _enough(row, params):
        return _decision("insufficient", period_start=label, value=row and row.get("value"))
    value = row["value"]
    member_value = str(member[0][1]) if member else ""
    limit = params.get("overrides", {}).get(member_value, params["value"])
    detail = {}
    if params.get("holiday_value") is not None and rule.grain == "day" and _non_working(label):
        limit = params["holiday_value"]
        detail["holiday"] = True
    above = params.get("op", "above") == "above"
    fire = value > limit if above else value < limit
    return _decision(
        "fire" if fire else "clear",
        period_start=label,
        value=value,
        baseline=limit,
        lcl=None if above else limit,
        ucl=limit if above else None,
        **detail,
    )


def _trend(rule, kpi, member, rows: dict, label: dt.date) -> dict:
    params = rule.params
    row = rows.get(label)
    if not _enough(row, params) or (params.get("min_count") and (row.get("numerator") or 0) < params["min_count"]):
        return _decision("insufficient", period_start=label, value=row and row.get("value"))
    value = row["value"]
    if params["mode"] == "run":
        n = params["periods"]
        labels = [_back(label, rule.grain, i) for i in range(n, -1, -1)]
        earlier = [rows.get(x) for x in labels]
        if not all(_enough(r, params) for r in earlier):
            return _decision("insufficient", period_start=label, value=value)
        values = [r["value"] for r in earlier]
        fire = all(_worse(kpi, b, a) for a, b in zip(values, values[1:], strict=False))
        return _decision("fire" if fire else "clear", period_start=label, value=value, baseline=values[0], run=values)
    if params["mode"] == "year_ago":
        refs = [rows.get(_year_ago(label, rule.grain))]
    else:
        refs = [rows.get(_back(label, rule.grain, i)) for i in range(1, params.get("baseline_periods", 1) + 1)]
    if not all(_enough(r, params) for r in refs):
        return _decision("insufficient", period_start=label, value=value)
    baseline = sum(r["value"] for r in refs) / len(refs)
    if baseline == 0:
        # A % change against 0 is undefined; a move off zero is a threshold matter.
        return _decision("insufficient", period_start=label, value=value, baseline=baseline)
    return _pct_change_decision(kpi, params, label=label, value=value, baseline=baseline)


def _pct_change_decision(kpi, params: dict, *, label: dt.date, value: float, baseline: float, **detail) -> dict:
    """Fire when the value is worse than a non-zero baseline by more than params["pct"]
    percent, in the KPI's worse direction; the limit is the baseline moved by that share."""
    change = 100.0 * (value - baseline) / abs(baseline)
    factor = params["pct"] / 100.0
    if kpi.direction == "down":
        fire, lcl, ucl = change > params["pct"], None, baseline + abs(baseline) * factor
    else:
        fire, lcl, ucl = -change > params["pct"], baseline - abs(baseline) * factor, None
    return _decision(
        "fire" if fire else "clear",
        period_start=label,
        value=value,
        baseline=baseline,
        lcl=lcl,
        ucl=ucl,
        change_pct=change,
        **detail,
    )


def _anomaly(rule, kpi, member, rows: dict, label: dt.date) -> dict:
    params = rule.params
    method = params["method"]
    row = rows.get(label)
    if row is None or row.get("value") is None and method not in RATE_METHODS:
        return _decision("insufficient", period_start=label)
    labels = [_back(label, rule.grain, i) for i in range(params.get("baseline_periods", 12), 0, -1)]
    rate_based = method in RATE_METHODS or method == "c"

    def usable(r):
        if r is None:
            return False
        if method in RATE_METHODS:
            return bool(r.get("denominator"))
        return r.get("value") is not None

    baseline_rows = [rows[x] for x in labels if usable(rows.get(x))]
    if len(baseline_rows) < params.get("min_baseline", 3) or not usable(row):
        return _decision(
            "insufficient", period_start=label, value=row.get("value"), baseline_periods=len(baseline_rows)
        )
    series = [*baseline_rows, row]
    scale = kpi.scale if kpi.kind == "ratio" else 1.0
    chart_params = {
        k: params[k] for k in ("L", "lambda", "k", "h", "alpha", "target", "sigma", "limits") if k in params
    }
    if method in RATE_METHODS:
        values = [float(r["numerator"] or 0) for r in series]
        sizes = [float(r["denominator"]) for r in series]
    elif method == "c":
        values, sizes = [float(r["numerator"] or 0) for r in series], None
    else:
        values, sizes = [float(r["value"]) for r in series], None
    base_values = values[:-1]
    if method == "poisson":
        chart_params.setdefault("rate", params.get("rate", sum(base_values) / sum(sizes[:-1])))
        chart_params["min_count"] = params.get("min_count", 5)
    elif method in ("ewma", "cusum") and len(base_values) >= 2:
        chart_params.setdefault("target", sum(base_values) / len(base_values))
        if "sigma" not in chart_params:
            spread = sum(abs(b - a) for a, b in zip(base_values, base_values[1:], strict=False))
            sigma = spread / (len(base_values) - 1) / 1.128
            if sigma > 0:
                chart_params["sigma"] = sigma
    try:
        result = chart_compute(method, values, sizes, chart_params)
    except ControlChartError as exc:
        return _decision("error", period_start=label, value=row.get("value"), reason=str(exc))
    point = result["points"][-1]
    # Back to the KPI's own scale (per 1000, %): rate charts plot numerator / size.
    if method == "poisson":
        size = sizes[-1]
        to_kpi = (lambda c: c / size * scale) if size else (lambda c: c)
        baseline, lcl, ucl = result["center"] * scale, None, to_kpi(point["ucl"])
    elif method in ("p", "u", "laney_p", "laney_u"):
        baseline, lcl, ucl = result["center"] * scale, point["lcl"] * scale, point["ucl"] * scale
    elif method == "c":
        baseline, lcl, ucl = result["center"], point["lcl"], point["ucl"]
    elif method == "cusum":
        baseline, lcl, ucl = result["center"], None, None
    else:
        baseline, lcl, ucl = result["center"], point["lcl"], point["ucl"]
    signal = last_point_signal(result)
    worse = "high" if kpi.direction == "down" else "low"
    count = values[-1] if rate_based else None
    floor_ok = count is None or count >= params.get("min_count", 5)
    fire = bool(signal and signal["direction"] == worse and floor_ok)
    detail = {"method": method, "statistic": point["statistic"], "points": len(series)}
    if count is not None:
        detail["count"] = count
    if "expected" in point:
        detail["expected"] = point["expected"]
    return _decision(
        "fire" if fire else "clear",
        period_start=label,
        value=row.get("value"),
        baseline=baseline,
        lcl=lcl,
        ucl=ucl,
        **detail,
    )


CONDITIONS = {AlertKind.THRESHOLD: _threshold, AlertKind.TREND: _trend, AlertKind.ANOMALY: _anomaly}


def _compares_members(rule: AlertRule) -> bool:
    params = rule.params or {}
    if rule.kind == AlertKind.ANOMALY:
        return params.get("compare") == "members"
    return rule.kind == AlertKind.TREND and params.get("mode") == "members"


def _kpi_value(kpi: Kpi, numerator: float, denominator: float) -> float | None:
    if not denominator:
        return None
    return numerator / denominator * (kpi.scale if kpi.kind == "ratio" else 1.0)


def _members_anomaly(rule, kpi, label, mine: tuple, others: list, group: list, index: int) -> dict:
    """The member's window count against its siblings: poisson tests it against the
    pooled rate of the OTHER members (a bad batch does not raise its own reference);
    p/u/laney chart every member of the group as one subgroup and test this one."""
    params = rule.params
    method = params["method"]
    count, exposure = mine
    value = _kpi_value(kpi, count, exposure)
    scale = kpi.scale if kpi.kind == "ratio" else 1.0
    if not exposure or len(others) < params.get("min_members", 3):
        return _decision("insufficient", period_start=label, value=value, members=len(others))
    chart_params = {k: params[k] for k in ("L", "alpha") if k in params}
    if method == "poisson":
        rate = sum(n for n, _d in others) / sum(d for _n, d in others)
        chart_params.update(rate=rate, min_count=params.get("min_count", 5))
        result = chart_compute("poisson", [count], [exposure], chart_params)
        point = result["points"][0]
        baseline, lcl, ucl = rate * scale, None, point["ucl"] / exposure * scale
    else:
        result = chart_compute(method, [n for n, _d in group], [d for _n, d in group], chart_params)
        point = result["points"][index]
        baseline, lcl, ucl = result["center"] * scale, point["lcl"] * scale, point["ucl"] * scale
    signal = last_point_signal({**result, "points": [point]})
    worse = "high" if kpi.direction == "down" else "low"
    fire = bool(signal and signal["direction"] == worse and count >= params.get("min_count", 5))
    detail = {"method": method, "statistic": point["statistic"], "count": count, "members": len(others) + 1}
    if "expected" in point:
        detail["expected"] = point["expected"]
    return _decision(
        "fire" if fire else "clear", period_start=label, value=value, baseline=baseline, lcl=lcl, ucl=ucl, **detail
    )


def _members_trend(rule, kpi, label, mine: tuple, others: list, group: list, index: int) -> dict:
    """The member's window value against the pooled value of the other members, beyond
    pct % in the KPI's worse direction."""
    params = rule.params
    numerator, denominator = mine
    value = _kpi_value(kpi, numerator, denominator)
    floor = params.get("min_denominator")
    if value is None or (floor and denominator < floor) or numerator < (params.get("min_count") or 0):
        return _decision("insufficient", period_start=label, value=value)
    if floor:
        others = [(n, d) for n, d in others if d >= floor]
    if len(others) < params.get("min_members", 3):
        return _decision("insufficient", period_start=label, value=value, members=len(others))
    baseline = _kpi_value(kpi, sum(n for n, _d in others), sum(d for _n, d in others))
    if not baseline:
        return _decision("insufficient", period_start=label, value=value, baseline=baseline)
    return _pct_change_decision(kpi, params, label=label, value=value, baseline=baseline, members=len(others) + 1)


def _members_decisions(rule: AlertRule, kpi: Kpi, label: dt.date, end: dt.date) -> list[tuple[dict, dict]]:
    """A members comparison: each member's numerator and denominator summed over the
    last window_periods periods (the tested one included; a stock denominator summed
    over periods is an exposure, e.g. unit-weeks in service), compared with the other
    members of its group_by group (e.g. the batches of the same product model)."""
    params = rule.params
    window = params.get("window_periods", 1)
    group_dim = params.get("group_by") or ""
    by = tuple(d for d in (group_dim, rule.split_by) if d)
    series = alert_rule_series(rule=rule, kpi=kpi, start=_back(label, rule.grain, window - 1), end=end, by=by)
    groups: dict[str, list] = defaultdict(list)
    for key, rows in sorted(series.items()):
        dims = dict(key)
        numerator = sum(float(r.get("numerator") or 0) for r in rows.values())
        denominator = sum(float(r.get("denominator") or 0) for r in rows.values())
        member = {rule.split_by: dims[rule.split_by]}
        groups[dims.get(group_dim, "")].append((member, numerator, denominator, label in rows))
    decide = _members_anomaly if rule.kind == AlertKind.ANOMALY else _members_trend
    out = []
    for group_value, members in sorted(groups.items()):
        # Members without exposure in the window say nothing about the others.
        sized = [m for m in members if m[2] > 0]
        for member, numerator, denominator, tested in members:
            if not tested:
                continue  # no record of the member in the tested period: nothing to say
            others = [(n, d) for m, n, d, _t in sized if m != member]
            index = next((i for i, m in enumerate(sized) if m[0] == member), 0)
            group = [(n, d) for _m, n, d, _t in sized]
            d = decide(rule, kpi, label, (numerator, denominator), others, group, index)
            d["detail"]["window_periods"] = window
            if group_dim:
                d["detail"]["group"] = {group_dim: group_value}
            out.append((member, d))
    return sorted(out, key=lambda item: sorted(item[0].items()))


def _series_start(rule: AlertRule, label: dt.date) -> dt.date:
    params = rule.params
    if rule.kind == AlertKind.ANOMALY:
        return _back(label, rule.grain, params.get("baseline_periods", 12))
    if rule.kind == AlertKind.TREND:
        if params.get("mode") == "run":
            return _back(label, rule.grain, params.get("periods", 2))
        if params.get("mode") == "year_ago":
            return _year_ago(label, rule.grain)
        return _back(label, rule.grain, params.get("baseline_periods", 1))
    return label


def _kpi_decisions(rule: AlertRule, *, as_of: dt.date) -> list[tuple[dict, dict]]:
    """[(member {dim: value}, decision)] of a KPI rule as of a day."""
    kpi = kpi_lookup(rule.kpi)
    if kpi is None:
        return [({}, _decision("error", reason=f"unknown KPI {rule.kpi}"))]
    label, end = alert_tested_period(as_of=as_of, grain=rule.grain)
    if _compares_members(rule):
        return _members_decisions(rule, kpi, label, end)
    start = _series_start(rule, label)
    if rule.kind == AlertKind.TREND and rule.params.get("mode") == "year_ago":
        # Two short ranges instead of a year of periods.
        series = alert_rule_series(rule=rule, kpi=kpi, start=label, end=end)
        for member, rows in alert_rule_series(
            rule=rule, kpi=kpi, start=start, end=grain_next(start, rule.grain)
        ).items():
            series.setdefault(member, {}).update(rows)
    else:
        series = alert_rule_series(rule=rule, kpi=kpi, start=start, end=end)
    condition = CONDITIONS[rule.kind]
    out = []
    for member, rows in sorted(series.items()):
        if label not in rows:
            continue  # no record of the member in the tested period: nothing to say
        out.append((dict(member), condition(rule, kpi, member, rows, label)))
    return out


# --- process checks --------------------------------------------------------------------


def _check_stuck(*, rule: AlertRule, at: dt.datetime, period) -> dict[str, int]:
    """Tickets in `status` at the instant `at` (their last status change before it) for
    more than N business hours of their team's calendar."""
    status = rule.params.get("status", Status.WAITING_CUSTOMER)
    last = TicketEvent.objects.filter(ticket=OuterRef("pk"), kind="status", at__lt=at).order_by("-at", "-id")
    tickets = (
        Ticket.objects.filter(created_at__lt=at, team__isnull=False)
        .annotate(status_then=Subquery(last.values("to_value")[:1]), since=Subquery(last.values("at")[:1]))
        .filter(status_then=status)
        .values_list("team__name", "team__calendar_id", "since")
    )
    rows = list(tickets)
    clocks = calendars.calendar_clocks({cal for _n, cal, _s in rows})
    limit = float(rule.params.get("business_hours") or 0) * 60
    counts: dict[str, int] = defaultdict(int)
    for team, calendar_id, since in rows:
        if clocks.get(calendar_id).minutes_between(since, at) > limit:
            counts[team] += 1
    return counts


def _check_sla_breaches(*, rule: AlertRule, at: dt.datetime, period) -> dict[str, int]:
    """SLA breaches (the "breached" escalation level, either target) in the tested period."""
    start, end = period
    rows = Escalation.objects.filter(
        level=EscalationLevel.BREACHED, at__gte=start, at__lt=min(end, at), ticket__team__isnull=False
    ).values_list("ticket__team__name", flat=True)
    counts: dict[str, int] = defaultdict(int)
    for team in rows:
        counts[team] += 1
    return counts


def _check_overdue_followups(*, rule: AlertRule, at: dt.datetime, period) -> dict[str, int]:
    """Follow-up tasks due before `at` and not done by then."""
    rows = ServiceTask.objects.filter(
        Q(done_at__isnull=True) | Q(done_at__gte=at), kind="follow_up", due_at__lt=at, created_at__lt=at
    ).values_list("team__name", "ticket__team__name")
    counts: dict[str, int] = defaultdict(int)
    for team, ticket_team in rows:
        if team or ticket_team:
            counts[team or ticket_team] += 1
    return counts


_BUILTIN = {"stuck": _check_stuck, "sla_breaches": _check_sla_breaches, "overdue_followups": _check_overdue_followups}


def _process_decisions(rule: AlertRule, *, as_of: dt.date, at: dt.datetime) -> list[tuple[dict, dict]]:
    check = rule.params.get("check")
    fn = _PROCESS_CHECKS.get(check) or _BUILTIN.get(check)
    label, end = alert_tested_period(as_of=as_of, grain=rule.grain)
    if fn is None:
        return [({}, _decision("insufficient", period_start=label, reason=f"check {check} is not available"))]
    counts = fn(rule=rule, at=at, period=(local_midnight(label), local_midnight(end)))
    threshold = rule.params.get("count", 1)
    if rule.split_by == "team":
        teams = set(Team.objects.values_list("name", flat=True)) | set(counts)
        members = [({"team": team}, counts.get(team, 0)) for team in sorted(teams)]
    else:
        members = [({}, sum(counts.values()))]
    return [
        (
            member,
            _decision(
                "fire" if count >= threshold else "clear",
                period_start=label,
                value=float(count),
                ucl=float(threshold),
                check=check,
            ),
        )
        for member, count in members
    ]


def alert_rule_decisions(*, rule: AlertRule, as_of: dt.date, at: dt.datetime | None = None) -> list[tuple[dict, dict]]:
    """The decision per member of one rule as of a day (reads only). Process checks look
    at the instant `at` (default: the start of as_of)."""
    at = at or local_midnight(as_of)
    try:
        if rule.kind == AlertKind.PROCESS:
            return _process_decisions(rule, as_of=as_of, at=at)
        return _kpi_decisions(rule, as_of=as_of)
    except (KpiUsageError, ControlChartError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        # A rule saved before a KPI lost a dimension, or a broken params blob: logged, not raised.
        logger.warning("alert rule %s failed: %s", rule.code, exc)
        return [({}, _decision("error", reason=str(exc)[:500]))]


# --- evaluation --------------------------------------------------------------------------


def alert_rules_evaluate(
    *,
    as_of: dt.date | None = None,
    dry_run: bool = False,
    rules: Iterable[AlertRule] | None = None,
    schedule: str | None = None,
    now: dt.datetime | None = None,
) -> list[dict]:
    """Evaluate the active rules (or `rules`, or those of one `schedule`) as of a day
    (default today: the last complete period is tested) and return the alerts that fire
    as the alerts endpoint lists them. Unless dry_run: every decision is logged and the
    lifecycle applied, each rule in its own transaction (one failing rule does not undo
    the others). dry_run reads only: no row written, nothing sent."""
    now = now or timezone.now()
    explicit = as_of is not None
    as_of = as_of or timezone.localdate(now)
    # Process checks look at the current state, or at the start of a past as_of day.
    at = local_midnight(as_of) if explicit and local_midnight(as_of) < now else now
    rules = list(rules) if rules is not None else list(alert_rules_for(schedule=schedule))
    silences = [] if dry_run else alert_silences_active(at=now)
    firing: list[dict] = []
    for rule in rules:
        decisions = alert_rule_decisions(rule=rule, as_of=as_of, at=at)
        if dry_run:
            firing += [_dry_item(rule, member, d) for member, d in decisions if d["decision"] == "fire"]
            continue
        try:
            firing += _rule_apply(rule, decisions, as_of=as_of, now=now, silences=silences)
        except Exception:  # noqa: BLE001 - one broken rule must not stop the run
            logger.exception("alert rule %s: applying the decisions failed", rule.code)
    return firing


def _dry_item(rule: AlertRule, member: dict, d: dict) -> dict:
    return {
        "id": None,
        "rule": rule.code,
        "kind": rule.kind,
        "kpi": rule.kpi,
        "member": member,
        "severity": rule.severity,
        "status": AlertStatus.FIRING.value,
        "period_start": d["period_start"].isoformat() if d["period_start"] else None,
        "value": d["value"],
        "baseline": d["baseline"],
        "lcl": d["lcl"],
        "ucl": d["ucl"],
        "first_fired_at": None,
    }


@transaction.atomic
def _rule_apply(rule: AlertRule, decisions, *, as_of: dt.date, now: dt.datetime, silences) -> list[dict]:
    from ..alert_selectors import alert_payload

    logs = []
    firing = []
    for member, d in decisions:
        key = alert_member_key(member)
        decision = d["decision"]
        if decision == "fire":
            silenced = any(alert_silence_matches(s, rule=rule, member=member) for s in silences)
            alert = _alert_fire(rule, member, key, d, now=now, silenced=silenced)
            if silenced:
                decision = "silenced"
            firing.append(alert_payload(alert))
        elif decision == "clear":
            _alert_clear(rule, key, now=now)
        logs.append(
            AlertEvaluation(
                rule=rule,
                member_key=key,
                evaluated_at=now,
                as_of=as_of,
                period_start=d["period_start"],
                value=d["value"],
                baseline=d["baseline"],
                lcl=d["lcl"],
                ucl=d["ucl"],
                decision=decision,
                detail={**d["detail"], **({"member": member} if member else {})},
            )
        )
    AlertEvaluation.objects.bulk_create(logs)
    AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)
    return firing


def _alert_fire(rule: AlertRule, member: dict, key: str, d: dict, *, now: dt.datetime, silenced: bool) -> Alert:
    """Open the member's alert, or refresh the open one. Two evaluations at once: the
    partial unique constraint lets one insert win; the other updates that alert."""
    values = {k: d[k] for k in ("period_start", "value", "baseline", "lcl", "ucl")}
    alert = None
    existing = alert_open_for(rule=rule, member_key=key)
    if existing is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule,
                    member_key=key,
                    member=member,
                    severity=rule.severity,
                    detail=d["detail"],
                    first_fired_at=now,
                    last_fired_at=now,
                    **values,
                )
        except IntegrityError:
            existing = alert_open_for(rule=rule, member_key=key)
            if existing is None:
                raise
    new = alert is not None
    if new:
        AlertEvent.objects.create(alert=alert, at=now, kind="fired", to_value=AlertStatus.FIRING)
    else:
        alert = lock_one(Alert.objects.select_related("rule"), existing.pk)
        for name, value in values.items():
            setattr(alert, name, value)
        alert.detail, alert.last_fired_at, alert.clear_count, alert.severity = d["detail"], now, 0, rule.severity
        alert.save(update_fields=[*values, "detail", "last_fired_at", "clear_count", "severity"])
    if silenced:
        if new:
            AlertEvent.objects.create(alert=alert, at=now, kind="silenced", comment="notification suppressed")
    elif new or _renotify_due(alert, rule, now):
        _alert_notify(alert, rule, now=now)
    if new and rule.auto_action:
        _auto_action(alert, rule, now=now)
    return alert


def _renotify_due(alert: Alert, rule: AlertRule, now: dt.datetime) -> bool:
    if alert.status != AlertStatus.FIRING:
        return False  # acknowledged: someone is on it
    last = alert.last_notified_at
    return last is None or now - last >= dt.timedelta(minutes=rule.renotify_minutes)


def _recipients(rule: AlertRule, member: Mapping) -> list:
    User = get_user_model()
    users = list(rule.recipient_users.filter(is_active=True))
    if rule.recipient_roles:
        users += list(User.objects.filter(is_active=True, groups__name__in=rule.recipient_roles).distinct())
    for team in rule.recipient_teams.all():
        if team.supervisor_id:
            users.append(team.supervisor)
        users += list(team.members.filter(is_active=True))
    if rule.kind == AlertKind.PROCESS and member.get("team"):
        # A process alert about a team also reaches the team's supervisor.
        team = Team.objects.filter(name=member["team"]).select_related("supervisor").first()
        if team is not None and team.supervisor is not None:
            users.append(team.supervisor)
    return users


def _alert_url(alert: Alert) -> str:
    from django.urls import NoReverseMatch, reverse

    for name, args in (("alerts:detail", [alert.pk]), ("alerts:alert_detail", [alert.pk]), ("alerts:index", [])):
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return "/alerts/"


def _member_text(member: Mapping) -> str:
    return ", ".join(f"{v}" for v in member.values()) or "-"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _alert_notify(alert: Alert, rule: AlertRule, *, now: dt.datetime) -> None:
    n = alert.notifications + 1
    notification_send(
        recipients=_recipients(rule, alert.member or {}),
        kind=NOTIFICATION_KIND,
        title=gettext_lazy("Alert: %(rule)s (%(member)s)"),
        body=gettext_lazy("%(kpi)s is %(value)s against %(baseline)s in the period from %(period)s."),
        params={
            "rule": rule.name,
            "member": _member_text(alert.member or {}),
            "kpi": rule.kpi or rule.params.get("check", ""),
            "value": _fmt(alert.value),
            "baseline": _fmt(alert.baseline if alert.baseline is not None else alert.ucl),
            "period": alert.period_start.isoformat() if alert.period_start else "-",
        },
        url=_alert_url(alert),
        payload={"alert": alert.pk, "rule": rule.code, "member": alert.member, "severity": alert.severity},
        urgent=alert.severity == AlertSeverity.CRITICAL,
        dedupe_key=f"alert:{alert.pk}:{n}",
        email=not rule.channels or "email" in rule.channels,
        at=now,
    )
    alert.notifications, alert.last_notified_at = n, now
    alert.save(update_fields=["notifications", "last_notified_at"])
    AlertEvent.objects.create(alert=alert, at=now, kind="notified", to_value=str(n))


def _auto_action(alert: Alert, rule: AlertRule, *, now: dt.datetime) -> None:
    """follow_up: a ServiceTask needs a ticket, so for a team's process alert the team
    supervisor gets a follow-up notice instead; improvement: the registered hook (the
    improvements app), skipped with a note while none is registered."""
    if rule.auto_action == AlertAutoAction.FOLLOW_UP:
        team = None
        if alert.member.get("team"):
            team = Team.objects.filter(name=alert.member["team"]).select_related("supervisor").first()
        if team is None or team.supervisor is None:
            note = "skipped: no team supervisor to follow up"
        else:
            notification_send(
                recipients=[team.supervisor],
                kind="alert_follow_up",
                title=gettext_lazy("Follow up: %(rule)s (%(member)s)"),
                body=gettext_lazy("Please look into this alert and record what was done."),
                params={"rule": rule.name, "member": _member_text(alert.member)},
                url=_alert_url(alert),
                payload={"alert": alert.pk, "rule": rule.code},
                dedupe_key=f"alert:{alert.pk}:follow_up",
                at=now,
            )
            note = f"follow-up notice to {team.supervisor}"
    else:
        fn = _AUTO_ACTIONS.get(rule.auto_action)
        note = fn(alert=alert) if fn else f"skipped: no {rule.auto_action} action registered"
    AlertEvent.objects.create(alert=alert, at=now, kind="auto_action", to_value=rule.auto_action, comment=note)


def _alert_clear(rule: AlertRule, key: str, *, now: dt.datetime) -> None:
    existing = alert_open_for(rule=rule, member_key=key)
    if existing is None:
        return
    alert = lock_one(Alert.objects.all(), existing.pk)
    alert.clear_count += 1
    alert.save(update_fields=["clear_count"])
    if alert.clear_count >= rule.resolve_after:
        _alert_transition(
            alert, AlertStatus.RESOLVED, actor=None, at=now, comment=f"cleared {alert.clear_count} evaluations in a row"
        )


# --- lifecycle ---------------------------------------------------------------------------


def _alert_transition(alert: Alert, to: str, *, actor, at: dt.datetime, comment: str = "") -> Alert:
    """The one gate: `alert` is locked by the caller; checks the table, saves the
    status fields, writes the event."""
    if to not in TRANSITIONS[alert.status]:
        raise ConflictError(
            _("An alert that is %(from)s cannot become %(to)s.") % {"from": alert.status, "to": to},
            errors={"status": [_("Not allowed from %(from)s.") % {"from": alert.status}]},
        )
    fields = ["status"]
    previous = alert.status
    alert.status = to
    if to == AlertStatus.ACKNOWLEDGED:
        alert.acknowledged_at, alert.acknowledged_by = at, actor
        fields += ["acknowledged_at", "acknowledged_by"]
    elif to == AlertStatus.RESOLVED:
        alert.resolved_at = at
        fields.append("resolved_at")
    alert.save(update_fields=fields)
    AlertEvent.objects.create(
        alert=alert, actor=actor, at=at, kind=to, from_value=previous, to_value=to, comment=comment
    )
    return alert


def _locked(alert_id) -> Alert:
    try:
        return lock_one(Alert.objects.select_related("rule"), alert_id)
    except Alert.DoesNotExist as exc:
        raise ApplicationError(_("No such alert."), errors={"alert": [_("No such alert.")]}) from exc


@transaction.atomic
def alert_acknowledge(*, alert_id: int, actor, comment: str = "") -> Alert:
    """firing -> acknowledged (re-notifications stop; it still resolves by itself)."""
    return _alert_transition(
        _locked(alert_id), AlertStatus.ACKNOWLEDGED, actor=actor, at=timezone.now(), comment=comment
    )


@transaction.atomic
def alert_resolve(*, alert_id: int, actor, comment: str = "") -> Alert:
    """firing/acknowledged -> resolved; a later fire opens a new alert."""
    return _alert_transition(_locked(alert_id), AlertStatus.RESOLVED, actor=actor, at=timezone.now(), comment=comment)


@transaction.atomic
def alert_assign(*, alert_id: int, assignee, actor) -> Alert:
    """Give an open alert to a person (None: unassign); an AlertEvent records it."""
    alert = _locked(alert_id)
    if alert.status not in OPEN_STATUSES:
        raise ConflictError(
            _("A resolved alert cannot be assigned."), errors={"assignee": [_("The alert is resolved.")]}
        )
    if assignee is not None and not getattr(assignee, "is_active", False):
        raise ApplicationError(_("Assign to an active user."), errors={"assignee": [_("Not an active user.")]})
    previous = alert.assignee
    alert.assignee = assignee
    alert.save(update_fields=["assignee"])
    AlertEvent.objects.create(
        alert=alert,
        actor=actor,
        at=timezone.now(),
        kind="assigned",
        from_value=previous.get_username() if previous else "",
        to_value=assignee.get_username() if assignee else "",
    )
    return alert


@transaction.atomic
def alert_silence_create(
    *,
    actor,
    rule: AlertRule | None = None,
    kpi: str = "",
    member: Mapping | None = None,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    comment: str = "",
) -> AlertSilence:
    """A silence suppresses notifications of matching alerts in [starts_at, ends_at);
    evaluations are still logged and alerts still open."""
    errors: dict[str, list] = {}
    if starts_at is None or ends_at is None or timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        errors["starts_at"] = [_("Give both ends of the window with a time zone.")]
    elif ends_at <= starts_at:
        errors["ends_at"] = [_("The silence must end after it starts.")]
    if member is not None and (
        not isinstance(member, Mapping) or not all(isinstance(v, str | int | float) for v in member.values())
    ):
        errors["member"] = [_("The member maps a dimension to one value.")]
    if kpi and kpi_lookup(kpi) is None:
        errors["kpi"] = [_("Unknown KPI or metric.")]
    if errors:
        raise ApplicationError(_("The silence is not valid."), errors=errors)
    return AlertSilence.objects.create(
        rule=rule,
        kpi=kpi or "",
        member={str(k): str(v) for k, v in (member or {}).items()},
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def alert_silence_expire(*, silence_id: int, actor, at: dt.datetime | None = None) -> AlertSilence:
    """End a silence now (ends_at = now; a planned one is cut to a zero-free window by
    moving its start too). The row lock keeps two clicks from racing."""
    at = at or timezone.now()
    try:
        silence = lock_one(AlertSilence.objects.all(), silence_id)
    except AlertSilence.DoesNotExist as exc:
        raise ApplicationError(_("No such silence."), errors={"silence": [_("No such silence.")]}) from exc
    if silence.ends_at <= at:
        raise ConflictError(_("The silence has already ended."), errors={"ends_at": [_("Already ended.")]})
    fields = ["ends_at"]
    if silence.starts_at >= at:
        # Not begun yet: keep the window valid (ends after it starts) and in the past.
        silence.starts_at = at - dt.timedelta(seconds=1)
        fields.append("starts_at")
    silence.ends_at = at
    silence.save(update_fields=fields)
    return silence


def alert_evaluations_purge(*, older_than: dt.datetime | None = None) -> int:
    """Delete evaluation log rows older than ALERT_EVALUATION_RETENTION_DAYS (or
    `older_than`); idempotent. Returns the number deleted."""
    from django.conf import settings

    if older_than is None:
        days = getattr(settings, "ALERT_EVALUATION_RETENTION_DAYS", 90)
        older_than = timezone.now() - dt.timedelta(days=days)
    deleted, _by_model = AlertEvaluation.objects.filter(evaluated_at__lt=older_than).delete()
    return deleted


# --- replay (backtesting) ----------------------------------------------------------------


def alert_rule_replay(*, rule: AlertRule, start: dt.date, end: dt.date) -> list[dict]:
    """Evaluate `rule` as of every period boundary in (start, end] (each tests the
    period just before it), writing nothing; one row per period and member with the
    decision, value, baseline and limits."""
    if start >= end:
        raise ApplicationError(_("The end must be after the start."), errors={"end": [_("After the start.")]})
    boundary = grain_next(grain_floor(start, rule.grain), rule.grain)
    if (end - start).days > 3660 or (rule.grain == "day" and (end - start).days > 730):
        raise ApplicationError(_("The range is too long to replay."), errors={"start": [_("Too long.")]})
    out = []
    while boundary <= end:
        for member, d in alert_rule_decisions(rule=rule, as_of=boundary):
            out.append(
                {
                    "as_of": boundary.isoformat(),
                    "period_start": d["period_start"].isoformat() if d["period_start"] else None,
                    "member": member,
                    "decision": d["decision"],
                    "value": d["value"],
                    "baseline": d["baseline"],
                    "lcl": d["lcl"],
                    "ucl": d["ucl"],
                }
            )
        boundary = grain_next(boundary, rule.grain)
    return out


# --- the default rule set ------------------------------------------------------------------

QE = ["quality_engineer"]
DEFAULT_ALERT_RULES: tuple[dict, ...] = (
    {
        "code": "complaint-rate-rise",
        "name": "Complaint rate rise",
        "description": "More complaints in a region's month than its rate of the six months before makes likely "
        "(Poisson, at least 10 complaints): a jump, not the slow drift of every region.",
        "kind": AlertKind.ANOMALY,
        "kpi": "complaint_rate",
        "split_by": "region",
        "grain": "month",
        "params": {"method": "poisson", "baseline_periods": 6, "min_baseline": 3, "min_count": 10, "alpha": 0.001},
        "severity": AlertSeverity.WARNING,
        "schedule": AlertSchedule.DAILY,
    },
    {
        "code": "csat-drop",
        "name": "CSAT drop",
        "description": "A team's CSAT down more than 10 % on its mean of the three months before.",
        "kind": AlertKind.TREND,
        "kpi": "csat",
        "split_by": "team",
        "grain": "month",
        "params": {"mode": "previous", "pct": 10, "baseline_periods": 3, "min_denominator": 30},
        "severity": AlertSeverity.WARNING,
        "schedule": AlertSchedule.DAILY,
    },
    {
        "code": "response-time-rise",
        "name": "First response slower",
        "description": "A team's mean first-response time over the last two weeks more than 2.5 times that of "
        "the other teams together; it keeps firing while the team stays slower.",
        "kind": AlertKind.TREND,
        "kpi": "first_response_hours",
        "split_by": "team",
        "grain": "week",
        "params": {"mode": "members", "pct": 150, "window_periods": 2, "min_denominator": 10, "min_members": 2},
        "severity": AlertSeverity.WARNING,
        "schedule": AlertSchedule.DAILY,
    },
    {
        "code": "repeat-failure-cluster",
        "name": "Cluster of repeat failures",
        "description": "More repeat failures of a product model than its last 12 months make likely (Poisson).",
        "kind": AlertKind.ANOMALY,
        "kpi": "repeat_failure_rate",
        "split_by": "product_model",
        "grain": "month",
        "params": {"method": "poisson", "baseline_periods": 12, "min_count": 5, "alpha": 0.001},
        "severity": AlertSeverity.WARNING,
        "schedule": AlertSchedule.DAILY,
    },
    {
        "code": "batch-failure-anomaly",
        "name": "Batch failure anomaly",
        "description": "A batch's failures over the last 52 weeks beyond what the pooled rate of the other "
        "batches of its product model makes likely (Poisson on unit-weeks in service, at least 5 failures).",
        "kind": AlertKind.ANOMALY,
        "kpi": "failures_per_1000",
        "split_by": "batch",
        "grain": "week",
        "params": {
            "method": "poisson",
            "compare": "members",
            "group_by": "product_model",
            "window_periods": 52,
            "min_members": 3,
            "min_count": 5,
            "alpha": 0.0001,
        },
        "severity": AlertSeverity.CRITICAL,
        "schedule": AlertSchedule.DAILY,
    },
    {
        "code": "sla-breaches",
        "name": "SLA breaches",
        "description": "A team with 10 or more SLA breaches in a week.",
        "kind": AlertKind.PROCESS,
        "split_by": "team",
        "grain": "week",
        "params": {"check": "sla_breaches", "count": 10},
        "severity": AlertSeverity.WARNING,
        "schedule": AlertSchedule.HOURLY,
    },
    {
        "code": "stuck-tickets",
        "name": "Tickets stuck waiting for the customer",
        "description": "Tickets waiting for the customer more than 40 business hours.",
        "kind": AlertKind.PROCESS,
        "split_by": "team",
        "grain": "day",
        "params": {"check": "stuck", "status": "waiting_customer", "business_hours": 40, "count": 1},
        "severity": AlertSeverity.INFO,
        "schedule": AlertSchedule.HOURLY,
    },
    {
        "code": "overdue-actions",
        "name": "Overdue improvement actions",
        "description": "Improvement actions past their due date (needs the improvements app).",
        "kind": AlertKind.PROCESS,
        "split_by": "",
        "grain": "day",
        "params": {"check": "overdue_actions", "count": 1},
        "severity": AlertSeverity.WARNING,
        "schedule": AlertSchedule.DAILY,
        "active": False,
    },
)


def alert_rules_install_defaults(*, rule_model=None, refresh: bool = False) -> int:
    """Create the default rules that are missing (by code); existing ones are left as
    they are unless `refresh` (then their condition, target and texts are reset to the
    shipped definition; recipients and channels stay). `rule_model` is the historical
    model in a data migration. Returns the number created or refreshed."""
    model = rule_model or AlertRule
    changed = 0
    for spec in DEFAULT_ALERT_RULES:
        fields = {k: v for k, v in spec.items() if k != "code"}
        fields = {"recipient_roles": QE, "channels": ["in_app", "email"], **fields}
        fields = {k: (str(v) if k in ("kind", "severity", "schedule") else v) for k, v in fields.items()}
        rule, was_created = model.objects.get_or_create(code=spec["code"], defaults=fields)
        changed += was_created
        if refresh and not was_created:
            kept = ("recipient_roles", "channels", "active")
            updates = {k: v for k, v in fields.items() if k not in kept}
            for name, value in updates.items():
                setattr(rule, name, value)
            rule.updated_at = timezone.now()
            rule.save(update_fields=[*updates, "updated_at"])
            changed += 1
    return changed
