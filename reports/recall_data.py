"""Reads of the recall status report: the campaign's facts, its completion figures
(status counts from quality.recall_selectors, the completion rate and its curve from
the KPI engine so they equal the dashboard's and the API's), the breakdown by region
and by batch, the open units and the campaign's timeline."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.utils import timezone

from quality.kpi.periods import grain_floor
from quality.kpi.registry import kpi_lookup
from quality.models import Recall, RecallUnitStatus
from quality.recall_selectors import recall_completion, recall_events, recall_units, recalls_readable
from quality.selectors import kpi_values

from .capa_data import person

COMPLETION_KPI = "recall_completion_rate"
OPEN_UNITS_SHOWN = 50
EVENTS_SHOWN = 100
# Up to this many weeks the curve is weekly; longer campaigns are shown by month.
WEEKLY_UP_TO = 26


def _recall(*, recall_id: int, user) -> Recall:
    """The campaign (404 when the user may not read recalls; user None: a system caller)."""
    if user is not None and not recalls_readable(user):
        raise Http404("No such recall.")
    recall = Recall.objects.prefetch_related("batches", "serial_ranges").filter(pk=recall_id).first()
    if recall is None:
        raise Http404("No such recall.")
    return recall


def _next_period(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day + dt.timedelta(days=7)
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def completion_window(recall: Recall, *, now: dt.datetime) -> tuple[str, dt.date, dt.date]:
    """(grain, start, end exclusive) of the completion curve: whole periods from the
    campaign's opening to the one holding today (or its closure)."""
    opened = timezone.localdate(recall.opened_at)
    last = timezone.localdate(recall.closed_at) if recall.closed_at else timezone.localdate(now)
    last = max(last, opened)
    grain = "week" if (last - opened).days <= WEEKLY_UP_TO * 7 else "month"
    return grain, grain_floor(opened, grain), _next_period(grain_floor(last, grain), grain)


def _last_contact(row) -> dt.datetime | None:
    times = [t for t in (row.notified_at, row.scheduled_at, row.unreachable_at) if t is not None]
    return max(times) if times else None


def recall_report_data(*, recall_id: int, user=None, now: dt.datetime | None = None) -> dict:
    """Everything the recall status report shows (Http404 when out of scope). Labels are
    in the active language (call under translation.override)."""
    now = now or timezone.now()
    recall = _recall(recall_id=recall_id, user=user)
    figures = recall_completion(recall=recall, now=now)
    kpi = kpi_lookup(COMPLETION_KPI)
    grain, start, end = completion_window(recall, now=now)
    filters = {"recall": recall.code}
    curve = kpi_values(user=user, kpi=kpi, grain=grain, start=start, end=end, filters=filters)
    rows = curve["rows"]
    current = rows[-1] if rows else None
    last_start = dt.date.fromisoformat(current["period_start"]) if current else start
    # A stock KPI: the last period's value is the state at its end, per region as in total.
    by_region = kpi_values(user=user, kpi=kpi, grain=grain, start=last_start, end=end, by=("region",), filters=filters)
    by_engine_batch = kpi_values(
        user=user, kpi=kpi, grain=grain, start=last_start, end=end, by=("batch",), filters=filters
    )
    open_units = recall_units(recall=recall).exclude(status=RecallUnitStatus.REMEDIED)
    open_rows = [
        {
            "serial": row.unit.serial,
            "model": row.unit.product_model.code if row.unit.product_model_id else "",
            "batch": row.unit.batch.code if row.unit.batch_id else "",
            "region": row.unit.customer.region.name if row.unit.customer_id and row.unit.customer.region_id else "",
            "customer": row.unit.customer.name if row.unit.customer_id else "",
            "status": row.status,
            "status_label": str(RecallUnitStatus(row.status).label),
            "last_contact": _last_contact(row),
        }
        for row in open_units[:OPEN_UNITS_SHOWN]
    ]
    engine_batches = {row.get("batch"): row for row in by_engine_batch["rows"]}
    batches = []
    for row in figures["by_batch"]:
        engine = engine_batches.get(row["batch"]) or {}
        batches.append({**row, "completion_rate": engine.get("value")})
    events = [
        {
            "at": e.at,
            "actor": person(e.actor),
            "kind": e.kind,
            "from": e.from_value,
            "to": e.to_value,
            "comment": e.comment,
        }
        for e in recall_events(recall)[:EVENTS_SHOWN]
    ]
    return {
        "recall": recall,
        "state_label": recall.get_state_display(),
        "severity_label": recall.get_severity_display(),
        "batches": [b.code for b in recall.batches.all()],
        "serial_ranges": [(r.first, r.last) for r in recall.serial_ranges.all()],
        "figures": figures,
        "open_count": figures["affected"] - figures["remedied"],
        "kpi": kpi,
        "grain": grain,
        "completion_rate": current["value"] if current else None,
        "completion_numerator": current["numerator"] if current else None,
        "completion_denominator": current["denominator"] if current else None,
        "target": current.get("target") if current else None,
        "status": current.get("status") if current else None,
        "curve": [
            {"period_start": row["period_start"], "value": row["value"], "remedied": row["numerator"]} for row in rows
        ],
        "by_region": sorted(
            by_region["rows"], key=lambda row: (-(row["denominator"] or 0), str(row.get("region") or ""))
        ),
        "by_batch": batches,
        "open_units": open_rows,
        "events": events,
        "generated_at": now,
        "window": (start, end),
    }
