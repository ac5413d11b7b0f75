"""Reads of recall campaigns (issue 6): who may see them, their scope, the affected
units and the completion figures. Every figure is an aggregate computed in the
database (conditional counts, GROUP BY week since launch); Python only turns the few
grouped rows into percentages and a running sum."""

from __future__ import annotations

import re
from collections import defaultdict

from django.db.models import Count, F, Func, IntegerField, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from catalog.exports import ExportColumn, ExportTable, export_table
from catalog.models import Unit
from catalog.roles import user_has_global_read

from .models import Recall, RecallState, RecallUnit, RecallUnitStatus

VIEW_PERM = "quality.view_recall"
CHANGE_PERM = "quality.change_recall"
ADD_PERM = "quality.add_recall"
UNIT_CHANGE_PERM = "quality.change_recallunit"

# The campaign's state machine: state -> the states it may move to.
RECALL_TRANSITIONS: dict[str, tuple[str, ...]] = {
    RecallState.DRAFT: (RecallState.APPROVED, RecallState.TERMINATED),
    RecallState.APPROVED: (RecallState.LAUNCHED, RecallState.TERMINATED),
    RecallState.LAUNCHED: (RecallState.COMPLETED, RecallState.TERMINATED),
    RecallState.COMPLETED: (),
    RecallState.TERMINATED: (),
}
# A unit's status: remedied is final; an unreachable owner may be reached later.
UNIT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    RecallUnitStatus.PENDING: (
        RecallUnitStatus.NOTIFIED,
        RecallUnitStatus.SCHEDULED,
        RecallUnitStatus.REMEDIED,
        RecallUnitStatus.UNREACHABLE,
    ),
    RecallUnitStatus.NOTIFIED: (RecallUnitStatus.SCHEDULED, RecallUnitStatus.REMEDIED, RecallUnitStatus.UNREACHABLE),
    RecallUnitStatus.SCHEDULED: (RecallUnitStatus.REMEDIED, RecallUnitStatus.UNREACHABLE),
    RecallUnitStatus.UNREACHABLE: (RecallUnitStatus.NOTIFIED, RecallUnitStatus.SCHEDULED, RecallUnitStatus.REMEDIED),
    RecallUnitStatus.REMEDIED: (),
}
# "Notified or later": the owner was told (a remedy implies it); unreachable ones were not.
NOTIFIED_STATUSES = (RecallUnitStatus.NOTIFIED, RecallUnitStatus.SCHEDULED, RecallUnitStatus.REMEDIED)
RESPONDED_STATUSES = (RecallUnitStatus.SCHEDULED, RecallUnitStatus.REMEDIED)
# Serial ranges compare as strings, so both ends need one length and one prefix.
_SERIAL_RE = re.compile(r"^(.*?)(\d+)$")


def serial_prefix(serial: str) -> str | None:
    """The part before the trailing digits (None when the serial ends in no digit)."""
    match = _SERIAL_RE.match(serial)
    return match.group(1) if match else None


# --- who may see and run recalls ---------------------------------------------------------


def recalls_readable(user) -> bool:
    """Quality engineers, committee members, managers and admins read recalls; agents and
    supervisors, though they may hold view_recall for the unit history, do not."""
    return bool(user_has_global_read(user) and user.has_perm(VIEW_PERM))


def recall_allowed_transitions(recall: Recall) -> tuple[str, ...]:
    return RECALL_TRANSITIONS.get(recall.state, ())


def unit_allowed_statuses(status: str) -> tuple[str, ...]:
    return UNIT_TRANSITIONS.get(status, ())


# --- campaigns ---------------------------------------------------------------------------


def _counts() -> dict:
    return {
        "affected": Count("recall_units"),
        "remedied": Count("recall_units", filter=Q(recall_units__status=RecallUnitStatus.REMEDIED)),
    }


def recall_list(*, state: str | None = None) -> QuerySet[Recall]:
    """Every campaign, newest first, with its affected and remedied counts."""
    recalls = Recall.objects.annotate(**_counts()).order_by("-opened_at", "code")
    if state:
        recalls = recalls.filter(state=state)
    return recalls


def recall_get(*, code: str) -> Recall:
    try:
        return Recall.objects.annotate(**_counts()).prefetch_related("batches", "serial_ranges").get(code=code)
    except Recall.DoesNotExist:
        raise Http404("No such recall.") from None


