"""The one KPI engine: every value is a GROUP BY in the database (conditional aggregates,
correlated subqueries), never a loop over records. Python only carries the aggregated
buckets forward (running totals of stock measures) and divides."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db import connections
from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError

from .periods import (
    GRAINS,
    Period,
    as_label,
    grain_floor,
    grain_next,
    kpi_zone,
    local_midnight,
    periods_between,
    truncate,
)
from .registry import NONE_MEMBER, RECORD_FIELDS, Difference, Kpi, Measure

Scope = Callable[[str], Q]  # ticket path -> the Q that keeps a user's tickets
MAX_PERIODS = 5000


# The dates the period arithmetic can step past at every grain and in every zone.
FIRST_DAY = dt.date(1000, 1, 1)
LAST_DAY = dt.date(9999, 1, 1)


class KpiUsageError(ApplicationError):
    """A request the engine cannot answer (unknown grain, unsupported dimension, ...)."""


def _day_errors(days: Mapping[str, dt.date | None]) -> dict:
    message = _("%(day)s is out of range: use a date from %(first)s to %(last)s.")
    return {
        name: [message % {"day": day.isoformat(), "first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}]
        for name, day in days.items()
        if day is not None and not FIRST_DAY <= day <= LAST_DAY
    }


def kpi_day_check(**days: dt.date | None) -> None:
    """A usage error for a date outside [FIRST_DAY, LAST_DAY] (not a 500 in the arithmetic)."""
    errors = _day_errors(days)
    if errors:
        raise KpiUsageError(next(iter(errors.values()))[0], errors=errors)


def kpi_request_check(*, kpi: Kpi, grain: str, start: dt.date, end: dt.date, by: Sequence[str], filters: Mapping):
    errors = _day_errors({"start": start, "end": end})
    if grain not in GRAINS:
        errors["grain"] = [_("Unknown grain “%(grain)s”: choose one of %(grains)s.") % _choices(grain, GRAINS)]
    if start >= end:
        errors["end"] = [_("The end date must be after the start date (the end is exclusive).")]
    for name, dims in (("by", by), ("filters", filters)):
        unsupported = [d for d in dims if d not in kpi.dims]
        if unsupported:
            errors[name] = [
                _("%(kpi)s cannot be sliced by %(dims)s; it supports: %(supported)s.")
                % {"kpi": kpi.code, "dims": ", ".join(unsupported), "supported": ", ".join(kpi.dims) or "-"}
            ]
    if len(set(by)) != len(by):
        errors["by"] = [_("A dimension is listed twice.")]
    if not errors and grain == "day" and (end - start).days > MAX_PERIODS:
        errors["start"] = [_("Too many periods: at most %(n)d days at the day grain.") % {"n": MAX_PERIODS}]
    if errors:
        raise KpiUsageError(next(iter(errors.values()))[0], errors=errors)


def _choices(value, options) -> dict:
    return {"grain": str(value)[:20], "grains": ", ".join(options)}


def _member_q(path: str, member: str) -> Q:
    return Q(**{f"{path}__isnull": True}) if member == NONE_MEMBER else Q(**{path: member})


def _bounds(measure: Measure, start: dt.date, end: dt.date):
    if measure.is_date:
        return start, end
    return local_midnight(start), local_midnight(end)


def _base(measure: Measure, *, filters: Mapping[str, str], scope: Scope | None, where: Q | None = None) -> QuerySet:
    """The measure's records, filtered in ONE filter() call: across a to-many path (a
    unit's recalls) the member and the time conditions must hold on the same row."""
    condition = where if where is not None else Q()
    for dim, member in filters.items():
        if dim in measure.dims:  # a dimension a measure lacks does not filter it (METRICS.md)
            condition &= _member_q(measure.dims[dim], member)
    if scope is not None:
        condition &= scope(measure.ticket_path)
    return measure.model_class()._default_manager.filter(condition)


def _group_rows(measures: list[Measure], qs: QuerySet, paths: list[str], period: dict) -> list[dict]:
    aggregates = {f"m{i}": m.expression() for i, m in enumerate(measures)}
    if any(m.track_latest for m in measures):
        aggregates["latest"] = Max(measures[0].time)
    if not paths and not period:  # values() of nothing would mean every column
        return [qs.aggregate(**aggregates)]
    return list(qs.values(*paths, **period).annotate(**aggregates).order_by())


def _members(row: dict, paths: list[str]) -> tuple:
    return tuple(NONE_MEMBER if row[p] is None else str(row[p]) for p in paths)


def _series(
    measures: list[Measure],
    *,
    dims: Sequence[str],
    grain: str,
    periods: list[Period],
    filters: Mapping[str, str],
    scope: Scope | None,
) -> list[dict]:
    """One query (two for stock measures) for measures sharing a record set and time
    field: {(label, members): value} per measure, plus the latest time per key."""
    first = measures[0]
    paths = [first.dims[d] for d in dims if d in first.dims]
    lo, hi = _bounds(first, periods[0].start, periods[-1].end)
    window = Q(**{f"{first.time}__gte": lo, f"{first.time}__lt": hi})
    in_range = _base(first, filters=filters, scope=scope, where=window)
    rows = _group_rows(measures, in_range, paths, {"p": truncate(first.time, grain, is_date=first.is_date)})
    out = [{} for _m in measures]
    latest = {}
    if not first.stock:
        for row in rows:
            key = (as_label(row["p"]), _members(row, paths))
            for i, m in enumerate(measures):
                out[i][key] = m.convert(row[f"m{i}"] or 0)
            if "latest" in row:
                latest[key] = row["latest"]
        return [*out, latest]
    # Stock: the running total from everything before the range, period by period.
    before = _base(first, filters=filters, scope=scope, where=Q(**{f"{first.time}__lt": lo}))
    opening = _group_rows(measures, before, paths, {})
    running = defaultdict(lambda: [0] * len(measures))
    for row in opening:
        running[_members(row, paths)] = [row[f"m{i}"] or 0 for i in range(len(measures))]
    buckets = defaultdict(dict)
    for row in rows:
        buckets[as_label(row["p"])][_members(row, paths)] = [row[f"m{i}"] or 0 for i in range(len(measures))]
    for period in periods:
        for members, values in buckets.get(period.label, {}).items():
            running[members] = [a + b for a, b in zip(running[members], values, strict=True)]
        for members, values in running.items():
            for i, m in enumerate(measures):
                out[i][(period.label, members)] = m.convert(values[i])
    return [*out, latest]


