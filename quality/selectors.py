"""Reads of the quality app: the KPI catalogue, values (stored snapshots first, the
live engine for anything not stored), drill-through records and the overview cards,
scoped to what a user may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.roles import user_has_global_read
from tickets.models import Team

from .analysis.scope import AnalysisScope
from .kpi.engine import KpiUsageError, kpi_compute, kpi_day_check, kpi_records, kpi_request_check
from .kpi.periods import GRAINS, Period, grain_floor, grain_next, grain_previous, periods_between
from .kpi.registry import CATEGORIES, DIMENSIONS, Kpi, kpi_lookup, kpi_registry
from .models import KpiRefreshState, KpiSnapshot, KpiTarget

SNAPSHOT_PLAN = "default"

# Data-quality scores come from the intake app, which sits above this one.
_DATA_QUALITY: list[Callable[[str], dict | None]] = []


def data_quality_provider_register(provider: Callable[[str], dict | None]) -> None:
    _DATA_QUALITY.append(provider)


def kpi_data_quality(kpi: Kpi) -> dict | None:
    """The data-quality score of the records behind a KPI (its numerator's record set)."""
    for provider in _DATA_QUALITY:
        found = provider(kpi.numerator.model)
        if found is not None:
            return found
    return None


# Scope


def kpi_scope_for(user) -> Callable[[str], Q] | None:
    """None for the global-read roles; else the Q keeping the tickets of the user's
    teams and those assigned to them (the same rule as the ticket queue)."""
    if user_has_global_read(user):
        return None
    teams = list(Team.objects.filter(members=user).values_list("pk", flat=True))

    def scope(path: str) -> Q:
        return Q(**{f"{path}team_id__in": teams}) | Q(**{f"{path}assignee_id": user.pk})

    return scope


def kpi_catalogue(*, user) -> list[Kpi]:
    kpis = list(kpi_registry().values())
    if user_has_global_read(user):
        return kpis
    return [k for k in kpis if k.scopable()]


def kpi_get(*, user, code: str) -> Kpi:
    kpi = kpi_lookup(code)
    if kpi is None or (not user_has_global_read(user) and not kpi.scopable()):
        raise Http404("No such KPI.")
    return kpi


# Targets


def kpi_target_for(kpi: Kpi, *, period_start: dt.date, dimension: str = "", member: str = "", targets=None):
    """The most specific target valid on period_start: the member's, else the KPI's,
    else the catalogue default."""
    targets = kpi_targets(kpi) if targets is None else targets
    for dim, mem in ((dimension, member), ("", "")):
        if dim == "" and mem != "":
            continue
        for target in targets:
            valid = target.valid_from <= period_start and (target.valid_to is None or period_start < target.valid_to)
            if target.dimension == dim and target.member == mem and valid:
                return target.value
    return kpi.target


def kpi_targets(kpi: Kpi, *, reads: dict | None = None) -> list[KpiTarget]:
    if reads is None:
        return list(KpiTarget.objects.filter(kpi=kpi.code).order_by("-valid_from", "-pk"))
    if "targets" not in reads:
        # One query for every KPI of a many-KPI read (the overview), in the same order.
        by_kpi: dict[str, list[KpiTarget]] = {}
        for target in KpiTarget.objects.order_by("-valid_from", "-pk"):
            by_kpi.setdefault(target.kpi, []).append(target)
        reads["targets"] = by_kpi
    return reads["targets"].get(kpi.code, [])


def _refresh_state(reads: dict | None) -> KpiRefreshState | None:
    if reads is None or "state" not in reads:
        state = KpiRefreshState.objects.filter(name=SNAPSHOT_PLAN).first()
        if reads is None:
            return state
        reads["state"] = state
    return reads["state"]


def kpi_status(kpi: Kpi, value: float | None, target: float | None) -> str | None:
    """met / near / missed by the KPI's direction; near is within KPI_NEAR_BAND of the
    target (a share of its size, at least 0.5 of the unit)."""
    if value is None or target is None:
        return None
    band = max(abs(target) * getattr(settings, "KPI_NEAR_BAND", 0.05), 0.5)
    gap = value - target if kpi.direction == "up" else target - value
    if gap >= 0:
        return "met"
    return "near" if -gap <= band else "missed"


def _with_targets(
    kpi: Kpi, rows: list[dict], by: Sequence[str], filters: Mapping[str, str], reads: dict | None = None
) -> list[dict]:
    targets = kpi_targets(kpi, reads=reads)
    if len(by) == 1:
        dimension = by[0]
    elif not by and len(filters) == 1:
        dimension = next(iter(filters))
    else:
        dimension = ""
    for row in rows:
        member = row.get(dimension) or filters.get(dimension, "") if dimension else ""
        period = dt.date.fromisoformat(row["period_start"])
        target = kpi_target_for(kpi, period_start=period, dimension=dimension, member=member, targets=targets)
        row["target"] = target
        row["status"] = kpi_status(kpi, row["value"], target)
    return rows


# Values


def _snapshot_rows(
    kpi: Kpi,
    *,
    grain: str,
    start: dt.date,
    end: dt.date,
    by: Sequence[str],
    filters: Mapping[str, str],
    reads: dict | None = None,
) -> list[dict] | None:
    """The stored rows when the snapshot covers the request exactly, else None."""
    if len(by) + len(filters) > 1 or kpi.custom:
        return None
    if grain_floor(start, grain) != start or grain_floor(end, grain) != end:
        return None  # a cut period is not stored
    state = _refresh_state(reads)
    plan = state.marks.get("plan", {}) if state is not None and state.covered_from else {}
    covered = state.marks.get("kpis") if state is not None else None
    if grain not in plan or (covered is not None and covered.get(kpi.code) != kpi.version):
        return None
    covered_to = dt.date.fromisoformat(state.marks["covered_to"][grain])
    if start < grain_floor(state.covered_from, grain) or end > covered_to:
        return None
    dimension = by[0] if by else (next(iter(filters)) if filters else "")
    if dimension and dimension not in plan[grain]:
        return None
    qs = KpiSnapshot.objects.filter(
        kpi=kpi.code, grain=grain, dimension=dimension, period_start__gte=start, period_start__lt=end
    )
    if filters:
        qs = qs.filter(member=filters[dimension])
    stored = list(qs.order_by("period_start", "member"))
    if any(s.definition_version != kpi.version for s in stored):
        return None
    rows = []
    for s in stored:
        row = {"period_start": s.period_start.isoformat()}
        if by:
            row[dimension] = s.member
        count_like = kpi.denominator is None
        row.update(
            value=_int_if_count(s.value, count_like and kpi.kind == "count"),
            numerator=_int_if_count(s.numerator, count_like or kpi.kind != "mean" and _integral(s.numerator)),
            denominator=None if s.denominator is None else _int_if_count(s.denominator, True),
            provisional=s.provisional,
        )
        rows.append(row)
    return rows


def _integral(value) -> bool:
    return value is not None and float(value).is_integer()


def _int_if_count(value, integral: bool):
    if value is None:
        return None
    return int(value) if integral and float(value).is_integer() else value


def kpi_values(
    *,
    user,
    kpi: Kpi,
    grain: str,
    start: dt.date,
    end: dt.date,
    by: Sequence[str] = (),
    filters: Mapping[str, str] | None = None,
    live: bool = False,
    reads: dict | None = None,
) -> dict:
    """INTERFACES.md's values body, plus the target and status of each row and where
    the rows came from (snapshot or live). `reads`: a dict shared by the calls of one
    many-KPI read (the overview), so the scope, the refresh state and the targets are
    read once, not once per KPI."""
    filters = dict(filters or {})
    by = tuple(by)
    kpi_request_check(kpi=kpi, grain=grain, start=start, end=end, by=by, filters=filters)
    if reads is None or "scope" not in reads:
        scope = kpi_scope_for(user) if user is not None else None
        if reads is not None:
            reads["scope"] = scope
    scope = reads["scope"] if reads is not None else scope
    rows = None
    if scope is None and not live:
        rows = _snapshot_rows(kpi, grain=grain, start=start, end=end, by=by, filters=filters, reads=reads)
    source = "snapshot" if rows is not None else "live"
    if rows is None:
        rows = kpi_compute(kpi=kpi, grain=grain, start=start, end=end, by=by, filters=filters, scope=scope)
    return {
        "kpi": kpi.code,
        "grain": grain,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "by": list(by),
        "filters": filters,
        "source": source,
        "rows": _with_targets(kpi, rows, by, filters, reads),
    }


def kpi_record_page(
    *,
    user,
    kpi: Kpi,
    side: str,
    grain: str,
    period_start: dt.date,
    start: dt.date | None = None,
    end: dt.date | None = None,
    filters: Mapping[str, str] | None = None,
):
    """(model label, columns, values queryset) of the records behind one value. The
    period is the grain period starting at period_start, cut by start/end if given."""
    filters = dict(filters or {})
    kpi_day_check(period_start=period_start, start=start, end=end)
    if grain not in GRAINS:
        kpi_request_check(kpi=kpi, grain=grain, start=period_start, end=period_start, by=(), filters=filters)
    label = grain_floor(period_start, grain)
    if label != period_start:
        message = _("period_start %(day)s is not the first day of a %(grain)s.") % {
            "day": period_start.isoformat(),
            "grain": GRAINS[grain][0],
        }
        raise KpiUsageError(message, errors={"period_start": [message]})
    lo = max(start or label, label)
    hi = min(end or grain_next(label, grain), grain_next(label, grain))
    kpi_request_check(kpi=kpi, grain=grain, start=lo, end=hi, by=(), filters=filters)
    return kpi_records(kpi=kpi, side=side, period=Period(label, lo, hi), filters=filters, scope=kpi_scope_for(user))


def kpi_overview(*, user, grain: str, start: dt.date, end: dt.date, filters: Mapping[str, str] | None = None) -> dict:
    """The overview cards: per KPI the last period of the range, the one before it,
    and a sparkline of every period; grouped by category."""
    filters = dict(filters or {})
    kpi_day_check(start=start, end=end)
    unknown = [d for d in filters if d not in DIMENSIONS]
    if unknown:
        message = _("Unknown dimension: %(dims)s.") % {"dims": ", ".join(unknown)[:200]}
        raise KpiUsageError(message, errors={"filters": [message]})
    periods = periods_between(start, end, grain) if start < end else []
    categories = {code: {"code": code, "name": str(names[0]), "kpis": []} for code, names in CATEGORIES.items()}
    if periods:
        # One period: widen to the one before, so the card can show the change.
        first = periods[0].start if len(periods) > 1 else grain_previous(periods[0].label, grain)
    reads: dict = {}
    for kpi in kpi_catalogue(user=user):
        card = {
            "code": kpi.code,
            "name": kpi.name,
            "unit": kpi.unit,
            "unit_name": kpi.unit_name,
            "direction": kpi.direction,
            "kind": kpi.kind,
            "applicable": all(d in kpi.dims for d in filters),
            "period_start": periods[-1].label.isoformat() if periods else None,
            "value": None,
            "numerator": None,
            "denominator": None,
            "previous": None,
            "change": None,
            "target": None,
            "status": None,
            "provisional": False,
            "sparkline": [],
            "data_quality": kpi_data_quality(kpi),
        }
        if card["applicable"] and periods:
            values = kpi_values(user=user, kpi=kpi, grain=grain, start=first, end=end, filters=filters, reads=reads)
            by_period = {row["period_start"]: row for row in values["rows"]}
            last = by_period.get(periods[-1].label.isoformat())
            previous = by_period.get(grain_previous(periods[-1].label, grain).isoformat())
            if last:
                card.update({k: last[k] for k in ("value", "numerator", "denominator", "target", "status")})
                card["provisional"] = last["provisional"]
            else:
                card["target"] = kpi_target_for(
                    kpi, period_start=periods[-1].label, targets=kpi_targets(kpi, reads=reads)
                )
            if previous:
                card["previous"] = previous["value"]
            if card["value"] is not None and card["previous"] is not None:
                card["change"] = card["value"] - card["previous"]
            card["sparkline"] = [
                {"period_start": p.label.isoformat(), "value": by_period.get(p.label.isoformat(), {}).get("value")}
                for p in periods
            ]
        categories[kpi.category]["kpis"].append(card)
    return {
        "grain": grain,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "filters": filters,
        "generated_at": timezone.now().isoformat(),
        "categories": [c for c in categories.values() if c["kpis"]],
    }


# ---------------------------------------------------------------------------
# Reliability analytics (issue 6, H6a): the database reads behind the Weibull,
# Kaplan-Meier, Nevada, forecast and Pareto analyses (quality/analysis/*).
# Lifetimes are in months in service = days / 30.4375, from the sale date (local
# midnight) to a unit's FIRST failure; units without a failure by the as-of date are
# suspended at their age then. One query per scope.

MONTH_DAYS = 30.4375


def analysis_scope(
    *, product_line: str = "", product_model: str = "", batch: str = "", component: str = ""
) -> AnalysisScope:
    """A validated scope; an unknown code is a 400 naming the field."""
    from catalog.exceptions import ApplicationError
    from catalog.models import Batch, Component, ProductLine, ProductModel

    scope = AnalysisScope(
        product_line=(product_line or "").strip(),
        product_model=(product_model or "").strip(),
        batch=(batch or "").strip(),
        component=(component or "").strip(),
    )
    checks = {"product_line": ProductLine, "product_model": ProductModel, "batch": Batch, "component": Component}
    for field, model in checks.items():
        code = getattr(scope, field)
        if code and not model.objects.filter(code=code).exists():
            message = _("No %(field)s with code “%(code)s”.") % {"field": field.replace("_", " "), "code": code[:64]}
            raise ApplicationError(message, errors={field: [message]})
    return scope


def _as_of_end(as_of: dt.date) -> dt.datetime:
    # Data "as of" a day includes that whole (local) day.
    return dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=timezone.get_current_timezone())