def recall_scope_q(recall: Recall, *, prefix: str = "") -> Q:
    """The units a campaign's scope covers: its batches OR its serial ranges (string
    order, both ends inclusive). Unsold stock is included: there is no sale filter."""
    scope = Q(**{f"{prefix}batch__recalls": recall.pk})
    for first, last in recall.serial_ranges.values_list("first", "last"):
        scope |= Q(**{f"{prefix}serial__gte": first, f"{prefix}serial__lte": last})
    return scope


def recall_scope_units(recall: Recall) -> QuerySet[Unit]:
    # distinct: a unit in a recalled batch and in a range must count once.
    return Unit.objects.filter(recall_scope_q(recall)).distinct()


def recall_events(recall: Recall):
    return recall.events.select_related("actor").order_by("-at", "-id")


# --- affected units ----------------------------------------------------------------------


def recall_units(*, recall: Recall, status: str | None = None) -> QuerySet[RecallUnit]:
    """The affected units of a campaign, by serial, with everything a row shows in the
    same query (unit, model, batch, customer, region, remedy ticket)."""
    units = (
        RecallUnit.objects.filter(recall=recall)
        .select_related(
            "unit", "unit__product_model", "unit__batch", "unit__customer", "unit__customer__region", "ticket"
        )
        .order_by("unit__serial")
    )
    if status:
        units = units.filter(status=status)
    return units


def recall_unit_for_ticket(ticket) -> RecallUnit | None:
    """The recall unit a remedy ticket belongs to (the ticket page's panel)."""
    return RecallUnit.objects.select_related("recall", "unit").filter(ticket=ticket).first()


def _label(model, name: str):
    return capfirst(model._meta.get_field(name).verbose_name)


RECALL_UNIT_EXPORT_COLUMNS = (
    ExportColumn("serial", "unit__serial", label=_("Serial number")),
    ExportColumn("product_model", "unit__product_model__code", label=_("Product model")),
    ExportColumn("batch", "unit__batch__code", label=_("Batch")),
    ExportColumn("customer", "unit__customer__external_id", label=_("Customer ID")),
    ExportColumn("customer_name", "unit__customer__name", label=_("Customer name")),
    ExportColumn("phone", "unit__customer__phone", label=_("Phone")),
    ExportColumn("email", "unit__customer__email", label=_("E-mail")),
    ExportColumn("region", "unit__customer__region__name", label=_("Region")),
    ExportColumn("city", "unit__customer__city", label=_("City")),
    ExportColumn("sold_on", "unit__sold_on", label=_("Sold on")),
    ExportColumn("status", "status", label=_("Status"), choices=RecallUnitStatus),
    ExportColumn("notified_at", "notified_at", label=_label(RecallUnit, "notified_at"), timestamp=True),
    ExportColumn("scheduled_at", "scheduled_at", label=_label(RecallUnit, "scheduled_at"), timestamp=True),
    ExportColumn("unreachable_at", "unreachable_at", label=_label(RecallUnit, "unreachable_at"), timestamp=True),
    ExportColumn("remedied_at", "remedied_at", label=_label(RecallUnit, "remedied_at"), timestamp=True),
    ExportColumn("ticket", "ticket__external_id", label=_("Remedy ticket")),
)


def recall_units_export_table(queryset: QuerySet[RecallUnit], *, translated: bool = False) -> ExportTable:
    """The affected units of `queryset` (already filtered) for a notification campaign."""
    return export_table(queryset, RECALL_UNIT_EXPORT_COLUMNS, translated=translated)


# --- completion figures ------------------------------------------------------------------


