"""Business-time arithmetic: windows, lunch breaks, weekends, holidays, make-up working
days (调休) and a daylight-saving time zone. Expectations are counted by hand."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from tests.factories import TeamFactory, UserFactory
from tickets.calendars import BusinessClock, calendar_clock, calendar_clocks, user_calendar
from tickets.models import BusinessCalendar, CalendarDay, WorkingWindow
from tickets.services import calendar_holidays_prefill

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = {wd: [(dt.time(9), dt.time(12)), (dt.time(13, 30), dt.time(18))] for wd in range(5)}


def at(*args, tz=SH):
    return dt.datetime(*args, tzinfo=tz)


def office_calendar(name="China business hours", *, default=True, prefill=()) -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(name=name, time_zone="Asia/Shanghai", is_default=default)
    for weekday, windows in OFFICE.items():
        for start, end in windows:
            WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=start, end=end)
    if prefill:
        calendar_holidays_prefill(calendar=calendar, years=prefill)
    return calendar


@pytest.fixture
def office():
    return BusinessClock(time_zone="Asia/Shanghai", weekly=OFFICE)


def test_add_inside_a_window(office):
    assert office.add(at(2026, 3, 2, 10), 60) == at(2026, 3, 2, 11)  # Monday


def test_add_skips_the_lunch_break(office):
    # 30 min before 12:00, the other 30 from 13:30.
    assert office.add(at(2026, 3, 2, 11, 30), 60) == at(2026, 3, 2, 14)
    assert office.minutes_between(at(2026, 3, 2, 11, 30), at(2026, 3, 2, 14)) == 60


def test_add_ending_at_a_window_end_stays_there(office):
    assert office.add(at(2026, 3, 2, 17), 60) == at(2026, 3, 2, 18)
    assert office.add(at(2026, 3, 2, 17), 61) == at(2026, 3, 3, 9, 1)


def test_add_skips_the_weekend(office):
    # Friday 17:00: 60 min on Friday, 60 on Monday.
    assert office.add(at(2026, 3, 6, 17), 120) == at(2026, 3, 9, 10)
    assert office.minutes_between(at(2026, 3, 6, 17), at(2026, 3, 9, 10)) == 120


def test_start_outside_working_time(office):
    # Saturday night: the clock starts on Monday 09:00.
    assert office.add(at(2026, 3, 7, 23), 30) == at(2026, 3, 9, 9, 30)
    # A whole working week is 5 x 7.5 h.
    assert office.minutes_between(at(2026, 3, 2), at(2026, 3, 9)) == 5 * 450


def test_minutes_between_is_zero_backwards(office):
    assert office.minutes_between(at(2026, 3, 2, 12), at(2026, 3, 2, 10)) == 0


def test_is_working_and_next_working(office):
    assert office.is_working(at(2026, 3, 2, 9))
    assert not office.is_working(at(2026, 3, 2, 12))  # windows end exclusive
    assert not office.is_working(at(2026, 3, 2, 12, 30))
    assert office.next_working(at(2026, 3, 2, 12, 30)) == at(2026, 3, 2, 13, 30)
    assert office.next_working(at(2026, 3, 2, 10)) == at(2026, 3, 2, 10)
    assert office.next_working(at(2026, 3, 7, 10)) == at(2026, 3, 9, 9)  # Saturday -> Monday


def test_other_time_zone_input_is_the_same_instant(office):
    utc = at(2026, 3, 2, 2, tz=dt.UTC)  # 10:00 in Shanghai
    assert office.add(utc, 60) == at(2026, 3, 2, 11)


@pytest.mark.django_db
def test_holidays_and_make_up_working_days_from_the_library():
    calendar = office_calendar(prefill=[2026])
    days = {d.date: d for d in CalendarDay.objects.filter(calendar=calendar)}
    # CN 2026: National Day 1-3 Oct, observed 5th, days off 6-7 Oct; Sat 10 Oct works.
    for day in (1, 2, 5, 6, 7):
        assert days[dt.date(2026, 10, day)].kind == "holiday"
    assert days[dt.date(2026, 10, 10)].kind == "workday"
    assert days[dt.date(2026, 10, 10)].works_like == dt.date(2026, 10, 7).weekday()
    clock = calendar_clock(calendar)
    # Wednesday 30 Sep 17:00 + 120: 60 min that day, then nothing until Thursday 8 Oct.
    assert clock.add(at(2026, 9, 30, 17), 120) == at(2026, 10, 8, 10)
    # Friday 9 Oct 17:00 + 120: the make-up Saturday works.
    assert clock.add(at(2026, 10, 9, 17), 120) == at(2026, 10, 10, 10)
    assert clock.is_working(at(2026, 10, 10, 10))
    assert not clock.is_working(at(2026, 10, 1, 10))


@pytest.mark.django_db
def test_manual_days_override_and_prefill_is_idempotent():
    calendar = office_calendar()
    written = calendar_holidays_prefill(calendar=calendar, years=[2026])
    assert written == CalendarDay.objects.filter(calendar=calendar).count() > 20
    assert calendar_holidays_prefill(calendar=calendar, years=[2026]) == 0
    # An admin turns 1 October into a working day by hand: the prefill leaves it.
    CalendarDay.objects.filter(calendar=calendar, date=dt.date(2026, 10, 1)).update(
        kind="workday", works_like=3, source="manual"
    )
    assert calendar_holidays_prefill(calendar=calendar, years=[2026]) == 0
    day = CalendarDay.objects.get(calendar=calendar, date=dt.date(2026, 10, 1))
    assert (day.kind, day.source) == ("workday", "manual")
    assert calendar_clock(calendar).is_working(at(2026, 10, 1, 10))
    # A library row that the library no longer has is removed; a changed one restored.
    CalendarDay.objects.create(calendar=calendar, date=dt.date(2026, 3, 3), kind="holiday", source="library")
    CalendarDay.objects.filter(calendar=calendar, date=dt.date(2026, 10, 2)).update(name="edited")
    assert calendar_holidays_prefill(calendar=calendar, years=[2026]) == 2
    assert not CalendarDay.objects.filter(calendar=calendar, date=dt.date(2026, 3, 3)).exists()


@pytest.mark.django_db
def test_prefill_command(capsys):
    calendar = office_calendar()
    call_command("prefill_holidays", "--calendar", calendar.name, "--years", "2026", "2027")
    assert CalendarDay.objects.filter(calendar=calendar, date__year=2027).exists()
    assert "China business hours" in capsys.readouterr().out


def berlin_night_shift():
    return BusinessClock(time_zone="Europe/Berlin", weekly={wd: [(dt.time(1), dt.time(4))] for wd in range(7)})


def test_dst_spring_forward_counts_real_minutes():
    clock = berlin_night_shift()
    # 29 Mar 2026: 02:00 CET -> 03:00 CEST. 01:00-04:00 is 2 real hours.
    assert clock.minutes_between(at(2026, 3, 29, 0, tz=BERLIN), at(2026, 3, 29, 5, tz=BERLIN)) == 120
    assert clock.minutes_between(at(2026, 3, 28, 0, tz=BERLIN), at(2026, 3, 28, 5, tz=BERLIN)) == 180
    # 150 min from 01:00 on the switch day: 120 that night, 30 the next.
    assert clock.add(at(2026, 3, 29, 1, tz=BERLIN), 150) == at(2026, 3, 30, 1, 30, tz=BERLIN)
    # 90 min from 01:00: 01:00 CET + 90 real minutes = 03:30 CEST.
    assert clock.add(at(2026, 3, 29, 1, tz=BERLIN), 90) == at(2026, 3, 29, 3, 30, tz=BERLIN)


def test_dst_fall_back_counts_real_minutes():
    clock = berlin_night_shift()
    # 25 Oct 2026: 03:00 CEST -> 02:00 CET. 01:00-04:00 is 4 real hours.
    assert clock.minutes_between(at(2026, 10, 25, 0, tz=BERLIN), at(2026, 10, 25, 5, tz=BERLIN)) == 240
    assert clock.add(at(2026, 10, 25, 1, tz=BERLIN), 240) == at(2026, 10, 25, 4, tz=BERLIN)
    assert clock.add(at(2026, 10, 25, 1, tz=BERLIN), 241) == at(2026, 10, 26, 1, 1, tz=BERLIN)


@pytest.mark.django_db
def test_default_calendar_and_24x7():
    assert calendar_clock(None).always  # no calendar at all
    assert calendar_clock(None).add(at(2026, 3, 7, 23), 60) == at(2026, 3, 8, 0)
    calendar = office_calendar()
    assert calendar_clock(None).calendar_id == calendar.pk
    clocks = calendar_clocks([None, calendar.pk])
    assert clocks.get(None).calendar_id == calendar.pk
    assert clocks.get(None).add(at(2026, 3, 7, 23), 60) == at(2026, 3, 9, 10)


@pytest.mark.django_db
def test_user_calendar():
    calendar = office_calendar(default=False)
    other = office_calendar("Other", default=False)
    user = UserFactory()
    assert user_calendar(user) is None
    TeamFactory(name="B team", calendar=other, members=[user])
    TeamFactory(name="A team", members=[user])  # no calendar
    assert user_calendar(user) == other
    TeamFactory(name="A2 team", calendar=calendar, members=[user])
    assert user_calendar(user) == calendar


def test_many_additions_are_fast(office):
    import time

    start = at(2026, 1, 5, 9)
    began = time.perf_counter()
    for i in range(20_000):
        office.add(start + dt.timedelta(minutes=i * 7), 1440)
    assert time.perf_counter() - began < 2.0