def analysis_lifetimes(*, scope: AnalysisScope, as_of: dt.date, group_by: str = "") -> dict:
    """{"failures", "suspensions"} in months (numpy arrays) for the sold units of a
    scope, plus "failure_groups"/"suspension_groups" (the `group_by` value of each,
    e.g. "batch__code") and "excluded" (units whose lifetime is not > 0: a failure
    dated before the sale)."""
    import numpy as np
    from django.db.models import Min

    from catalog.models import Unit

    end = _as_of_end(as_of)
    first = Min("failures__occurred_at", filter=Q(failures__occurred_at__lt=end) & scope.failures_q("failures__"))
    fields = ["sold_on", "first", *([group_by] if group_by else [])]
    rows = list(
        Unit.objects.filter(scope.units_q(), sold_on__isnull=False, sold_on__lte=as_of)
        .annotate(first=first)
        .values_list(*fields)
    )
    zone = timezone.get_current_timezone()
    midnight = {d: dt.datetime.combine(d, dt.time(), tzinfo=zone).timestamp() for d in {r[0] for r in rows}}
    sold = np.array([midnight[r[0]] for r in rows], dtype=float)
    failed = np.array([r[1] is not None for r in rows], dtype=bool)
    stop = np.array([r[1].timestamp() if r[1] is not None else end.timestamp() for r in rows], dtype=float)
    months = (stop - sold) / 86400.0 / MONTH_DAYS
    groups = np.array([r[2] or "" for r in rows], dtype=object) if group_by else np.empty(len(rows), dtype=object)
    valid = months > 0
    return {
        "failures": months[failed & valid],
        "suspensions": months[~failed & valid],
        "failure_groups": groups[failed & valid],
        "suspension_groups": groups[~failed & valid],
        "excluded": int(np.count_nonzero(~valid)),
    }