def _compute_measures(measures, **kwargs) -> dict[Measure, tuple[dict, dict]]:
    """Each distinct measure once; measures sharing a query key share one query."""
    groups: dict[tuple, list[Measure]] = defaultdict(list)
    for m in measures:
        key = m.query_key(tuple(kwargs["dims"]))
        if m not in groups[key]:
            groups[key].append(m)
    results = {}
    for group in groups.values():
        *series, latest = _series(group, **kwargs)
        for m, values in zip(group, series, strict=True):
            results[m] = (values, latest)
    return results


def _number(value):
    if value is None:
        return None
    return value if isinstance(value, int) else float(value)


def kpi_compute(
    *,
    kpi: Kpi,
    grain: str,
    start: dt.date,
    end: dt.date,
    by: Sequence[str] = (),
    filters: Mapping[str, str] | None = None,
    scope: Scope | None = None,
    now: dt.datetime | None = None,
) -> list[dict]:
    """Rows of one KPI as METRICS.md and INTERFACES.md define them, sorted by period,
    then by member. A combination with no records is omitted unless it has a
    denominator; denominator 0 gives value None."""
    filters = dict(filters or {})
    by = tuple(by)
    kpi_request_check(kpi=kpi, grain=grain, start=start, end=end, by=by, filters=filters)
    periods = periods_between(start, end, grain)
    computed = _compute_measures(kpi.measures(), dims=by, grain=grain, periods=periods, filters=filters, scope=scope)
    return _kpi_rows(kpi, by, computed, now or timezone.now())


def _kpi_rows(
    kpi: Kpi, by: tuple[str, ...], computed: dict[Measure, tuple[dict, dict]], now: dt.datetime
) -> list[dict]:
    """The rows of one KPI from its measures' values {(label, members): value}."""
    num = kpi.numerator
    den = kpi.denominator
    if isinstance(num, Difference):
        plus, minus = computed[num.plus][0], computed[num.minus][0]
        num_values = {key: value - minus.get(key, 0) for key, value in plus.items() if value}
    else:
        num_values = computed[num][0]
    den_values = computed[den][0] if den is not None else {}
    latest = {}
    for m, (_values, times) in computed.items():
        if m.track_latest:
            latest.update(times)
    den_dims = [i for i, d in enumerate(by) if den is not None and d in den.dims]
    keys = set(num_values)
    if den is not None and len(den_dims) == len(by):
        keys |= set(den_values)

    window = kpi.provisional_window() if kpi.provisional_window else None
    rows = []
    for key in sorted(keys):
        label, members = key
        # A missing key is a sum over no record: 0 in the measure's own type (0.0 h, not 0).
        numerator = num_values.get(key, 0 if isinstance(num, Difference) else num.convert(0))
        row = {"period_start": label.isoformat(), **dict(zip(by, members, strict=True))}
        if den is None:
            row.update(value=_number(numerator), numerator=_number(numerator), denominator=None)
            if not numerator and not isinstance(num, Difference):
                continue
        else:
            denominator = den_values.get((label, tuple(members[i] for i in den_dims)), 0)
            if not numerator and not denominator:
                continue
            value = None
            if denominator:
                value = float(numerator) / float(denominator)
                value *= kpi.scale if kpi.kind == "ratio" else 1
            row.update(value=value, numerator=_number(numerator), denominator=_number(denominator))
        last = latest.get(key)
        row["provisional"] = bool(window and last and last + window > now)
        rows.append(row)
    return rows


def kpi_measure_for(kpi: Kpi, side: str):
    if side == "numerator":
        return kpi.numerator
    if side == "denominator" and kpi.denominator is not None:
        return kpi.denominator
    message = _("%(kpi)s has no %(side)s; choose numerator or denominator.") % {"kpi": kpi.code, "side": side[:20]}
    raise KpiUsageError(message, errors={"side": [message]})


def kpi_records(
    *, kpi: Kpi, side: str, period: Period, filters: Mapping[str, str], scope: Scope | None = None
) -> tuple[str, dict[str, str], QuerySet]:
    """The records counted on one side of one value: the model label, the columns
    (name -> path) and a values() queryset keyed by path, ordered by pk."""
    measure = kpi_measure_for(kpi, side)
    lo, hi = period.bounds()
    if isinstance(measure, Difference):
        qs = _base(measure.plus, filters=filters, scope=scope, where=measure.records(hi))
        model = measure.plus.model
    else:
        lo, hi = _bounds(measure, period.start, period.end)
        window = Q(**{f"{measure.time}__lt": hi})
        if not measure.stock:
            window &= Q(**{f"{measure.time}__gte": lo})
        qs = _base(measure, filters=filters, scope=scope, where=window & measure.condition())
        model = measure.model
    fields = RECORD_FIELDS.get(model, {"id": "pk"})
    return model, fields, qs.order_by("pk").values(*dict.fromkeys(fields.values()))


# Many KPIs at once: the snapshot refresh.


