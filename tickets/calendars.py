"""Business-time arithmetic on BusinessCalendar.

A calendar's working time is its weekly windows (local wall-clock times in its time
zone, several per day allowed: a lunch break is two windows), minus the holidays
(CalendarDay kind=holiday: no work that day), plus the make-up working days (调休,
kind=workday: the windows of `works_like`). A window on a day with a daylight-saving
switch counts the minutes that really elapse (Europe/Berlin 01:00-04:00 is 2 h on the
spring switch and 4 h in the autumn).

A BusinessClock turns the calendar into a sorted list of working intervals (UTC
microseconds) with their cumulative working time, built for a range of days and grown
on demand; add() and minutes_between() are then two binary searches, so the bulk import
and the sweep can call them per ticket. A clock reads the calendar once (windows and
days) and never again: make one per calendar per call site (calendar_clocks for many).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import BusinessCalendar, CalendarDay, CalendarDayKind, Team, WorkingWindow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
# Days of intervals built at a time; a calendar without working time for this many
# years is refused rather than searched forever.
_CHUNK_DAYS = 400
_MAX_DAYS = 366 * 10


def _to_us(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("timezone-aware datetimes only")
    if at.tzinfo is UTC:
        # The common case (values from the database), without timedelta arithmetic.
        return (at.toordinal() - _EPOCH_ORDINAL) * 86_400_000_000 + (
            (at.hour * 3600 + at.minute * 60 + at.second) * 1_000_000 + at.microsecond
        )
    return (at - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


class BusinessClock:
    """Working time of one calendar. `weekly` maps weekday (0 = Monday) to its windows
    [(start, end)] as local times; `days` maps a date to (kind, works_like). Without
    `weekly` (no calendar, or a calendar without any window) the clock runs 24x7."""

    def __init__(
        self,
        *,
        time_zone: str = "UTC",
        weekly: dict[int, list[tuple[time, time]]] | None = None,
        days: dict[date, tuple[str, int]] | None = None,
        calendar_id: int | None = None,
    ):
        try:
            self.tz = ZoneInfo(time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            self.tz = UTC
        self.calendar_id = calendar_id
        self.always = not weekly or not any(weekly.values())
        self.weekly = {wd: sorted(windows) for wd, windows in (weekly or {}).items()}
        self.days = dict(days or {})
        # The timeline: intervals [starts[i], ends[i]) in UTC microseconds, cum[i] = the
        # working microseconds before interval i; it covers the local days [first, last).
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum: list[int] = []
        self._first: date | None = None
        self._last: date | None = None
        # The instants safely inside the covered days (a day's margin on each side).
        self._safe_lo = self._safe_hi = 0

    def __repr__(self) -> str:
        kind = "24x7" if self.always else f"calendar {self.calendar_id}"
        return f"<BusinessClock {kind} {self.tz}>"

    # --- the timeline ------------------------------------------------------------------

    def windows_on(self, day: date) -> list[tuple[time, time]]:
        """The local windows of one day (holidays and make-up working days applied)."""
        entry = self.days.get(day)
        if entry is None:
            return self.weekly.get(day.weekday(), [])
        kind, works_like = entry
        if kind == CalendarDayKind.HOLIDAY:
            return []
        return self.weekly.get(works_like, [])

    def _day_intervals(self, day: date) -> list[tuple[int, int]]:
        tz = self.tz
        result = []
        for start, end in self.windows_on(day):
            # Aware local times converted to UTC: the difference is the real elapsed time,
            # also across a daylight-saving switch inside the window.
            lo = _to_us(datetime.combine(day, start, tzinfo=tz).astimezone(UTC))
            hi = _to_us(datetime.combine(day, end, tzinfo=tz).astimezone(UTC))
            if hi > lo:
                result.append((lo, hi))
        return result

    def _build(self, first: date, last: date) -> None:
        starts, ends, cum = [], [], []
        total = 0
        day = first
        while day < last:
            for lo, hi in self._day_intervals(day):
                if ends and lo < ends[-1]:
                    lo = ends[-1]  # overlapping windows count once
                    if hi <= lo:
                        continue
                starts.append(lo)
                ends.append(hi)
                cum.append(total)
                total += hi - lo
            day += timedelta(days=1)
        self._starts, self._ends, self._cum = starts, ends, cum
        self._first, self._last = first, last
        day = 86_400_000_000
        self._safe_lo = (first.toordinal() - _EPOCH_ORDINAL + 1) * day
        self._safe_hi = (last.toordinal() - _EPOCH_ORDINAL - 1) * day

    def _cover(self, lo: datetime, hi: datetime | None = None) -> None:
        """Make the timeline cover the local days of lo..hi (and a margin after)."""
        if self._safe_lo <= _to_us(lo) and _to_us(hi or lo) < self._safe_hi:
            return  # the common case: no date arithmetic in the time zone
        first = lo.astimezone(self.tz).date() - timedelta(days=1)
        last = (hi or lo).astimezone(self.tz).date() + timedelta(days=2)
        if self._first is not None and self._first <= first and last <= self._last:
            return
        if self._first is not None:
            first, last = min(first, self._first), max(last, self._last)
        self._build(first, max(last, first + timedelta(days=_CHUNK_DAYS)))

    def _grow(self) -> None:
        self._build(self._first, self._last + timedelta(days=_CHUNK_DAYS))

    def _position(self, us: int) -> int:
        """Working microseconds from the timeline's start up to `us` (inside the timeline)."""
        i = bisect_right(self._ends, us)
        if i == len(self._ends):
            return self._cum[-1] + (self._ends[-1] - self._starts[-1]) if self._ends else 0
        return self._cum[i] + max(0, us - self._starts[i])

    # --- the API -----------------------------------------------------------------------

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant `minutes` business minutes after `start`. A result at the end of
        a window is that end (18:00, not 09:00 the next working day)."""
        if minutes <= 0:
            return start
        if self.always:
            return start + timedelta(minutes=minutes)
        us = _to_us(start)
        if not self._safe_lo <= us < self._safe_hi:
            self._cover(start)
        target = self._position(us) + round(minutes * _US_PER_MINUTE)
        while not self._ends or target > self._end_positions()[-1]:
            if (self._last - self._first).days > _MAX_DAYS:
                raise ValueError(f"{self!r} has no working time in the next ten years")
            self._grow()
        # The first interval whose end position reaches the target.
        ends_pos = self._end_positions()
        j = bisect_left(ends_pos, target)
        result = _from_us(self._ends[j] - (ends_pos[j] - target))
        return result if start.tzinfo is UTC else result.astimezone(start.tzinfo)

    def _end_positions(self) -> list[int]:
        cached = getattr(self, "_ends_pos_for", None)
        if cached is not self._ends:
            self._ends_pos = [c + (e - s) for s, e, c in zip(self._starts, self._ends, self._cum, strict=True)]
            self._ends_pos_for = self._ends
        return self._ends_pos

    def minutes_between(self, a: datetime, b: datetime) -> float:
        """Business minutes from a to b; 0 when b <= a."""
        if b <= a:
            return 0.0
        if self.always:
            return (b - a) / timedelta(minutes=1)
        ua, ub = _to_us(a), _to_us(b)
        if not (self._safe_lo <= ua and ub < self._safe_hi):
            self._cover(a, b)
        return (self._position(ub) - self._position(ua)) / _US_PER_MINUTE

    def is_working(self, at: datetime) -> bool:
        if self.always:
            return True
        self._cover(at)
        us = _to_us(at)
        i = bisect_right(self._ends, us)
        return i < len(self._ends) and self._starts[i] <= us

    def next_working(self, at: datetime) -> datetime:
        """`at` itself when it is working time, else the start of the next window."""
        if self.always:
            return at
        self._cover(at)
        us = _to_us(at)
        while True:
            i = bisect_right(self._ends, us)
            if i < len(self._ends):
                return at if self._starts[i] <= us else _from_us(self._starts[i]).astimezone(at.tzinfo)
            if (self._last - self._first).days > _MAX_DAYS:
                raise ValueError(f"{self!r} has no working time")
            self._grow()


ALWAYS = BusinessClock()


def _clock_from(calendar: BusinessCalendar, windows: Iterable, days: Iterable) -> BusinessClock:
    weekly: dict[int, list[tuple[time, time]]] = {}
    for weekday, start, end in windows:
        weekly.setdefault(weekday, []).append((start, end))
    return BusinessClock(
        time_zone=calendar.time_zone,
        weekly=weekly,
        days={day: (kind, works_like) for day, kind, works_like in days},
        calendar_id=calendar.pk,
    )


def default_calendar() -> BusinessCalendar | None:
    return BusinessCalendar.objects.filter(is_default=True).first()


def calendar_clock(calendar: BusinessCalendar | None) -> BusinessClock:
    """The clock of `calendar`; None: the default calendar; no default: 24x7.
    Two queries (three for the default)."""
    if calendar is None:
        calendar = default_calendar()
        if calendar is None:
            return BusinessClock()
    windows = WorkingWindow.objects.filter(calendar=calendar).values_list("weekday", "start", "end")
    days = CalendarDay.objects.filter(calendar=calendar).values_list("date", "kind", "works_like")
    return _clock_from(calendar, windows, days)


class ClockCache:
    """Clocks by calendar id for one call site (a sweep, an import, a page): each
    calendar is read once. Key None is the default calendar."""

    def __init__(self):
        self._clocks: dict[int | None, BusinessClock] = {}
        self._default_id: int | None | bool = False  # False: not looked up yet

    def default_id(self) -> int | None:
        if self._default_id is False:
            self._default_id = BusinessCalendar.objects.filter(is_default=True).values_list("pk", flat=True).first()
        return self._default_id

    def load(self, calendar_ids: Iterable[int | None]) -> None:
        """Read the given calendars (and the default for None) in three queries."""
        wanted = {self.default_id() if pk is None else pk for pk in calendar_ids}
        wanted -= set(self._clocks)
        wanted.discard(None)
        if not wanted:
            return
        windows: dict[int, list] = {pk: [] for pk in wanted}
        days: dict[int, list] = {pk: [] for pk in wanted}
        for pk, *row in WorkingWindow.objects.filter(calendar_id__in=wanted).values_list(
            "calendar_id", "weekday", "start", "end"
        ):
            windows[pk].append(row)
        for pk, *row in CalendarDay.objects.filter(calendar_id__in=wanted).values_list(
            "calendar_id", "date", "kind", "works_like"
        ):
            days[pk].append(row)
        for calendar in BusinessCalendar.objects.filter(pk__in=wanted):
            self._clocks[calendar.pk] = _clock_from(calendar, windows[calendar.pk], days[calendar.pk])

    def get(self, calendar_id: int | None) -> BusinessClock:
        pk = self.default_id() if calendar_id is None else calendar_id
        if pk is None:
            return ALWAYS
        if pk not in self._clocks:
            self.load([pk])
        return self._clocks.get(pk, ALWAYS)


def calendar_clocks(calendar_ids: Iterable[int | None] = ()) -> ClockCache:
    cache = ClockCache()
    cache.load(list(calendar_ids))
    return cache


def user_calendar(user) -> BusinessCalendar | None:
    """The calendar of the user's first team (by name) that has one; None: the default."""
    if user is None or not getattr(user, "pk", None):
        return None
    team = (
        Team.objects.filter(members=user, calendar__isnull=False)
        .select_related("calendar")
        .order_by("name", "pk")
        .first()
    )
    return team.calendar if team is not None else None
