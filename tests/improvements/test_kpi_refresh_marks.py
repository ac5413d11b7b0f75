"""The incremental snapshot refresh sees the improvement loop's changes: an issue closed
and an action completed since the last run, in a month before it (their change marks
are registered by improvements.kpis; without them only the last run's month is redone)."""

import datetime as dt

import time_machine

from improvements.models import ActionStatus, State
from improvements.services import action_create, action_status_set, issue_transition
from quality.kpi.registry import kpi_lookup
from quality.selectors import kpi_values
from quality.services import kpi_snapshots_refresh
from tests.factories import CustomerFactory

from .conftest import T0, advance, verification

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def stored(code):
    result = kpi_values(user=None, kpi=kpi_lookup(code), grain="month", start=MARCH[0], end=MARCH[1])
    assert result["source"] == "snapshot"
    return [(r["period_start"], r["numerator"], r["denominator"]) for r in result["rows"]]


def test_incremental_refresh_picks_up_a_closing_and_a_completed_action_of_an_earlier_month(issue, engineer, committee):
    CustomerFactory(created_at=T0 - dt.timedelta(days=40))  # where the first refresh starts
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    with time_machine.travel(T0 + dt.timedelta(hours=6), tick=False):
        action = action_create(
            issue_id=issue.pk,
            actor=engineer,
            kind="preventive",
            title="Audit",
            owner=engineer,
            due_on=dt.date(2026, 3, 5),
        )
    with time_machine.travel(dt.datetime(2026, 4, 10, 12, tzinfo=T0.tzinfo), tick=False):
        kpi_snapshots_refresh(full=True)
    assert stored("improvement_closure_days") == []
    assert stored("action_on_time_rate") == [("2026-03-01", 0, 1)]

    closing = T0 + dt.timedelta(days=2)  # 4 March, recorded on 12 April
    with time_machine.travel(dt.datetime(2026, 4, 12, 12, tzinfo=T0.tzinfo), tick=False):
        action_status_set(
            action_id=action.pk,
            actor=engineer,
            status=ActionStatus.DONE,
            evidence="Audited",
            completed_on=closing.date(),
        )
        verification(issue, at=issue.state_entered_at + dt.timedelta(hours=1))
        issue_transition(issue_id=issue.pk, to_state=State.CLOSED, actor=engineer, at=closing)
        result = kpi_snapshots_refresh()
    assert result["mode"] == "incremental"
    issue.refresh_from_db()
    days = (issue.closed_at - issue.detected_at).total_seconds() / 86400
    [(period, numerator, denominator)] = stored("improvement_closure_days")
    assert (period, denominator) == ("2026-03-01", 1) and abs(numerator - days) < 1e-9
    assert stored("action_on_time_rate") == [("2026-03-01", 1, 1)]