def kpi_compute_plan(
    kpis: Sequence[Kpi],
    *,
    plan: Mapping[str, Sequence[str]],
    starts: Mapping[str, dt.date],
    today: dt.date,
    now: dt.datetime,
    rebuild: bool = False,
) -> dict[tuple[str, str, str], list[dict]]:
    """The rows kpi_compute gives for every KPI, grain of the plan and dimension
    ("" = the total) over [floor(start), end of today's period), `start` being the
    KPI's own in `starts`: {(kpi, grain, dim): rows}.

    The same values, fewer scans. Additive measures (counts, exact sums, linear
    combinations of counts) go through the day x dimension cube (KpiCube): the days
    from their first start are recomputed from the records (all history when the
    cube's key is new, or `rebuild`), and every period is a sum of cube rows, stock
    measures a running sum. The others (distinct counts, float sums, other custom
    aggregates) are computed from the records for the touched periods: the measures
    sharing a record set and time field are one query, and on PostgreSQL one query
    covers every grain and dimension (GROUPING SETS)."""
    cache: dict[dt.date, dict[str, list[Period]]] = {}

    def periods_from(start: dt.date) -> dict[str, list[Period]]:
        if start not in cache:
            cache[start] = {
                grain: periods_between(grain_floor(start, grain), grain_next(grain_floor(today, grain), grain), grain)
                for grain in plan
            }
        return cache[start]

    requests = [
        (kpi, grain, (dim,) if dim else ())
        for kpi in kpis
        if kpi.code in starts
        for grain, dims in plan.items()
        for dim in ["", *[d for d in dims if d in kpi.dims]]
    ]
    groups: dict[tuple, dict[Measure, None]] = defaultdict(dict)
    needs: dict[Measure, dict[tuple, None]] = defaultdict(dict)
    first: dict[Measure, dt.date] = {}
    for kpi, grain, by in requests:
        for m in kpi.measures():
            # User metrics get their own cube rows: defining one does not rebuild the catalogue's.
            key = (m.model, m.time, m.is_date, tuple(sorted(m.dims.items())), kpi.custom)
            groups[key][m] = None
            needs[m][(grain, tuple(d for d in by if d in m.dims))] = None
            first[m] = min(first.get(m, starts[kpi.code]), starts[kpi.code])
    # Distinct counts whose keys with no counted record may be left out (the rows are the
    # same: no KPI takes its keys from them alone): their condition can go in the WHERE,
    # so an index (type, created_at) serves it instead of a scan of every record.
    keyless: dict[Measure, bool] = {}
    for kpi in kpis:
        den = kpi.denominator
        covered = den is None or all(d in den.dims for d in kpi.dims)
        for m in kpi.measures():
            safe = m is den or covered
            keyless[m] = keyless.get(m, True) and safe and not m.stock and not m.track_latest
    bare = {m for m, safe in keyless.items() if safe and m.kind == "distinct"}
    computed = {}
    for members in groups.values():
        cubed, rest = _cube_split(list(members))
        if cubed:
            computed.update(_cube_sets(cubed, needs, first, periods_from, today=today, rebuild=rebuild))
        by_start: dict[dt.date, list[Measure]] = defaultdict(list)
        for m in rest:
            by_start[first[m]].append(m)
        for start, measures in by_start.items():
            computed.update(_compute_sets(measures, needs, periods_from(start), bare))
    out = {}
    for kpi, grain, by in requests:
        values = {m: computed[(m, grain, tuple(d for d in by if d in m.dims))] for m in kpi.measures()}
        # A measure shared with an earlier-starting KPI brings periods before this KPI's own.
        since = grain_floor(starts[kpi.code], grain).isoformat()
        rows = _kpi_rows(kpi, by, values, now)
        out[(kpi.code, grain, by[0] if by else "")] = [row for row in rows if row["period_start"] >= since]
    return out


def _compute_sets(measures: list[Measure], needs: Mapping[Measure, list[tuple]], periods, bare=frozenset()) -> dict:
    """{(measure, grain, dims): (values, latest)} for measures of one record set and time
    field. On PostgreSQL the additive measures share a query, and a distinct count or
    a custom aggregate gets its own (it cannot be hashed, or split into row values)."""
    if connections[measures[0].model_class()._default_manager.db].vendor == "postgresql":
        additive = [m for m in measures if m.kind in ("count", "sum")]
        batches = [additive, *([m] for m in measures if m.kind == "distinct")]
        batches.append([m for m in measures if m.kind not in ("count", "sum", "distinct")])
    else:
        batches = [measures]
    results = {}
    for batch in batches:
        if batch:
            sets = list(dict.fromkeys(s for m in batch for s in needs[m]))
            results.update(_compute_batch(batch, sets, periods, bare))
    return results


def _compute_batch(measures: list[Measure], sets: list[tuple], periods: Mapping[str, list[Period]], bare) -> dict:
    """Flow and stock measures share the in-range query; only the stock ones need the
    opening balance (everything before the range). The totals need no joins: they get
    their own scan unless it would cover about the same range as the sliced sets'."""
    first = measures[0]
    base = first.model_class()._default_manager.all()
    totals, sliced = [s for s in sets if not s[1]], [s for s in sets if s[1]]
    parts = [totals, sliced]
    if totals and sliced:
        (t_lo, t_hi), (s_lo, s_hi) = _span(totals, periods), _span(sliced, periods)
        if (s_hi - s_lo).days * 2 >= (t_hi - t_lo).days:
            parts = [sets]  # one scan serves both
    spans = [_span([s], periods) for s in sets]
    narrow = min(hi - lo for lo, hi in spans).days * 2 < max(hi - lo for lo, hi in spans).days
    if len(measures) == 1 and measures[0].kind == "distinct" and narrow:
        # A distinct count hashes (period, value) pairs per grain: each grain over its
        # own range (a day's grain the last days, not the year's) hashes far fewer.
        parts = [[s for s in sets if s[0] == grain] for grain in dict.fromkeys(g for g, _ds in sets)]
    stocks = [m for m in measures if m.stock]
    results = {}
    for part in parts:
        if not part:
            continue
        lo, hi = _bounds(first, *_span(part, periods))
        where, queried = Q(), measures
        if len(measures) == 1 and measures[0] in bare:  # the condition moves to the WHERE
            where, queried = measures[0].condition(), [replace(measures[0], where=Q())]
        in_range = base.filter(Q(**{f"{first.time}__gte": lo, f"{first.time}__lt": hi}) & where)
        grains = list(dict.fromkeys(grain for grain, _dims in part))
        trunc = {grain: truncate(first.time, grain, is_date=first.is_date) for grain in grains}
        path_sets = [(grain, tuple(first.dims[d] for d in dims)) for grain, dims in part]
        latest = first.time if any(m.track_latest for m in measures) else None
        rows = _grouped(in_range, trunc, queried, latest, path_sets)
        opening = {}
        if stocks:
            openings = list(dict.fromkeys((None, paths) for _grain, paths in path_sets))
            found = _grouped(base.filter(**{f"{first.time}__lt": lo}), {}, stocks, None, openings)
            index = {f"m{measures.index(m)}": f"m{j}" for j, m in enumerate(stocks)}
            opening = {
                paths: {row["k"]: {name: row[alias] for name, alias in index.items()} for row in found[(None, paths)]}
                for _none, paths in openings
            }
        for (grain, dims), (_grain, paths) in zip(part, path_sets, strict=True):
            series, times = _fold(measures, rows[(grain, paths)], opening.get(paths, {}), periods[grain])
            for m, values in zip(measures, series, strict=True):
                results[(m, grain, dims)] = (values, times)
    return results


