"""Every figure of the management quality report, read through the same selectors the
dashboards and the API use (the KPI overview and values, the reliability analyses, the
alert, recall and improvement selectors), so a number in the PDF equals the number on
screen for the same period and filters. Nothing here loops over records: the engine
and the selectors group in the database; the loops below run over grouped rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError
from catalog.roles import ADMIN, user_has_global_read
from improvements.models import Action, ImprovementIssue, State
from improvements.selectors import ACTIVE_ACTION, issues_for_user
from quality.alert_selectors import OPEN_STATUSES, alerts_for_user
from quality.analysis.reports import nevada_chart
from quality.analysis.scope import AnalysisScope
from quality.kpi.catalogue import FAILURE_DIMS, SURVEY_DIMS, TICKET_DIMS
from quality.kpi.periods import grain_floor, grain_next, grain_previous, local_midnight
from quality.kpi.registry import DIMENSIONS, kpi_lookup, kpi_registry
from quality.models import Alert, Failure, FailureMode, Recall, RecallState
from quality.recall_selectors import recall_completion
from quality.selectors import kpi_catalogue, kpi_overview, kpi_values
from tickets.models import Survey, Ticket

# The dashboard filter bar's dimensions (quality.views.FILTER_DIMS).
REPORT_FILTERS = ("region", "product_line", "product_model", "channel", "team")
HEADLINE_KPIS = ("csat", "first_response_hours", "failures_per_1000", "sla_compliance")
# How many periods of the summary grain the sparklines (and trend charts) cover.
SPARK_PERIODS = {"day": 14, "week": 12, "month": 12, "quarter": 8, "year": 5}
PARETO_MODES = 10
TOP_BATCHES = 10
TOP_ALERTS = 10
NEVADA_ROWS = 18  # sale months (the latest), what fits across a page
NEVADA_COLS = 18  # months in service 0..17
CURVE_RECALLS = 5
CLOSED_STATES = (State.CLOSED, State.REJECTED, State.CANCELLED)
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


class _SystemReader:
    """Who reads when no user is given (the command, a system job): everything, as the
    global-read roles do. catalog.roles reads `_role_cache` before any query."""

    is_authenticated = True
    is_superuser = True
    pk = None
    _role_cache = frozenset({ADMIN})

    def get_username(self) -> str:
        return ""


def report_filters_check(filters: Mapping[str, str] | None) -> dict[str, str]:
    """The dashboard's filters, validated: only the filter bar's dimensions, non-empty."""
    filters = {k: str(v).strip() for k, v in (filters or {}).items() if str(v).strip()}
    unknown = sorted(d for d in filters if d not in REPORT_FILTERS)
    if unknown:
        message = _("Unknown filter: %(dims)s; use %(known)s.") % {
            "dims": ", ".join(unknown)[:200],
            "known": ", ".join(REPORT_FILTERS),
        }
        raise ApplicationError(message, errors={"filters": [message]})
    return filters


def report_period_check(start: dt.date, end: dt.date) -> None:
    if end <= start:
        message = _("The end date must be after the start date.")
        raise ApplicationError(message, errors={"end": [message]})


def summary_grain(start: dt.date, end: dt.date) -> tuple[str, bool]:
    """The grain whose one period is exactly [start, end) (the summary then gives the
    value of the whole period and its change against the period before, of the same
    length), else ("month", False): the dashboard's reading of a longer range, the last
    month of it against the month before."""
    for grain in ("month", "quarter", "year", "week", "day"):
        if grain_floor(start, grain) == start and grain_next(start, grain) == end:
            return grain, True
    return "month", False


def _back(day: dt.date, grain: str, periods: int) -> dt.date:
    for _i in range(periods):
        day = grain_previous(day, grain)
    return day


def _mode_names() -> dict[str, tuple[str, str]]:
    return {code: (en, zh) for code, en, zh in FailureMode.objects.values_list("code", "name_en", "name_zh")}


def _applicable(kpi, filters: Mapping[str, str], visible: set[str]) -> bool:
    """Shown with a value: the user may see the KPI (a team-scoped user only those
    whose records reach a ticket) and it has every filtered dimension."""
    return kpi.code in visible and all(d in kpi.dims for d in filters)


def _summary(*, reader, grain: str, single: bool, start: dt.date, end: dt.date, filters: dict) -> dict:
    """The dashboard's overview cards: one call of the function behind the overview
    endpoint, over the sparkline's periods ending with the report's."""
    last = grain_floor(end - dt.timedelta(days=1), grain)
    spark_start = _back(last, grain, SPARK_PERIODS[grain] - 1)
    if not single:
        spark_start = min(spark_start, grain_floor(start, grain))
    overview = kpi_overview(user=reader, grain=grain, start=spark_start, end=end, filters=filters)
    return overview


def _trends(*, reader, start: dt.date, end: dt.date, filters: dict, visible: set[str]) -> list[dict]:
    """The headline KPIs by month with their targets, over at least the last 12 months."""
    last = grain_floor(end - dt.timedelta(days=1), "month")
    trend_start = min(grain_floor(start, "month"), _back(last, "month", 11))
    out = []
    for code in HEADLINE_KPIS:
        kpi = kpi_lookup(code)
        if kpi is None:
            continue
        entry = {"code": code, "name": kpi.name, "unit": kpi.unit, "unit_name": kpi.unit_name, "rows": []}
        entry["applicable"] = _applicable(kpi, filters, visible)
        if entry["applicable"]:
            body = kpi_values(user=reader, kpi=kpi, grain="month", start=trend_start, end=end, filters=filters)
            entry["rows"] = body["rows"]
            entry["source"] = body["source"]
        out.append(entry)
    return out


def _pareto(*, reader, start: dt.date, end: dt.date, filters: dict, visible: set[str], names) -> dict:
    """Failures in the period by failure mode: the numerator of failures_per_1000 broken
    down by failure mode (the engine, with the dashboard's filters), summed over the
    months (a count adds up), most first, with the cumulative share."""
    kpi = kpi_lookup("failures_per_1000")
    if kpi is None or not _applicable(kpi, filters, visible):
        return {"applicable": False, "rows": [], "total": 0, "other": 0}
    body = kpi_values(user=reader, kpi=kpi, grain="month", start=start, end=end, by=("failure_mode",), filters=filters)
    counts: dict[str, int] = {}
    for row in body["rows"]:
        counts[row["failure_mode"]] = counts.get(row["failure_mode"], 0) + int(row["numerator"] or 0)
    ordered = sorted(((n, code) for code, n in counts.items() if n), key=lambda p: (-p[0], p[1]))
    total = sum(n for n, _code in ordered)
    rows, running = [], 0
    for n, code in ordered:
        running += n
        en, zh = names.get(code, (code, ""))
        rows.append(
            {
                "code": code,
                "name_en": en,
                "name_zh": zh or en,
                "failures": n,
                "share": 100.0 * n / total,
                "cumulative_share": 100.0 * running / total,
            }
        )
    shown = rows[:PARETO_MODES]
    return {"applicable": True, "rows": shown, "total": total, "other": total - sum(r["failures"] for r in shown)}


def _batches(*, reader, grain: str, start: dt.date, end: dt.date, filters: dict, visible: set[str]) -> dict:
    """failures_per_1000 by batch for the summary period (the engine, with the
    dashboard's filters): the batches with the most failures."""
    kpi = kpi_lookup("failures_per_1000")
    if kpi is None or not _applicable(kpi, filters, visible):
        return {"applicable": False, "rows": [], "target": None}
    last = grain_floor(end - dt.timedelta(days=1), grain)
    lo = max(start, last)
    body = kpi_values(user=reader, kpi=kpi, grain=grain, start=lo, end=end, by=("batch",), filters=filters)
    rows = [r for r in body["rows"] if r["numerator"]]
    rows.sort(key=lambda r: (-(r["numerator"] or 0), -(r["value"] or 0), r["batch"]))
    return {"applicable": True, "rows": rows[:TOP_BATCHES], "target": kpi.target, "period_start": lo.isoformat()}


def _nevada(*, end: dt.date, filters: dict) -> dict:
    """The Nevada chart of the products in scope as of the report's last day, cut to
    the latest sale months and the first months in service (what fits a page)."""
    scope = AnalysisScope(product_line=filters.get("product_line", ""), product_model=filters.get("product_model", ""))
    chart = nevada_chart(scope=scope, as_of=end - dt.timedelta(days=1))
    rows = chart["rows"][-NEVADA_ROWS:]
    cols = min(chart["max_mis"] + 1, NEVADA_COLS)
    return {
        "rows": rows,
        "cols": cols,
        "cut_rows": len(chart["rows"]) - len(rows),
        "cut_cols": chart["max_mis"] + 1 - cols,
        "units": chart["units"],
        "failures": chart["failures"],
        "as_of": chart["as_of"],
    }


def _recalls(*, filters: dict, end: dt.date) -> list[dict]:
    """Every recall running in the period or after (launched, or closed on/after the
    start), limited to the products in scope, with its completion figures."""
    qs = Recall.objects.exclude(state__in=(RecallState.DRAFT,)).filter(opened_at__lt=local_midnight(end))
    if filters.get("product_line"):
        qs = qs.filter(batches__product_model__product_line__code=filters["product_line"])
    if filters.get("product_model"):
        qs = qs.filter(batches__product_model__code=filters["product_model"])
    running = Case(When(state=RecallState.LAUNCHED, then=Value(0)), default=Value(1), output_field=IntegerField())
    recalls = list(qs.distinct().annotate(running=running).order_by("running", "-opened_at", "code")[:12])
    now = min(timezone.now(), local_midnight(end))
    out = []
    for recall in recalls:
        figures = recall_completion(recall=recall, now=now)
        figures.pop("by_batch", None)
        out.append(
            {
                "code": recall.code,
                "title": recall.title,
                "state": recall.state,
                "state_label": str(recall.get_state_display()),
                "severity": recall.severity,
                "opened_at": recall.opened_at,
                **figures,
            }
        )
    return out


def _alerts(*, user, filters: dict) -> dict:
    """The open alerts in scope, most severe and most recent first. An alert matches the
    scope when its member agrees with every filter it names (a total alert always)."""
    qs = (
        alerts_for_user(user=user, status="open")
        if user is not None
        else Alert.objects.filter(status__in=OPEN_STATUSES).select_related("rule")
    )
    for dim, member in filters.items():
        qs = qs.filter(~Q(member__has_key=dim) | Q(**{f"member__{dim}": member}))
    rank = Case(
        *(When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()),
        default=Value(9),
        output_field=IntegerField(),
    )
    total = qs.count()
    by_severity = dict(qs.order_by().values_list("severity").annotate(n=Count("pk")))
    rows = list(qs.annotate(rank=rank).order_by("rank", "-last_fired_at", "-pk")[:TOP_ALERTS])
    return {"total": total, "by_severity": by_severity, "rows": rows}


def _improvements(*, user, filters: dict, end: dt.date) -> dict:
    """Open improvement issues by state and the overdue actions (as of the report's
    end or today, whichever is first), limited to the products in scope."""
    issues = issues_for_user(user) if user is not None else ImprovementIssue.objects.all()
    if filters.get("product_line"):
        issues = issues.filter(product_line__code=filters["product_line"])
    if filters.get("product_model"):
        issues = issues.filter(product_model__code=filters["product_model"])
    issues = issues.filter(detected_at__lt=local_midnight(end))
    by_state = dict(issues.exclude(state__in=CLOSED_STATES).order_by().values_list("state").annotate(n=Count("pk")))
    today = min(timezone.localdate(), end - dt.timedelta(days=1))
    overdue = Action.objects.filter(
        issue__in=issues.values("pk"), status__in=ACTIVE_ACTION, current_due_on__lt=today
    ).count()
    states = [
        {"state": state, "label": str(label), "count": by_state.get(state, 0)}
        for state, label in State.choices
        if state not in CLOSED_STATES
    ]
    return {"states": states, "open": sum(by_state.values()), "overdue_actions": overdue, "as_of": today}


def _definitions(visible: set[str]) -> list[dict]:
    return [
        {
            "code": k.code,
            "name": k.name,
            "category": k.category,
            "category_name": k.category_name,
            "unit_name": k.unit_name,
            "direction": k.direction,
            "target": k.target,
            "dims": list(k.dims),
            "definition": k.definition,
        }
        for k in kpi_registry().values()
        if k.code in visible
    ]


def quality_report_data(
    *,
    start: dt.date,
    end: dt.date,
    filters: Mapping[str, str] | None = None,
    user=None,
    grain: str | None = None,
    progress=None,
) -> dict:
    """The figures of the report for [start, end) and the dashboard's filters, read as
    `user` (None: everything). The executive summary is the dashboard's overview at
    the summary grain (see summary_grain), so value, target, status, change and
    sparkline equal the cards'. `progress(stage)` is called before each part."""
    report_period_check(start, end)
    filters = report_filters_check(filters)
    reader = user if user is not None else _SystemReader()
    single_grain, single = summary_grain(start, end)
    grain = grain or single_grain
    single = single and grain == single_grain
    step = progress or (lambda stage: None)
    visible = {k.code for k in kpi_catalogue(user=reader)}
    # Product reliability (Nevada, recalls) is for the global readers, as its pages are.
    reliability = user_has_global_read(reader)
    data = {"start": start, "end": end, "filters": filters, "grain": grain, "single": single}
    step("summary")
    data["summary"] = _summary(reader=reader, grain=grain, single=single, start=start, end=end, filters=filters)
    step("trends")
    data["trends"] = _trends(reader=reader, start=start, end=end, filters=filters, visible=visible)
    step("pareto")
    data["pareto"] = _pareto(reader=reader, start=start, end=end, filters=filters, visible=visible, names=_mode_names())
    step("batches")
    data["batches"] = _batches(reader=reader, grain=grain, start=start, end=end, filters=filters, visible=visible)
    step("nevada")
    data["nevada"] = _nevada(end=end, filters=filters) if reliability else None
    step("recalls")
    data["recalls"] = _recalls(filters=filters, end=end) if reliability else None
    step("alerts")
    data["alerts"] = _alerts(user=user, filters=filters)
    step("improvements")
    data["improvements"] = _improvements(user=user, filters=filters, end=end)
    data["definitions"] = _definitions(visible)
    data["dimension_names"] = {d: str(DIMENSIONS[d]) for d in REPORT_FILTERS}
    return data


def quality_scope_is_empty(*, start: dt.date, end: dt.date, filters: Mapping[str, str] | None = None) -> bool:
    """No ticket created, no failure occurred and no survey answered in [start, end) in
    scope (a filter applies to the records that have the dimension, as in the engine)."""
    report_period_check(start, end)
    filters = report_filters_check(filters)
    lo, hi = local_midnight(start), local_midnight(end)
    sets = (
        (Ticket, "created_at", TICKET_DIMS),
        (Failure, "occurred_at", FAILURE_DIMS),
        (Survey, "responded_at", SURVEY_DIMS),
    )
    for model, time, dims in sets:
        condition = Q(**{f"{time}__gte": lo, f"{time}__lt": hi})
        for dim, member in filters.items():
            if dim in dims:
                condition &= Q(**{dims[dim]: member})
        if model._default_manager.filter(condition).exists():
            return False
    return True