class _WeekSince(Func):
    """1-based week since `start` in which `end` falls (week 1 = the first 7 days after
    launch); anything before the start counts in week 1."""

    output_field = IntegerField()

    def __init__(self, end, start):
        super().__init__(end, start)

    def as_postgresql(self, compiler, connection, **extra):
        template = "GREATEST(FLOOR(EXTRACT(EPOCH FROM (%(expressions)s)) / 604800)::integer, 0) + 1"
        return super().as_sql(compiler, connection, template=template, arg_joiner=" - ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # CAST truncates towards zero, so a remedy just before the start lands in week 1 too.
        template = "MAX(CAST((julianday(%(expressions)s)) / 7 AS INTEGER), 0) + 1"
        return super().as_sql(compiler, connection, template=template, arg_joiner=") - julianday(", **extra)


def _recall_start():
    # Imported campaigns have no launch time: their opening stands for it.
    return Coalesce(F("recall__launched_at"), F("recall__opened_at"))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _weeks_to(curve: list[dict], share: float) -> int | None:
    return next((point["week"] for point in curve if point["share"] is not None and point["share"] >= share), None)


def _curve(weekly: dict[int, int], affected: int, weeks: int) -> list[dict]:
    """Cumulative remedied share by week 1..weeks (a running sum of the grouped counts)."""
    curve, total = [], 0
    for week in range(1, weeks + 1):
        total += weekly.get(week, 0)
        curve.append({"week": week, "remedied": total, "share": _ratio(total, affected)})
    return curve


def _figures(counts: dict, weekly: dict[int, int], weeks: int) -> dict:
    affected = counts["affected"]
    curve = _curve(weekly, affected, max(weeks, max(weekly, default=0)))
    return {
        "affected": affected,
        "pending": counts["pending"],
        "notified": counts["notified"],
        "scheduled": counts["scheduled"],
        "remedied": counts["remedied"],
        "unreachable": counts["unreachable"],
        "responded": counts["responded"],
        "remedied_share": _ratio(counts["remedied"], affected),
        "notification_rate": _ratio(counts["notified"], affected),
        "response_rate": _ratio(counts["responded"], counts["notified"]),
        "unreachable_share": _ratio(counts["unreachable"], affected),
        "weeks_to_50": _weeks_to(curve, 0.5),
        "weeks_to_80": _weeks_to(curve, 0.8),
        "curve": curve,
    }


_STATUS_COUNTS = {
    "affected": Count("id"),
    "pending": Count("id", filter=Q(status=RecallUnitStatus.PENDING)),
    "notified": Count("id", filter=Q(status__in=NOTIFIED_STATUSES)),
    "scheduled": Count("id", filter=Q(status=RecallUnitStatus.SCHEDULED)),
    "responded": Count("id", filter=Q(status__in=RESPONDED_STATUSES)),
    "remedied": Count("id", filter=Q(status=RecallUnitStatus.REMEDIED)),
    "unreachable": Count("id", filter=Q(status=RecallUnitStatus.UNREACHABLE)),
}


def recall_weeks_running(recall: Recall, *, now=None) -> int:
    """How many weeks the curve spans: from launch to the close (or now); 0 before launch."""
    if recall.state in (RecallState.DRAFT, RecallState.APPROVED):
        return 0
    start = recall.launched_at or recall.opened_at
    end = recall.closed_at or now or timezone.now()
    return (end - start).days // 7 + 1 if end >= start else 1


def recall_completion(*, recall: Recall, now=None) -> dict:
    """The campaign's completion figures (three queries: status counts, remedies by week,
    and both again by batch):

    - affected: its RecallUnit rows; notified: notified, scheduled or remedied;
      responded: scheduled or remedied.
    - notification_rate = notified / affected; response_rate = responded / notified;
      unreachable_share = unreachable / affected; remedied_share = remedied / affected
      (None when the denominator is 0).
    - curve: per week since launch (week 1 = the first 7 days), the cumulative remedied
      count and share of the affected units; weeks_to_50/80: the first week whose
      cumulative share reaches 50 % / 80 % (None when not reached)."""
    units = RecallUnit.objects.filter(recall=recall)
    counts = units.aggregate(**_STATUS_COUNTS)
    week = _WeekSince(F("remedied_at"), _recall_start())
    weekly_rows = (
        units.filter(status=RecallUnitStatus.REMEDIED)
        .annotate(week=week)
        .values("week")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    weekly = {row["week"]: row["n"] for row in weekly_rows}
    weeks = recall_weeks_running(recall, now=now)
    figures = _figures(counts, weekly, weeks)
    figures["by_batch"] = _by_batch(units, week, weeks)
    return figures


def _by_batch(units: QuerySet[RecallUnit], week, weeks: int) -> list[dict]:
    rows = units.values(batch=F("unit__batch__code")).annotate(**_STATUS_COUNTS).order_by("batch")
    weekly: dict[str | None, dict[int, int]] = defaultdict(dict)
    for row in (
        units.filter(status=RecallUnitStatus.REMEDIED)
        .annotate(week=week)
        .values("week", batch=F("unit__batch__code"))
        .annotate(n=Count("id"))
    ):
        weekly[row["batch"]][row["week"]] = row["n"]
    out = []
    for row in rows:
        figures = _figures(row, weekly.get(row["batch"], {}), weeks)
        figures.pop("curve")
        out.append({"batch": row["batch"], **figures})
    return out