def _span(sets: list[tuple], periods: Mapping[str, list[Period]]) -> tuple[dt.date, dt.date]:
    grains = {grain for grain, _dims in sets}
    return min(periods[g][0].start for g in grains), max(periods[g][-1].end for g in grains)


def _fold(measures: list[Measure], rows: list[dict], opening: dict, periods: list[Period]) -> tuple[list[dict], dict]:
    """_series' arithmetic over grouped rows: flows per period; stocks as the opening
    balance plus every earlier period (the query may start before this grain's range)."""
    labels = {p.label for p in periods}
    first_label = periods[0].label
    flows = [i for i, m in enumerate(measures) if not m.stock]
    stocks = [i for i, m in enumerate(measures) if m.stock]
    out = [{} for _m in measures]
    latest = {}
    running = defaultdict(lambda: [0] * len(stocks))
    for members, row in opening.items():
        running[members] = [row[f"m{i}"] or 0 for i in stocks]
    buckets = defaultdict(dict)
    for row in rows:
        label = as_label(row["p"])
        if stocks:
            values = [row[f"m{i}"] or 0 for i in stocks]
            if label < first_label:
                running[row["k"]] = [a + b for a, b in zip(running[row["k"]], values, strict=True)]
            elif label in labels:
                buckets[label][row["k"]] = values
        if label in labels:
            key = (label, row["k"])
            for i in flows:
                out[i][key] = measures[i].convert(row[f"m{i}"] or 0)
            if "latest" in row:
                latest[key] = row["latest"]
    if stocks:
        for period in periods:
            for members, values in buckets.get(period.label, {}).items():
                running[members] = [a + b for a, b in zip(running[members], values, strict=True)]
            for members, values in running.items():
                for j, i in enumerate(stocks):
                    out[i][(period.label, members)] = measures[i].convert(values[j])
    return out, latest


def _grouped(qs: QuerySet, trunc: Mapping, measures: list[Measure], latest: str | None, sets: list[tuple]) -> dict:
    """{(grain, paths): rows} for each grouping set (grain None: no period), a row being
    {"p": period, "k": members, "m0": ..., "latest": ...}. PostgreSQL: one query with
    GROUPING SETS; elsewhere one query per set, the engine's own."""
    aggs = {f"m{i}": m.expression() for i, m in enumerate(measures)}
    if latest:
        aggs["latest"] = Max(latest)
    vendor = connections[qs.db].vendor
    if vendor == "postgresql" and all(m.kind in ("count", "sum") for m in measures):
        return _grouping_sets(qs, trunc, measures, latest, sets)
    if vendor == "postgresql" and len(measures) == 1 and measures[0].kind == "distinct" and all(g for g, _p in sets):
        return _grouping_sets(qs, trunc, measures, latest, sets)
    if vendor == "postgresql" and len(sets) > 1:
        return _grouping_sets_direct(qs, trunc, aggs, sets)
    out = {}
    for grain, paths in sets:
        period = {"p": trunc[grain]} if grain else {}
        rows = _group_rows_of(qs, list(paths), period, aggs)
        out[(grain, paths)] = [{**row, "k": _members(row, list(paths)), "p": row.get("p")} for row in rows]
    return out


def _group_rows_of(qs: QuerySet, paths: list[str], period: dict, aggs: Mapping) -> list[dict]:
    if not paths and not period:
        return [qs.aggregate(**aggs)]
    return list(qs.values(*paths, **period).annotate(**aggs).order_by())


def _row_value(m: Measure):
    """The value a record adds to a count, sum or distinct count: the aggregate's
    FILTER becomes a CASE, so the condition is evaluated once per record."""
    condition = m.condition()
    value = Value(1) if m.kind == "count" else _resolve_field(m.field)
    if not condition:
        return value
    return Case(When(condition, then=value), default=None)


def _resolve_field(field):
    field = field() if callable(field) else field
    return F(field) if isinstance(field, str) else field