def analysis_nevada_counts(*, scope: AnalysisScope, as_of: dt.date, basis: str = "sale", count: str = "all") -> dict:
    """Units per sale (or production) month and failures per (that month, failure
    month), both grouped in the database. count="first" keeps only each unit's first
    failure of the scope."""
    from django.db.models import Count, Exists, OuterRef
    from django.db.models.functions import TruncMonth

    from catalog.models import Unit

    from .models import Failure

    field = "sold_on" if basis == "sale" else "batch__produced_on"
    units = (
        Unit.objects.filter(
            scope.units_q(), Q(**{f"{field}__isnull": False}), sold_on__isnull=False, sold_on__lte=as_of
        )
        .annotate(month=TruncMonth(field))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    )
    failures = Failure.objects.filter(
        scope.units_q("unit__"),
        scope.failures_q(),
        Q(**{f"unit__{field}__isnull": False}),
        unit__sold_on__isnull=False,
        unit__sold_on__lte=as_of,
        occurred_at__lt=_as_of_end(as_of),
    )
    if count == "first":
        earlier = Failure.objects.filter(
            scope.failures_q(), unit=OuterRef("unit"), occurred_at__lt=OuterRef("occurred_at")
        )
        failures = failures.filter(~Exists(earlier))
    cells = (
        failures.annotate(month=TruncMonth(f"unit__{field}"), failed=TruncMonth("occurred_at"))
        .values("month", "failed")
        .annotate(n=Count("pk"))
        .order_by("month", "failed")
    )
    return {
        "units": {row["month"].strftime("%Y-%m"): row["n"] for row in units},
        "cells": [(row["month"].strftime("%Y-%m"), row["failed"].strftime("%Y-%m"), row["n"]) for row in cells],
    }


