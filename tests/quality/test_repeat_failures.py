"""Repeat failures (METRICS.md): G repeats F when the same unit has the same mode and
G.occurred_at lies in (F.repaired_at, F.repaired_at + REPEAT_FAILURE_WINDOW_DAYS]."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quality.models import Failure
from quality.services import failure_record, failure_repeats_mark
from tests.factories import FailureFactory, FailureModeFactory, TicketFactory, UnitFactory

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def unit(db):
    return UnitFactory()


@pytest.fixture
def mode(db):
    return FailureModeFactory(code="MECH-BEARING")


def _earlier(unit, mode, *, repaired_at=T0 + DAY):
    return FailureFactory(unit=unit, failure_mode=mode, occurred_at=T0, repaired_at=repaired_at)


def _record(unit, mode, occurred_at, agent=None):
    ticket = TicketFactory(unit=unit, customer=unit.customer, created_at=T0 - DAY)
    return failure_record(
        ticket_id=ticket.pk, actor=agent, failure_mode=mode, occurred_at=occurred_at, at=occurred_at + DAY
    )


@pytest.mark.parametrize(
    ("offset", "repeat"),
    [
        (dt.timedelta(seconds=1), True),  # just after the repair
        (dt.timedelta(days=10), True),
        (dt.timedelta(days=30), True),  # exactly on the boundary: (R, R + 30 days] is closed on the right
        (dt.timedelta(days=30, seconds=1), False),  # just outside
        (dt.timedelta(days=45), False),
        (dt.timedelta(0), False),  # at the repair itself: the interval is open on the left
    ],
)
def test_record_flags_by_the_window(unit, mode, offset, repeat):
    earlier = _earlier(unit, mode)
    later = _record(unit, mode, earlier.repaired_at + offset)
    assert later.repeat_of_id == (earlier.pk if repeat else None)


def test_window_follows_the_setting(unit, mode, settings):
    settings.REPEAT_FAILURE_WINDOW_DAYS = 7
    earlier = _earlier(unit, mode)
    assert _record(unit, mode, earlier.repaired_at + 8 * DAY).repeat_of_id is None
    assert _record(unit, mode, earlier.repaired_at + 7 * DAY).repeat_of_id == earlier.pk


def test_another_mode_is_not_a_repeat(unit, mode):
    _earlier(unit, mode)
    other = FailureModeFactory(code="MECH-MOTOR")
    assert _record(unit, other, T0 + 5 * DAY).repeat_of_id is None


def test_another_unit_is_not_a_repeat(unit, mode):
    _earlier(unit, mode)
    assert _record(UnitFactory(), mode, T0 + 5 * DAY).repeat_of_id is None


def test_an_unrepaired_failure_does_not_open_a_window(unit, mode):
    _earlier(unit, mode, repaired_at=None)
    assert _record(unit, mode, T0 + 5 * DAY).repeat_of_id is None


def test_the_latest_earlier_repair_is_linked(unit, mode):
    _earlier(unit, mode, repaired_at=T0 + DAY)
    second = FailureFactory(unit=unit, failure_mode=mode, occurred_at=T0 + 3 * DAY, repaired_at=T0 + 4 * DAY)
    assert _record(unit, mode, T0 + 10 * DAY).repeat_of_id == second.pk


def test_a_backdated_record_flags_the_later_failure(unit, mode):
    later = FailureFactory(unit=unit, failure_mode=mode, occurred_at=T0 + 20 * DAY)
    ticket = TicketFactory(unit=unit, customer=unit.customer, created_at=T0 - DAY)
    earlier = failure_record(
        ticket_id=ticket.pk, actor=None, failure_mode=mode, occurred_at=T0, repaired_at=T0 + DAY, at=T0 + 30 * DAY
    )
    later.refresh_from_db()
    assert later.repeat_of_id == earlier.pk


def test_bulk_mark_scoped_to_ids(unit, mode):
    earlier = _earlier(unit, mode)
    a = FailureFactory(unit=unit, failure_mode=mode, occurred_at=T0 + 5 * DAY)
    b = FailureFactory(unit=unit, failure_mode=mode, occurred_at=T0 + 6 * DAY)
    assert failure_repeats_mark(failure_ids=[a.pk]) == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.repeat_of_id, b.repeat_of_id) == (earlier.pk, None)
    assert failure_repeats_mark() == 2  # all of them now: a and b
    b.refresh_from_db()
    assert b.repeat_of_id == earlier.pk


def test_bulk_mark_clears_a_stale_flag(unit, mode):
    earlier = _earlier(unit, mode)
    wrong = FailureFactory(unit=unit, failure_mode=mode, occurred_at=T0 + 90 * DAY, repeat_of=earlier)
    assert failure_repeats_mark() == 0
    wrong.refresh_from_db()
    assert wrong.repeat_of_id is None


def _expected(failures: list[Failure], window: dt.timedelta) -> dict[int, int | None]:
    """The rule, record by record, in Python."""
    out = {}
    for g in failures:
        candidates = [
            f
            for f in failures
            if f.pk != g.pk
            and f.unit_id == g.unit_id
            and f.failure_mode_id == g.failure_mode_id
            and f.repaired_at is not None
            and f.repaired_at < g.occurred_at <= f.repaired_at + window
        ]
        best = max(candidates, key=lambda f: (f.repaired_at, f.pk), default=None)
        out[g.pk] = best.pk if best else None
    return out


_record_strategy = st.tuples(
    st.integers(0, 2),  # unit
    st.integers(0, 1),  # mode
    st.integers(0, 120),  # occurred day
    st.one_of(st.none(), st.integers(0, 40)),  # repair after (days)
    st.sampled_from([0, 1]),  # sub-day shift, to land on and next to the boundary
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_record_strategy, min_size=1, max_size=14))
def test_bulk_mark_equals_the_rule(records):
    Failure.objects.all().delete()
    units = [UnitFactory() for _ in range(3)]
    modes = [FailureModeFactory(code=f"HM{i}") for i in range(2)]
    for u, m, day, repair, shift in records:
        occurred = T0 + day * DAY + shift * dt.timedelta(seconds=1)
        FailureFactory(
            unit=units[u],
            failure_mode=modes[m],
            occurred_at=occurred,
            repaired_at=None if repair is None else occurred + repair * DAY,
        )
    failure_repeats_mark()
    failures = list(Failure.objects.all())
    expected = _expected(failures, dt.timedelta(days=30))
    assert {f.pk: f.repeat_of_id for f in failures} == expected


def test_a_failures_import_marks_repeats(unit, mode):
    from intake.services import import_records

    ticket = TicketFactory(external_id="T-IMP", unit=unit, customer=unit.customer, created_at=T0 - DAY)
    records = [
        {
            "external_id": "F-IMP-2",
            "ticket": "T-IMP",
            "unit": unit.serial,
            "failure_mode": mode.code,
            "occurred_at": "2026-03-20 10:00:00",
        },
        {
            "external_id": "F-IMP-1",
            "ticket": "T-IMP",
            "unit": unit.serial,
            "failure_mode": mode.code,
            "occurred_at": "2026-03-01 10:00:00",
            "repaired_at": "2026-03-02 10:00:00",
        },
    ]
    run = import_records(entity="failures", records=records)
    assert run.created == 2, run.message
    first, second = Failure.objects.get(external_id="F-IMP-1"), Failure.objects.get(external_id="F-IMP-2")
    assert second.repeat_of_id == first.pk and first.repeat_of_id is None
    assert ticket.failures.count() == 2
