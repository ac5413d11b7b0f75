"""Grain arithmetic of METRICS.md: a range [START, END) of local dates is cut at the
grain's boundaries; each row covers [max(START, p), min(END, next p)) and is labelled p."""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models.functions import TruncDay, TruncMonth, TruncQuarter, TruncWeek, TruncYear
from django.utils.translation import gettext_lazy as _

GRAINS = {
    "day": (_("day"), TruncDay),
    "week": (_("week"), TruncWeek),
    "month": (_("month"), TruncMonth),
    "quarter": (_("quarter"), TruncQuarter),
    "year": (_("year"), TruncYear),
}


def kpi_zone() -> ZoneInfo:
    """The time zone periods are cut in (METRICS.md: the configured zone)."""
    return ZoneInfo(getattr(settings, "KPI_TIME_ZONE", None) or settings.TIME_ZONE)


def grain_floor(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO: Monday first
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def grain_next(day: dt.date, grain: str) -> dt.date:
    """The boundary after the boundary `day`."""
    if grain == "day":
        return day + dt.timedelta(days=1)
    if grain == "week":
        return day + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def grain_previous(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day - dt.timedelta(days=1)
    if grain == "week":
        return day - dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    label: dt.date  # the grain boundary p
    start: dt.date  # max(START, p)
    end: dt.date  # min(END, next p), exclusive

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return local_midnight(self.start), local_midnight(self.end)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=kpi_zone())


def periods_between(start: dt.date, end: dt.date, grain: str) -> list[Period]:
    periods = []
    boundary = grain_floor(start, grain)
    while boundary < end:
        following = grain_next(boundary, grain)
        periods.append(Period(boundary, max(start, boundary), min(end, following)))
        boundary = following
    return periods


def truncate(field: str, grain: str, *, is_date: bool):
    """The ORM expression giving a record's period label (a local date)."""
    trunc = GRAINS[grain][1]
    if is_date:
        return trunc(field)
    return trunc(field, tzinfo=kpi_zone())


def as_label(value) -> dt.date:
    """A Trunc result (date, or aware datetime at a local boundary) as its local date."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(kpi_zone())
        return value.date()
    if isinstance(value, str):  # SQLite may hand back text for date truncations
        return dt.date.fromisoformat(value[:10])
    return value