def analysis_pareto(
    *, scope: AnalysisScope, start: dt.date | None = None, end: dt.date | None = None, as_of: dt.date | None = None
) -> list[dict]:
    """Failures of a scope by failure mode (GROUP BY in the database), most first, with
    each mode's share and the cumulative share in %."""
    from django.db.models import Count, Sum

    from .models import Failure

    zone = timezone.get_current_timezone()
    qs = Failure.objects.filter(scope.units_q("unit__"), scope.failures_q())
    if start:
        qs = qs.filter(occurred_at__gte=dt.datetime.combine(start, dt.time(), tzinfo=zone))
    if end:
        qs = qs.filter(occurred_at__lt=dt.datetime.combine(end, dt.time(), tzinfo=zone))
    if as_of:
        qs = qs.filter(occurred_at__lt=_as_of_end(as_of))
    rows = list(
        qs.values("failure_mode__code", "failure_mode__name_en", "failure_mode__name_zh")
        .annotate(failures=Count("pk"), units=Count("unit", distinct=True), parts_cost=Sum("parts_cost"))
        .order_by("-failures", "failure_mode__code")
    )
    total = sum(r["failures"] for r in rows)
    running = 0
    result = []
    for r in rows:
        running += r["failures"]
        result.append(
            {
                "code": r["failure_mode__code"],
                "name_en": r["failure_mode__name_en"],
                "name_zh": r["failure_mode__name_zh"],
                "failures": r["failures"],
                "units": r["units"],
                "parts_cost": float(r["parts_cost"] or 0),
                "share": 100.0 * r["failures"] / total,
                "cumulative_share": 100.0 * running / total,
            }
        )
    return result


def analysis_batches(*, product_model: str) -> list[dict]:
    from catalog.models import Batch

    return list(
        Batch.objects.filter(product_model__code=product_model)
        .order_by("produced_on", "code")
        .values("code", "produced_on", "quantity")
    )


# Failures and traceability (issue 6): the reads of the failures list, unit history and
# the traceability pages live in quality/trace_selectors.py (self-contained; it imports
# kpi_scope_for from here, so nothing of it is re-exported).