def _grouping_sets(
    qs: QuerySet, trunc: Mapping, measures: list[Measure], latest: str | None, sets: list[tuple]
) -> dict:
    """Each record's dimension members, periods and measure values once (a subquery
    the ORM writes), aggregated over every set at once. A distinct count groups by
    its value first, so both levels can hash."""
    paths = list(dict.fromkeys(p for _grain, ps in sets for p in ps))
    grains = [g for g in trunc if any(grain == g for grain, _ps in sets)]
    dims = [f"d{j}" for j in range(len(paths))]
    keys = dims + [f"p_{g}" for g in grains]
    columns = {f"d{j}": F(p) for j, p in enumerate(paths)}
    columns.update({f"p_{g}": trunc[g] for g in grains})
    columns.update({f"f{i}": _row_value(m) for i, m in enumerate(measures)})
    if latest:
        columns["t"] = F(latest)
    inner = qs.values(**columns).order_by()
    sql, params = inner.query.get_compiler(using=inner.db).as_sql()
    marker = f"GROUPING({', '.join(dims)})" if dims else "0"
    masks = {}
    clauses = []
    distinct = measures[0].kind == "distinct"
    for grain, ps in sets:
        members = ([f"p_{grain}"] if grain else []) + [f"d{paths.index(p)}" for p in ps] + (["f0"] if distinct else [])
        clauses.append("(" + ", ".join(members) + ")")
        masks[(grain, sum(1 << (len(paths) - 1 - j) for j, p in enumerate(paths) if p not in ps))] = (grain, ps)
    grouping = "GROUP BY GROUPING SETS (" + ", ".join(clauses) + ")"
    select = ", ".join([f"{marker} AS _g", *keys])
    if distinct:
        level = f"SELECT {select}, f0 FROM ({sql}) s {grouping}"  # noqa: S608 - our aliases, the ORM's SQL
        keyed = ", ".join(keys)
        sql = f"SELECT _g, {keyed}, COUNT(f0) AS m0 FROM ({level}) s2 GROUP BY _g, {keyed}"  # noqa: S608
    else:
        aggs = [f"{'SUM' if m.kind == 'sum' else 'COUNT'}(f{i}) AS m{i}" for i, m in enumerate(measures)]
        if latest:
            aggs.append("MAX(t) AS latest")
        sql = f"SELECT {select}, {', '.join(aggs)} FROM ({sql}) s {grouping}"  # noqa: S608
    out = {s: [] for s in sets}
    with connections[inner.db].cursor() as cursor:
        _tune(cursor)
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        for record in cursor.fetchall():
            row = dict(zip(names, record, strict=True))
            grain = next((g for g in grains if row[f"p_{g}"] is not None), None)
            grain_set = masks[(grain, row["_g"])]
            row["p"] = row[f"p_{grain}"] if grain else None
            row["k"] = tuple(
                NONE_MEMBER if row[f"d{paths.index(p)}"] is None else str(row[f"d{paths.index(p)}"])
                for p in grain_set[1]
            )
            out[grain_set].append(row)
    return out


def _grouping_sets_direct(qs: QuerySet, trunc: Mapping, aggs: Mapping, sets: list[tuple]) -> dict:
    """GROUPING SETS over the ORM's own aggregate query (its GROUP BY replaced), for
    aggregates that cannot be split into per-record values (custom ones)."""
    paths = list(dict.fromkeys(p for _grain, ps in sets for p in ps))
    grains = [g for g in trunc if any(grain == g for grain, _ps in sets)]
    query = qs.values(*paths, **{f"p_{g}": trunc[g] for g in grains}).annotate(**aggs).order_by()
    compiler = query.query.get_compiler(using=query.db)
    sql, params = compiler.as_sql()
    names = [alias for _expr, _sql, alias in compiler.select]
    expected = [f"p_{g}" for g in grains] + list(aggs)
    head, found, _tail = sql.rpartition(" GROUP BY ")
    if names[len(paths) :] != expected or not found or not head.startswith("SELECT "):
        raise RuntimeError("unexpected SQL for GROUPING SETS")  # pragma: no cover - Django changed
    params = params[: len(re.findall(r"(?<!%)%s", head))]
    columns = [compiler.select[j][1][0] for j in range(len(paths))]
    marker = f"GROUPING({', '.join(columns)}) AS _g, " if columns else "0 AS _g, "
    position = {p: j + 2 for j, p in enumerate(paths)}  # 1-based, after the marker
    position.update({g: len(paths) + k + 2 for k, g in enumerate(grains)})
    clauses, masks = [], {}
    for grain, ps in sets:
        members = ([position[grain]] if grain else []) + [position[p] for p in ps]
        clauses.append("(" + ", ".join(map(str, members)) + ")")
        masks[(grain, sum(1 << (len(paths) - 1 - j) for j, p in enumerate(paths) if p not in ps))] = (grain, ps)
    sql = "SELECT " + marker + head[len("SELECT ") :] + " GROUP BY GROUPING SETS (" + ", ".join(clauses) + ")"
    out = {s: [] for s in sets}
    with connections[query.db].cursor() as cursor:
        _tune(cursor)
        cursor.execute(sql, params)
        for record in cursor.fetchall():
            grain = next((g for k, g in enumerate(grains) if record[len(paths) + 1 + k] is not None), None)
            grain_set = masks[(grain, record[0])]
            row = {"p": record[len(paths) + 1 + grains.index(grain)] if grain else None}
            row["k"] = tuple(
                NONE_MEMBER if record[position[p] - 1] is None else str(record[position[p] - 1]) for p in grain_set[1]
            )
            row.update({alias: record[len(paths) + len(grains) + 1 + k] for k, alias in enumerate(aggs)})
            out[grain_set].append(row)
    return out


def _tune(cursor) -> None:
    """Inside a transaction (the refresh): no JIT (compiling these wide queries costs
    more than it saves), memory enough (KPI_REFRESH_WORK_MEM) that every grouping set hashes (the planner
    overestimates the groups by orders of magnitude, the tables stay small), and the
    scan and joins below the aggregate in parallel (the planner's default costs keep
    them on one core: about half the time on two)."""
    cursor.execute(
        "SELECT set_config('jit', 'off', true), set_config('work_mem', %s, true),"
        " set_config('hash_mem_multiplier', '10', true), set_config('parallel_setup_cost', '0', true),"
        " set_config('parallel_tuple_cost', '0', true)",
        [settings.KPI_REFRESH_WORK_MEM],
    )


# The day x dimension cube (KpiCube) of the additive measures: the snapshot refresh
# recomputes only the touched days from the records; every period is a sum of days.


def _cube_model():
    from quality.models import KpiCube  # the app's models load after this registry module

    return KpiCube


