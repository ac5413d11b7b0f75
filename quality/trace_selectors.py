"""Reads of failures and traceability (failure mode -> batches -> components and
suppliers -> units -> tickets), scoped to the user like the KPIs.

Definitions used on every page (and the README):
- as-of date A (default: today, local): failures count when occurred_at is before A's
  local midnight; a unit is *in service* when sold_on is not null and sold_on < A.
- failures per 1000 = 1000 x failures / units in service; PPM = failures per million
  units in service (1000 x the per-1000 figure).
- A component's *exposed* units: the units in service of the product models on which
  the component has been recorded failing (the data carries no bill of materials); a
  supplier's are those of its components.
- Failures are scoped (agents and supervisors: their teams' tickets); units are master
  data and are not.

Every figure is one database aggregate (GROUP BY, conditional or correlated-subquery
counts): a page costs a constant number of queries whatever the data size."""

from __future__ import annotations

import calendar
import datetime as dt

from django.db.models import (
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, Coalesce, NullIf, TruncMonth
from django.http import Http404
from django.utils import timezone
from django.utils.translation import get_language

from catalog.exports import ExportColumn, ExportTable, export_table
from catalog.models import Batch, Component, Supplier, Unit
from tickets.models import Ticket

from .models import Failure, FailureMode, Recall, RecallUnit, RecallUnitStatus, RootCauseCategory
from .selectors import kpi_scope_for

TOP = 10
# A batch with fewer units in service than this is left out of the index's ranking:
# one failure among three units would top it.
RANKING_MIN_UNITS = 20


# --- scope and the failures list -----------------------------------------------------


def failures_for_user(user) -> QuerySet[Failure]:
    """The failures the user may see: global-read roles all, agents and supervisors
    those on their teams' tickets and tickets assigned to them (404 outside)."""
    if not getattr(user, "is_authenticated", False):
        return Failure.objects.none()
    scope = kpi_scope_for(user)
    qs = Failure.objects.all()
    return qs if scope is None else qs.filter(scope("ticket__"))


def tickets_in_scope(user) -> QuerySet[Ticket]:
    scope = kpi_scope_for(user)
    return Ticket.objects.all() if scope is None else Ticket.objects.filter(scope(""))


def failure_list(
    *,
    user,
    serial: str = "",
    batch: str = "",
    mode: str = "",
    component: str = "",
    supplier: str = "",
    repeat: bool | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> QuerySet[Failure]:
    """The failures list of the API and its export; `mode` takes the mode and its
    children; start/end bound occurred_at by local dates, end exclusive."""
    qs = failures_for_user(user)
    if serial:
        qs = qs.filter(unit__serial=serial)
    if batch:
        qs = qs.filter(unit__batch__code=batch)
    if mode:
        qs = qs.filter(Q(failure_mode__code=mode) | Q(failure_mode__parent__code=mode))
    if component:
        qs = qs.filter(component__code=component)
    if supplier:
        qs = qs.filter(component__supplier__code=supplier)
    if repeat is not None:
        qs = qs.filter(repeat_of__isnull=not repeat)
    if start is not None:
        qs = qs.filter(occurred_at__gte=local_midnight(start))
    if end is not None:
        qs = qs.filter(occurred_at__lt=local_midnight(end))
    return qs.select_related(
        "ticket",
        "unit__batch",
        "unit__product_model",
        "failure_mode__parent",
        "component__supplier",
        "repeat_of__ticket",
    ).order_by("-occurred_at", "-pk")


FAILURE_EXPORT_COLUMNS = (
    ExportColumn("external_id", "external_id", label="Failure"),
    ExportColumn("ticket", "ticket__external_id", label="Ticket"),
    ExportColumn("unit", "unit__serial", label="Serial"),
    ExportColumn("product_model", "unit__product_model__code", label="Model"),
    ExportColumn("batch", "unit__batch__code", label="Batch"),
    ExportColumn("failure_mode", "failure_mode__code", label="Failure mode"),
    ExportColumn("component", "component__code", label="Component"),
    ExportColumn("supplier", "component__supplier__code", label="Supplier"),
    ExportColumn("occurred_at", "occurred_at", label="Occurred", timestamp=True),
    ExportColumn("repaired_at", "repaired_at", label="Repaired", timestamp=True),
    ExportColumn("root_cause_category", "root_cause_category", label="Root-cause category", choices=RootCauseCategory),
    ExportColumn("labor_hours", "labor_hours", label="Labour hours"),
    ExportColumn("parts_cost", "parts_cost", label="Parts cost"),
    ExportColumn("repeat_of", "repeat_of__external_id", label="Repeat of"),
    ExportColumn("repair_action", "repair_action", label="Repair action"),
)


def failure_export_table(queryset: QuerySet[Failure], *, translated: bool = False) -> ExportTable:
    return export_table(queryset, FAILURE_EXPORT_COLUMNS, translated=translated)


# --- helpers -------------------------------------------------------------------------


def local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_current_timezone())


def as_of_or_today(as_of: dt.date | None) -> dt.date:
    return as_of or timezone.localdate()


def mode_label(mode: FailureMode | None, *, with_parent: bool = True) -> str:
    """'Parent > Child' in the active language (Chinese names when set and active)."""
    if mode is None:
        return ""
    zh = (get_language() or "").startswith("zh")

    def name(m: FailureMode) -> str:
        return (m.name_zh if zh and m.name_zh else m.name_en) or m.code

    if with_parent and mode.parent_id:
        return f"{name(mode.parent)} > {name(mode)}"
    return name(mode)


def failure_mode_choices() -> list[tuple[str, str]]:
    """Every mode as (code, 'Parent > Child (CODE)'), children under their parent."""
    modes = list(FailureMode.objects.select_related("parent").order_by("code"))
    by_parent: dict[int | None, list[FailureMode]] = {}
    for m in modes:
        by_parent.setdefault(m.parent_id, []).append(m)
    out: list[tuple[str, str]] = []

    def walk(parent_id, depth):
        for m in by_parent.get(parent_id, []):
            out.append((m.code, f"{mode_label(m)} ({m.code})"))
            if depth < 5:
                walk(m.pk, depth + 1)

    walk(None, 0)
    return out


def _count(qs: QuerySet) -> Coalesce:
    """A correlated COUNT(*) subquery of qs (whose filter references OuterRef)."""
    counted = qs.order_by().annotate(c=Func(F("pk"), function="COUNT")).values("c")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _per_1000(numerator: str, denominator: str):
    return Cast(F(numerator), FloatField()) * 1000.0 / NullIf(Cast(F(denominator), FloatField()), 0.0)


def _in_service(as_of: dt.date) -> QuerySet[Unit]:
    return Unit.objects.filter(sold_on__isnull=False, sold_on__lt=as_of)


def _rate(failures: int, units: int) -> float | None:
    return None if not units else 1000.0 * failures / units


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


# --- unit history --------------------------------------------------------------------


def unit_get(*, serial: str) -> Unit:
    unit = (
        Unit.objects.select_related("product_model__product_line", "batch", "customer__region")
        .filter(serial=serial.strip())
        .first()
    )
    if unit is None:
        raise Http404("No such unit.")
    return unit


def unit_history(*, user, serial: str) -> dict:
    """A unit with its tickets, failures (parts, repeat links) and recalls, as far as the
    user's scope goes. Five queries whatever the history's length."""
    unit = unit_get(serial=serial)
    tickets = list(
        tickets_in_scope(user).filter(unit=unit).select_related("team", "assignee").order_by("-created_at", "-pk")
    )
    failures = list(
        failures_for_user(user)
        .filter(unit=unit)
        .select_related("ticket", "failure_mode__parent", "component__supplier", "repeat_of__ticket")
        .prefetch_related(Prefetch("parts__component"))
        .order_by("-occurred_at", "-pk")
    )
    recalls = list(
        RecallUnit.objects.filter(unit=unit).select_related("recall", "ticket").order_by("-recall__opened_at")
    )
    warranty_end = add_months(unit.sold_on, unit.warranty_months) if unit.sold_on else None
    return {
        "unit": unit,
        "warranty_end": warranty_end,
        "in_warranty": warranty_end is not None and timezone.localdate() < warranty_end,
        "tickets": tickets,
        "failures": failures,
        "recalls": recalls,
    }


# --- failure mode --------------------------------------------------------------------


def mode_get(*, code: str) -> FailureMode:
    mode = FailureMode.objects.select_related("parent").filter(code=code).first()
    if mode is None:
        raise Http404("No such failure mode.")
    return mode


def _mode_failures(user, mode: FailureMode, as_of: dt.date) -> QuerySet[Failure]:
    return failures_for_user(user).filter(
        Q(failure_mode=mode) | Q(failure_mode__parent=mode), occurred_at__lt=local_midnight(as_of)
    )


def _batch_table(failures: QuerySet[Failure], batches: QuerySet[Batch], as_of: dt.date) -> QuerySet[Batch]:
    """Batches annotated with their failures (from `failures`), units in service and
    failures per 1000: one query with two correlated counts."""
    return (
        batches.select_related("product_model")
        .annotate(
            n_failures=_count(failures.filter(unit__batch_id=OuterRef("pk"))),
            n_in_service=_count(_in_service(as_of).filter(batch_id=OuterRef("pk"))),
        )
        .annotate(per_1000=_per_1000("n_failures", "n_in_service"))
    )


def mode_trace(*, user, mode: FailureMode, as_of: dt.date | None = None, limit_units: int = 50) -> dict:
    as_of = as_of_or_today(as_of)
    failures = _mode_failures(user, mode, as_of)
    totals = failures.aggregate(
        failures=Count("pk"),
        repeats=Count("pk", filter=Q(repeat_of__isnull=False)),
        units=Count("unit", distinct=True),
    )
    batches = list(
        _batch_table(failures, Batch.objects.filter(pk__in=failures.values("unit__batch_id")), as_of).order_by(
            F("per_1000").desc(nulls_last=True), "code"
        )[:20]
    )
    components = list(
        failures.values("component__code", "component__name", "component__supplier__code", "component__supplier__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "component__code")
    )
    recent = list(
        failures.select_related(
            "unit__batch", "ticket", "failure_mode__parent", "component__supplier", "repeat_of__ticket"
        ).order_by("-occurred_at", "-pk")[:limit_units]
    )
    children = list(mode.children.order_by("code"))
    return {
        "mode": mode,
        "label": mode_label(mode),
        "as_of": as_of,
        "totals": totals,
        "batches": batches,
        "components": components,
        "recent": recent,
        "children": children,
    }


def monthly_counts(failures: QuerySet[Failure]) -> list[dict]:
    """Failures per local calendar month: [{month: 'YYYY-MM', failures}]."""
    rows = (
        failures.annotate(month=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    )
    return [{"month": _month_key(r["month"]), "failures": r["n"]} for r in rows]


def _month_key(value) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{value.year:04d}-{value.month:02d}"


def mode_monthly(*, user, mode: FailureMode, as_of: dt.date | None = None) -> list[dict]:
    return monthly_counts(_mode_failures(user, mode, as_of_or_today(as_of)))


# --- batch ---------------------------------------------------------------------------


def batch_get(*, code: str) -> Batch:
    batch = Batch.objects.select_related("product_model__product_line").filter(code=code).first()
    if batch is None:
        raise Http404("No such batch.")
    return batch


def _batch_failures(user, batch: Batch, as_of: dt.date) -> QuerySet[Failure]:
    return failures_for_user(user).filter(unit__batch=batch, occurred_at__lt=local_midnight(as_of))


def batch_comparison(*, user, batch: Batch, as_of: dt.date | None = None) -> list[dict]:
    """Every batch of the batch's model: failures per 1000 units in service (one query)."""
    as_of = as_of_or_today(as_of)
    failures = failures_for_user(user).filter(occurred_at__lt=local_midnight(as_of))
    rows = _batch_table(failures, Batch.objects.filter(product_model_id=batch.product_model_id), as_of).order_by(
        "produced_on", "code"
    )
    return [
        {
            "batch": b.code,
            "produced_on": b.produced_on.isoformat(),
            "failures": b.n_failures,
            "in_service": b.n_in_service,
            "per_1000": b.per_1000,
            "current": b.pk == batch.pk,
        }
        for b in rows
    ]


def batch_trace(*, user, batch: Batch, as_of: dt.date | None = None) -> dict:
    as_of = as_of_or_today(as_of)
    units = Unit.objects.filter(batch=batch).aggregate(
        registered=Count("pk"),
        sold=Count("pk", filter=Q(sold_on__isnull=False)),
        in_service=Count("pk", filter=Q(sold_on__isnull=False, sold_on__lt=as_of)),
    )
    failures = _batch_failures(user, batch, as_of)
    totals = failures.aggregate(
        failures=Count("pk"),
        repeats=Count("pk", filter=Q(repeat_of__isnull=False)),
        units=Count("unit", distinct=True),
    )
    by_mode = list(
        failures.values("failure_mode__code", "failure_mode__name_en", "failure_mode__name_zh")
        .annotate(n=Count("pk"))
        .order_by("-n", "failure_mode__code")
    )
    zh = (get_language() or "").startswith("zh")
    for row in by_mode:
        row["name"] = (row["failure_mode__name_zh"] if zh else "") or row["failure_mode__name_en"]
        row["per_1000"] = _rate(row["n"], units["in_service"])
    components = list(
        failures.values("component__code", "component__name", "component__supplier__code", "component__supplier__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "component__code")
    )
    return {
        "batch": batch,
        "as_of": as_of,
        "units": units,
        "totals": totals,
        "per_1000": _rate(totals["failures"], units["in_service"]),
        "by_mode": by_mode,
        "components": components,
        "recalls": batch_recalls(batch=batch),
    }


def batch_recalls(*, batch: Batch) -> list[dict]:
    """The recalls naming the batch or holding any of its units, with the batch's units
    per status: two queries."""
    recalls = {
        r.pk: {"recall": r, "statuses": {}, "units": 0}
        for r in Recall.objects.filter(Q(batches=batch) | Q(recall_units__unit__batch=batch)).distinct()
    }
    rows = (
        RecallUnit.objects.filter(unit__batch=batch, recall_id__in=list(recalls))
        .values("recall_id", "status")
        .annotate(n=Count("pk"))
    )
    labels = dict(RecallUnitStatus.choices)
    for row in rows:
        entry = recalls[row["recall_id"]]
        entry["statuses"][str(labels.get(row["status"], row["status"]))] = row["n"]
        entry["units"] += row["n"]
    return sorted(recalls.values(), key=lambda e: e["recall"].opened_at, reverse=True)


# --- supplier ------------------------------------------------------------------------


def supplier_get(*, code: str) -> Supplier:
    supplier = Supplier.objects.filter(code=code).first()
    if supplier is None:
        raise Http404("No such supplier.")
    return supplier


def _exposed(as_of: dt.date, components) -> QuerySet[Unit]:
    """Units in service of the models on which these components have been recorded
    failing (unscoped: exposure is a property of the fleet, not of a team)."""
    models = Failure.objects.filter(component__in=components).values("unit__product_model_id")
    return _in_service(as_of).filter(product_model_id__in=models)


def supplier_trace(*, user, supplier: Supplier, as_of: dt.date | None = None) -> dict:
    as_of = as_of_or_today(as_of)
    before = local_midnight(as_of)
    failures = failures_for_user(user).filter(component__supplier=supplier, occurred_at__lt=before)
    total = failures.count()
    exposed = _exposed(as_of, Component.objects.filter(supplier=supplier)).count()
    exposure_models = Failure.objects.filter(component_id=OuterRef(OuterRef("pk"))).values("unit__product_model_id")
    components = list(
        Component.objects.filter(supplier=supplier)
        .annotate(
            n_failures=_count(failures.filter(component_id=OuterRef("pk"))),
            n_in_service=_count(_in_service(as_of).filter(product_model_id__in=exposure_models)),
        )
        .annotate(per_1000=_per_1000("n_failures", "n_in_service"))
        .order_by(F("per_1000").desc(nulls_last=True), "code")
    )
    for c in components:
        c.ppm = None if c.per_1000 is None else c.per_1000 * 1000
    per_1000 = _rate(total, exposed)
    return {
        "supplier": supplier,
        "as_of": as_of,
        "failures": total,
        "exposed": exposed,
        "per_1000": per_1000,
        "ppm": None if per_1000 is None else per_1000 * 1000,
        "components": components,
        "monthly": supplier_monthly(user=user, supplier=supplier, as_of=as_of),
    }


def supplier_monthly(*, user, supplier: Supplier, as_of: dt.date | None = None) -> list[dict]:
    """Per local month: the supplier's component failures, the exposed units in service
    at the month's end (a running total of sales by month) and failures per 1000 / PPM.
    Two GROUP BY queries."""
    as_of = as_of_or_today(as_of)
    failures = failures_for_user(user).filter(component__supplier=supplier, occurred_at__lt=local_midnight(as_of))
    months = monthly_counts(failures)
    if not months:
        return []
    sold = (
        _exposed(as_of, Component.objects.filter(supplier=supplier))
        .annotate(month=TruncMonth("sold_on"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    )
    sold_by_month = [(_month_key(r["month"]), r["n"]) for r in sold]
    out, running, i = [], 0, 0
    for row in months:
        # In service at the end of the month: sold in this month or before.
        while i < len(sold_by_month) and sold_by_month[i][0] <= row["month"]:
            running += sold_by_month[i][1]
            i += 1
        rate = _rate(row["failures"], running)
        out.append({**row, "in_service": running, "per_1000": rate, "ppm": None if rate is None else rate * 1000})
    return out


# --- index ---------------------------------------------------------------------------


def trace_index(*, user, as_of: dt.date | None = None) -> dict:
    """Top failure modes (failures per 1000 units in service, whole fleet), batches
    (per 1000 of their own units in service, at least RANKING_MIN_UNITS of them) and
    suppliers (per 1000 exposed units)."""
    as_of = as_of_or_today(as_of)
    failures = failures_for_user(user).filter(occurred_at__lt=local_midnight(as_of))
    fleet = _in_service(as_of).count()
    modes = list(
        failures.values("failure_mode__code", "failure_mode__name_en", "failure_mode__name_zh")
        .annotate(n=Count("pk"), repeats=Count("pk", filter=Q(repeat_of__isnull=False)))
        .order_by("-n", "failure_mode__code")[:TOP]
    )
    zh = (get_language() or "").startswith("zh")
    for row in modes:
        row["name"] = (row["failure_mode__name_zh"] if zh else "") or row["failure_mode__name_en"]
        row["per_1000"] = _rate(row["n"], fleet)
    batches = list(
        _batch_table(failures, Batch.objects.all(), as_of)
        .filter(n_in_service__gte=RANKING_MIN_UNITS, n_failures__gt=0)
        .order_by(F("per_1000").desc(nulls_last=True), "code")[:TOP]
    )
    exposure_models = Failure.objects.filter(component__supplier_id=OuterRef(OuterRef("pk"))).values(
        "unit__product_model_id"
    )
    suppliers = list(
        Supplier.objects.annotate(
            n_failures=_count(failures.filter(component__supplier_id=OuterRef("pk"))),
            n_in_service=_count(_in_service(as_of).filter(product_model_id__in=exposure_models)),
        )
        .annotate(per_1000=_per_1000("n_failures", "n_in_service"))
        .filter(n_failures__gt=0)
        .order_by(F("per_1000").desc(nulls_last=True), "code")[:TOP]
    )
    for s in suppliers:
        s.ppm = None if s.per_1000 is None else s.per_1000 * 1000
    return {"as_of": as_of, "fleet": fleet, "modes": modes, "batches": batches, "suppliers": suppliers}


def ticket_failures(*, ticket: Ticket) -> list[Failure]:
    """The failures panel of a ticket: two queries (failures, their parts)."""
    return list(
        ticket.failures.select_related("failure_mode__parent", "component__supplier", "repeat_of__ticket", "unit")
        .prefetch_related(Prefetch("parts__component"))
        .order_by("occurred_at", "pk")
    )
