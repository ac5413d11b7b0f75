"""The day x dimension cube behind the incremental snapshot refresh: after new records on
period edges (the last local day of a month at 23:30, the first day of the next, a
week across a year end), a late change to an old day, or a changed definition, every
stored row equals the live engine; a rerun changes nothing; a failed run leaves the
previous state."""

import datetime as dt

import pytest
import time_machine

from quality.kpi.engine import kpi_compute
from quality.kpi.periods import grain_floor
from quality.kpi.registry import kpi_registry
from quality.models import KpiCube, KpiRefreshState, KpiSnapshot
from quality.selectors import SNAPSHOT_PLAN
from quality.services import kpi_snapshots_refresh
from tests.factories import FailureFactory, SurveyFactory, TicketFactory
from tests.quality import kpi_fixtures
from tests.quality.kpi_fixtures import L, Z

kpi_settings = kpi_fixtures.kpi_settings
world = kpi_fixtures.world


@pytest.fixture
def clock():
    """Frozen time from before the world is built (its records' updated_at), moved on by
    each test: the incremental run sees as changed only what the test changes."""
    with time_machine.travel(L(2026, 6, 1), tick=False) as traveller:
        yield traveller


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def assert_stored_is_live() -> int:
    """Every stored row of every KPI, grain and dimension of the plan against
    kpi_compute over the whole covered range: the same rows, the same numbers."""
    state = KpiRefreshState.objects.get(name=SNAPSHOT_PLAN)
    plan = state.marks["plan"]
    compared = 0
    for kpi in kpi_registry().values():
        for grain, dims in plan.items():
            start = grain_floor(state.covered_from, grain)
            end = dt.date.fromisoformat(state.marks["covered_to"][grain])
            for dim in ["", *[d for d in dims if d in kpi.dims]]:
                live = kpi_compute(kpi=kpi, grain=grain, start=start, end=end, by=(dim,) if dim else ())
                want = sorted(
                    (r["period_start"], r[dim] if dim else "", r["numerator"], r["denominator"], r["value"])
                    + (r["provisional"],)
                    for r in live
                )
                stored = KpiSnapshot.objects.filter(kpi=kpi.code, grain=grain, dimension=dim)
                got = sorted(
                    (s.period_start.isoformat(), s.member, s.numerator, s.denominator, s.value, s.provisional)
                    for s in stored
                )
                where = (kpi.code, grain, dim)
                assert [r[:2] for r in got] == [r[:2] for r in want], where
                for g, w in zip(got, want, strict=True):
                    assert all(_close(a, b) for a, b in zip(g[2:5], w[2:5], strict=True)), (where, g, w)
                    assert g[5] == w[5], (where, g, w)
                compared += len(got)
    return compared


def snapshot() -> tuple[list, list]:
    rows = KpiSnapshot.objects.order_by("kpi", "grain", "dimension", "period_start", "member").values_list(
        "kpi", "grain", "dimension", "period_start", "member", "numerator", "denominator", "value", "provisional"
    )
    cube = KpiCube.objects.order_by("key", "span", "dimension", "day", "member").values_list(
        "key", "span", "dimension", "day", "member", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "latest"
    )
    return list(rows), list(cube)


def test_new_records_on_a_month_and_quarter_edge(clock, world):
    w = world
    clock.move_to(L(2026, 6, 30, 23, 45))
    assert kpi_snapshots_refresh(full=True)["mode"] == "full"
    # 23:30 local on the last day of June (and of the quarter).
    late = TicketFactory(
        external_id="E1",
        customer=w.c1,
        team=w.team_a,
        type="repair",
        created_at=L(2026, 6, 30, 23, 30),
        assigned_at=L(2026, 6, 30, 23, 35),
        first_response_at=L(2026, 6, 30, 23, 36),
        resolved_at=L(2026, 6, 30, 23, 40),
    )
    clock.move_to(L(2026, 7, 1, 0, 30))
    # 16:05 UTC on June 30 is 00:05 on July 1 in Shanghai: July.
    TicketFactory(external_id="E2", customer=w.c2, type="complaint", team=w.team_b, created_at=Z(2026, 6, 30, 16, 5))
    SurveyFactory(customer=w.c2, ticket=None, responded_at=L(2026, 7, 1, 0, 10), csat=5, nps=10)
    FailureFactory(
        external_id="E3",
        ticket=late,
        unit=w.u1,
        failure_mode=w.f1.failure_mode,
        component=w.f1.component,
        occurred_at=L(2026, 7, 1, 0, 15),
        repaired_at=L(2026, 7, 1, 0, 20),
    )
    result = kpi_snapshots_refresh()
    assert result["mode"] == "incremental" and result["from"] == "2026-06-30"
    assert assert_stored_is_live() > 0
    july = KpiSnapshot.objects.get(kpi="complaint_rate", grain="quarter", dimension="", period_start="2026-07-01")
    assert july.numerator == 1
    before = snapshot()
    kpi_snapshots_refresh()  # nothing new: the same rows, the same cube
    assert snapshot() == before