def _linear_counts(expression) -> list[tuple[int, Q | None]] | None:
    """A custom aggregate that is a sum or difference of plain counts of records (NPS:
    promoters minus detractors) as [(sign, condition)]; None for anything else."""
    if isinstance(expression, Count):
        source = expression.source_expressions[0]
        if expression.distinct or not (isinstance(source, F) and source.name == "pk"):
            return None
        return [(1, expression.filter)]
    if isinstance(expression, CombinedExpression) and expression.connector in ("+", "-"):
        lhs, rhs = _linear_counts(expression.lhs), _linear_counts(expression.rhs)
        if lhs is None or rhs is None:
            return None
        sign = 1 if expression.connector == "+" else -1
        return lhs + [(s * sign, condition) for s, condition in rhs]
    return None


def _cube_type(m: Measure, vendor: str) -> str | None:
    """How a measure's daily values add up to any period's value exactly: "int",
    "duration" (kept in microseconds) or "decimal"; None when they do not (distinct
    counts, float sums, other aggregates). Decimal sums only on PostgreSQL: SQLite adds
    decimals as floats, so a sum of daily sums could differ in the last bit."""
    if m.kind == "count":
        return "int"
    if m.kind == "custom":
        return "int" if _linear_counts(m.aggregate()) is not None else None
    if m.kind != "sum":
        return None
    qs = m.model_class()._default_manager.annotate(_v=_resolve_field(m.field))
    output = qs.query.annotations["_v"].output_field
    if isinstance(output, DurationField):
        return "duration"
    if isinstance(output, DecimalField):
        return "decimal" if vendor == "postgresql" else None
    if isinstance(output, IntegerField):
        return "int"
    return None


def _cube_value(m: Measure):
    """The value one record adds to the measure (NULL or 0: nothing)."""
    if m.kind != "custom":
        return _row_value(m)
    terms = [
        Case(When(condition, then=Value(sign)), default=Value(0)) if condition else Value(sign)
        for sign, condition in _linear_counts(m.aggregate())
    ]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return ExpressionWrapper(total, output_field=IntegerField())


def _cube_split(measures: list[Measure]) -> tuple[list[Measure], list[Measure]]:
    """(measures the cube serves, the others)."""
    vendor = connections[measures[0].model_class()._default_manager.db].vendor
    dims = list(measures[0].dims.values())
    if len(set(dims)) != len(dims):  # two dimensions on one path: one grouping set, two names
        return [], measures
    cubed = [m for m in measures if _cube_type(m, vendor) is not None]
    return cubed, [m for m in measures if m not in cubed]


def _cube_signature(m: Measure) -> str:
    """The SQL (and parameters) of the value a record adds: equal measures share a
    slot, and a changed definition or setting is a new signature."""
    qs = m.model_class()._default_manager.values(_v=_cube_value(m))
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    return f"{m.kind}|{sql}|{params!r}"


def _cube_sets(measures: list[Measure], needs: Mapping, first: Mapping, periods_from, *, today, rebuild: bool) -> dict:
    """{(measure, grain, dims): (values, latest)} of the measures of one record set and
    time field, from the cube: its rows for the days from the measures' first start are
    rebuilt from the records, then each grain is one GROUP BY of cube rows for all its
    dimensions (plus, for stock measures, one for the opening balances before the range)."""
    vendor = connections[measures[0].model_class()._default_manager.db].vendor
    slots: dict[str, list[Measure]] = defaultdict(list)
    for m in measures:
        slots[_cube_signature(m)].append(m)
    signatures = sorted(slots)
    size = _cube_model().CUBE_SLOTS
    results = {}
    for at in range(0, len(signatures), size):
        chunk = signatures[at : at + size]
        chunk_measures = [m for s in chunk for m in slots[s]]
        sets = list(dict.fromkeys(s for m in chunk_measures for s in needs[m]))
        dims = list(dict.fromkeys(d for _grain, ds in sets for d in ds))
        # Dimensions read by day or week need day rows for all history; the others
        # only month rows, plus day rows of the recent months (see _cube_build).
        fine = [d for d in dims if any(g in ("day", "week") and d in ds for g, ds in sets)]
        first_m = chunk_measures[0]
        tracked = any(m.track_latest for m in chunk_measures)
        types = [_cube_type(slots[s][0], vendor) for s in chunk]
        spec = [first_m.model, first_m.time, str(first_m.is_date), str(kpi_zone()), ",".join(dims), ",".join(fine)]
        head = "|".join(spec)
        key = hashlib.sha1("\n".join([head, str(tracked), *chunk]).encode()).hexdigest()  # noqa: S324 - a name
        start = min(first[m] for m in chunk_measures)
        Cube = _cube_model()
        # A key not in the cube yet (a new or changed definition): from all history.
        # (Ordered like the index: a plain LIMIT 1 may seq-scan to rows written last.)
        found = Cube.objects.filter(key=key).order_by("key", "span", "dimension", "day").values_list("pk")[:1]
        built = not rebuild and bool(list(found))
        cube = _CubeKey(key, [slots[s][0] for s in chunk], types, dims, fine, tracked)
        _cube_build(cube, start if built else None, today)
        periods = periods_from(start)
        index = {m: chunk.index(s) for s in chunk for m in slots[s]}
        for grain in dict.fromkeys(g for g, _ds in sets):
            wanted = [ds for g, ds in sets if g == grain]
            stocked = {ds for ds in wanted if any(m.stock and (grain, ds) in needs[m] for m in chunk_measures)}
            rows, opening = _cube_read(key, types, wanted, stocked, grain, periods[grain])
            for ds in wanted:
                members = [m for m in chunk_measures if (grain, ds) in needs[m]]
                picked = [{**row, **{f"m{j}": row[f"s{index[m]}"] for j, m in enumerate(members)}} for row in rows[ds]]
                opened = {
                    k: {f"m{j}": v[f"s{index[m]}"] for j, m in enumerate(members)} for k, v in opening[ds].items()
                }
                series, times = _fold(members, picked, opened, periods[grain])
                for m, values in zip(members, series, strict=True):
                    results[(m, grain, ds)] = (values, times if tracked else {})
    return results


def _cube_read(key: str, types: list[str], wanted: list[tuple], stocked: set, grain: str, periods: list):
    """({dims: rows for _fold}, {dims: opening balances}) of one grain from the cube: one
    GROUP BY for every dimension, one more for the balances before the range."""
    Cube = _cube_model()
    names = {ds[0] if ds else "": ds for ds in wanted}
    lo, hi = periods[0].start, periods[-1].end
    sums = {f"s{s}": Sum(f"v{s}") for s in range(len(types))}
    qs = Cube.objects.filter(key=key, dimension__in=list(names))
    span = "month" if grain in ("month", "quarter", "year") else "day"  # whole months: their rows
    found = qs.filter(span=span, day__gte=lo, day__lt=hi)
    found = found.values("dimension", "member", p=truncate("day", grain, is_date=True))
    rows: dict[tuple, list] = {ds: [] for ds in wanted}
    for row in found.annotate(**sums, latest=Max("latest")).order_by():
        ds = names[row["dimension"]]
        out = {"p": row["p"], "k": (row["member"],) if ds else ()}
        out.update((f"s{s}", _cube_out(row[f"s{s}"], kind)) for s, kind in enumerate(types))
        if row["latest"] is not None:
            out["latest"] = row["latest"]
        rows[ds].append(out)
    opening: dict[tuple, dict] = {ds: {} for ds in wanted}
    if stocked:
        month = grain_floor(lo, "month")
        before = Cube.objects.filter(
            Q(span="month", day__lt=month) | Q(span="day", day__gte=month, day__lt=lo),
            key=key,
            dimension__in=[ds[0] if ds else "" for ds in stocked],
        )
        for row in before.values("dimension", "member").annotate(**sums).order_by():
            ds = names[row["dimension"]]
            opening[ds][(row["member"],) if ds else ()] = {
                f"s{s}": _cube_out(row[f"s{s}"], kind) for s, kind in enumerate(types)
            }
    return rows, opening


def _cube_out(value, kind: str):
    """A cube sum as the engine's aggregate would give it (int, timedelta, Decimal)."""
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "duration":
        return dt.timedelta(microseconds=int(value))
    return value


def _cube_in(value, kind: str):
    if value is None:
        return None
    if kind == "duration" and isinstance(value, dt.timedelta):
        value = value // dt.timedelta(microseconds=1)
    return Decimal(value) if not isinstance(value, float) else Decimal(repr(value))


@dataclass(frozen=True)
class _CubeKey:
    key: str
    measures: list  # one per slot
    types: list
    dims: list
    fine: list  # the dimensions with day rows for all history
    tracked: bool


def _cube_build(cube: _CubeKey, start: dt.date | None, today: dt.date) -> None:
    """Replace the key's rows from `start` (None: all of them) by the records' sums.

    Day rows hold the total and every dimension from the "horizon" on (the month before
    today's when built in full), and before it the total and the dimensions read by day
    or week; month rows (the 1st, span "month") hold every month. So the full build
    writes some 10,000 rows per record set instead of 300,000, and a refresh from a day
    before the horizon starts at its month's first day (its month rows need every day)."""
    first = cube.measures[0]
    Cube = _cube_model()
    base = first.model_class()._default_manager
    coarse = [d for d in cube.dims if d not in cube.fine]
    day = F(first.time) if first.is_date else TruncDate(first.time, tzinfo=kpi_zone())
    if start is None:
        Cube.objects.filter(key=cube.key).delete()
        horizon = grain_floor(grain_floor(today, "month") - dt.timedelta(days=1), "month")
        edge = _bounds(first, horizon, horizon)[0]
        old = base.filter(**{f"{first.time}__lt": edge})
        sets = [("day", ""), *[("day", d) for d in cube.fine], *[("month", d) for d in coarse]]
        _cube_insert(cube, old, day, sets, bulk=True)
        _cube_roll_months(cube.key, None, horizon, ["", *cube.fine])
        start = horizon
    elif coarse:
        known = Cube.objects.filter(key=cube.key, span="day", dimension=coarse[0]).order_by("day")
        horizon = known.values_list("day", flat=True).first()
        if horizon is None or start < horizon:
            start = grain_floor(start, "month")
    month = grain_floor(start, "month")
    Cube.objects.filter(Q(span="day", day__gte=start) | Q(span="month", day__gte=month), key=cube.key).delete()
    recent = base.filter(**{f"{first.time}__gte": _bounds(first, start, start)[0]})
    _cube_insert(cube, recent, day, [("day", ""), *[("day", d) for d in cube.dims]], bulk=False)
    _cube_roll_months(cube.key, month, None, None)


def _cube_insert(cube: _CubeKey, records: QuerySet, day, sets: list[tuple[str, str]], *, bulk: bool) -> None:
    if connections[records.db].vendor == "postgresql":
        _cube_insert_sql(cube, records, day, sets, bulk)
    else:
        _cube_insert_orm(cube, records, day, sets)


def _cube_roll_months(key: str, since: dt.date | None, until: dt.date | None, dimensions: list | None) -> None:
    """The month rows (span "month", day = the 1st) of [since, until) from the day rows:
    months, quarters, years and opening balances then add up a few rows per member
    instead of every day of the history."""
    Cube = _cube_model()
    days = Cube.objects.filter(key=key, span="day")
    if since is not None:
        days = days.filter(day__gte=since)
    if until is not None:
        days = days.filter(day__lt=until)
    if dimensions is not None:
        days = days.filter(dimension__in=dimensions)
    sums = {f"s{i}": Sum(f"v{i}") for i in range(Cube.CUBE_SLOTS)}
    rolled = days.values("dimension", "member", first=TruncMonth("day")).annotate(**sums, last=Max("latest"))
    sql, params = rolled.order_by().query.get_compiler(using=rolled.db).as_sql()
    quote = connections[rolled.db].ops.quote_name
    names = ["key", "span", "dimension", "member", "day", *[f"v{i}" for i in range(Cube.CUBE_SLOTS)], "latest"]
    target = ", ".join(quote(Cube._meta.get_field(n).column) for n in names)
    statement = f"INSERT INTO {quote(Cube._meta.db_table)} ({target}) SELECT %s, %s, q.* FROM ({sql}) q"  # noqa: S608
    with connections[rolled.db].cursor() as cursor:
        cursor.execute(statement, [key, "month", *params])