def test_a_week_across_the_year_end(clock, world):
    w = world
    clock.move_to(L(2026, 12, 31, 22))
    kpi_snapshots_refresh(full=True)
    TicketFactory(
        external_id="Y1",
        customer=w.c1,
        team=w.team_a,
        created_at=L(2026, 12, 31, 23, 30),
        resolved_at=Z(2026, 12, 31, 16, 20),  # 00:20 on Jan 1 local
    )
    clock.move_to(L(2027, 1, 1, 1))
    TicketFactory(external_id="Y2", customer=w.c3, team=w.team_b, created_at=L(2027, 1, 1, 0, 30))
    kpi_snapshots_refresh()
    assert_stored_is_live()
    # The ISO week of Monday 2026-12-28 runs into 2027: its backlog (at the end of
    # Jan 3) is Jan 1's, nothing changed in between.
    week = KpiSnapshot.objects.get(kpi="backlog", grain="week", dimension="", period_start="2026-12-28")
    assert week.value == KpiSnapshot.objects.get(kpi="backlog", grain="day", period_start="2027-01-01").value


def test_a_late_change_to_an_old_day_is_picked_up(clock, world):
    w = world
    clock.move_to(L(2026, 6, 15, 12))
    kpi_snapshots_refresh(full=True)
    old = KpiSnapshot.objects.get(kpi="resolution_hours", grain="month", dimension="", period_start="2026-01-01")
    # T2 (created Jan 15 10:00, resolved Feb 1) is found resolved on Jan 20 after all.
    w.t2.resolved_at = L(2026, 1, 20)
    w.t2.save(update_fields=["resolved_at", "updated_at"])
    result = kpi_snapshots_refresh()
    assert result["mode"] == "incremental" and result["from"] == "2026-01-15"
    assert_stored_is_live()
    new = KpiSnapshot.objects.get(kpi="resolution_hours", grain="month", dimension="", period_start="2026-01-01")
    assert (new.denominator, old.denominator) == (old.denominator + 1, old.denominator)
    before = snapshot()
    kpi_snapshots_refresh()
    assert snapshot() == before


def test_a_changed_definition_gets_a_new_cube_key_built_from_all_history(clock, world, settings):
    clock.move_to(L(2026, 6, 15, 12))
    kpi_snapshots_refresh(full=True)
    keys = set(KpiCube.objects.values_list("key", flat=True))
    settings.REPEAT_FAILURE_WINDOW_DAYS = 1  # the repeat condition's SQL changes
    kpi_snapshots_refresh(since=dt.date(2025, 6, 1))
    new = set(KpiCube.objects.values_list("key", flat=True)) - keys
    assert new
    assert KpiCube.objects.filter(key__in=new, day__lt="2026-05-01").exists()
    assert_stored_is_live()


def test_a_failed_run_leaves_the_previous_state(clock, world, monkeypatch):
    from quality.services import kpi as service

    w = world
    clock.move_to(L(2026, 6, 15, 12))
    kpi_snapshots_refresh(full=True)
    before = snapshot()
    TicketFactory(external_id="K1", customer=w.c1, team=w.team_a, created_at=L(2026, 6, 15, 9))

    def broken(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(service, "_store", broken)
    with pytest.raises(RuntimeError):
        kpi_snapshots_refresh()
    assert snapshot() == before