def _cube_insert_orm(cube: _CubeKey, records: QuerySet, day, sets: list[tuple[str, str]]) -> None:
    """Elsewhere than PostgreSQL: one ORM query per set, rows written by bulk_create."""
    first = cube.measures[0]
    Cube = _cube_model()
    rows = []
    for span, dim in sets:
        period = day if span == "day" else TruncMonth(day, output_field=DateField())
        columns = {"day": period, **({"member": F(first.dims[dim])} if dim else {})}
        aggs = {f"m{i}": m.expression() for i, m in enumerate(cube.measures)}
        if cube.tracked:
            aggs["latest"] = Max(first.time)
        for row in records.values(**columns).annotate(**aggs).order_by():
            member = "" if not dim else NONE_MEMBER if row["member"] is None else str(row["member"])
            values = {f"v{i}": _cube_in(row[f"m{i}"] or 0, kind) for i, kind in enumerate(cube.types)}
            label = row["day"]
            if isinstance(label, str):
                label = dt.date.fromisoformat(label[:10])
            cells = {"key": cube.key, "span": span, "day": label, "dimension": dim, "member": member}
            rows.append(Cube(**cells, latest=row.get("latest"), **values))
    Cube.objects.bulk_create(rows, batch_size=2000)


def _cube_insert_sql(cube: _CubeKey, records: QuerySet, day, sets: list[tuple[str, str]], bulk: bool) -> None:
    """PostgreSQL: one statement with GROUPING SETS (a period column and at most one
    dimension each) over a subquery the ORM writes, so no row passes through Python."""
    first = cube.measures[0]
    dims = list(dict.fromkeys(d for _span, d in sets if d))
    columns = {"day": day, "month": TruncMonth(day, output_field=DateField())}
    columns.update({f"d{j}": F(first.dims[d]) for j, d in enumerate(dims)})
    columns.update({f"f{i}": _cube_value(m) for i, m in enumerate(cube.measures)})
    if cube.tracked:
        columns["t"] = F(first.time)
    inner = records.values(**columns).order_by()
    sql, params = inner.query.get_compiler(using=inner.db).as_sql()
    Cube = _cube_model()
    quote = connections[inner.db].ops.quote_name
    aggs = []
    for i, kind in enumerate(cube.types):
        total = f"SUM(s.f{i})"
        if kind == "duration":
            total = f"EXTRACT(EPOCH FROM {total}) * 1000000"
        aggs.append(f"COALESCE({total}, 0)")
    aggs += ["NULL::numeric"] * (Cube.CUBE_SLOTS - len(cube.types))
    aggs.append("MAX(s.t)" if cube.tracked else "NULL::timestamptz")
    # GROUPING(...) has a bit per argument left out of the row's set, the first highest.
    spans = list(dict.fromkeys(span for span, _dim in sets))  # only grouped columns may be arguments
    args = [*[f"s.{span}" for span in spans], *[f"s.d{j}" for j in range(len(dims))]]
    full = (1 << len(args)) - 1
    span_case, dim_case, member_case, clauses, member_params = [], [], [], [], []
    for span, dim in sets:
        used = [f"s.{span}", *([f"s.d{dims.index(dim)}"] if dim else [])]
        mask = full
        for arg in used:
            mask ^= 1 << (len(args) - 1 - args.index(arg))
        clauses.append("(" + ", ".join(used) + ")")
        span_case.append(f"WHEN {mask} THEN '{span}'")
        dim_case.append(f"WHEN {mask} THEN '{dim}'")
        if dim:
            member_case.append(f"WHEN {mask} THEN COALESCE(s.d{dims.index(dim)}::text, %s)")
            member_params.append(NONE_MEMBER)
    marker = f"GROUPING({', '.join(args)})"
    member_sql = f"CASE {marker} {' '.join(member_case)} ELSE '' END" if member_case else "''"
    select = [
        f"CASE {marker} {' '.join(span_case)} END",
        f"COALESCE({', '.join(f's.{span}' for span in spans)})",
        f"CASE {marker} {' '.join(dim_case)} END",
        member_sql,
    ]
    names = ["key", "span", "day", "dimension", "member", *[f"v{i}" for i in range(Cube.CUBE_SLOTS)], "latest"]
    target = ", ".join(quote(Cube._meta.get_field(n).column) for n in names)
    expressions = ["%s", *select, *aggs]
    listed = ", ".join(f"{e} AS {n}" for e, n in zip(expressions, names, strict=True))
    select = f"SELECT {listed} FROM ({sql}) s GROUP BY GROUPING SETS ({', '.join(clauses)})"  # noqa: S608
    table = quote(Cube._meta.db_table)
    with connections[inner.db].cursor() as cursor:
        _tune(cursor)
        if not bulk:
            # A few days of records: straight in, joined by index lookups (a hash join
            # would read the whole customer and unit tables for a few thousand rows).
            cursor.execute(
                "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'),"
                " set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"
            )
            hashjoin, mergejoin, _off, _too = cursor.fetchone()
            cursor.execute(f"INSERT INTO {table} ({target}) {select}", [cube.key, *member_params, *params])
            cursor.execute(
                "SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
                [hashjoin, mergejoin],
            )
            return
        # CREATE TABLE AS may run the scan and joins in parallel; INSERT ... SELECT may
        # not (PostgreSQL 15): through a temporary table the full build keeps both cores.
        temp = quote(f"kpi_cube_{cube.key[:12]}")
        cursor.execute(f"CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS {select}", [cube.key, *member_params, *params])
        cursor.execute(f"INSERT INTO {table} ({target}) SELECT * FROM {temp}")  # noqa: S608
        cursor.execute(f"DROP TABLE {temp}")
