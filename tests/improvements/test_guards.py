"""The issue's gate: every guard refuses its step and writes nothing; the phase clock,
closure and reopening bookkeeping."""

import datetime as dt

import pytest
import time_machine

from improvements.models import ActionStatus, ImprovementEvent, ImprovementIssue, State, Verdict
from improvements.services import (
    GuardRefused,
    InvalidTransition,
    issue_loop_back,
    issue_plan_approve,
    issue_reopen,
    issue_transition,
)
from tests.factories import UserFactory

from .conftest import T0, advance, corrective_action, verification, verified_cause

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)

FIELDS = (
    "state",
    "state_entered_at",
    "updated_at",
    "plan_approved_at",
    "override_reason",
    "reason",
    "closed_at",
    "watch_until",
    "reopen_count",
    "loop_count",
    *(f"{phase}_days" for phase in ("draft", "triage", "root_cause", "action_plan", "implementation", "verification")),
)


def snapshot(issue):
    row = ImprovementIssue.objects.values(*FIELDS).get(pk=issue.pk)
    return row, ImprovementEvent.objects.filter(issue=issue).count()


def refused(issue, exc, **kwargs):
    """Run issue_transition expecting `exc`; assert nothing changed. Returns the error."""
    before = snapshot(issue)
    with pytest.raises(exc) as info:
        issue_transition(issue_id=issue.pk, **kwargs)
    assert snapshot(issue) == before
    return info.value


def test_step_outside_the_table_is_refused(issue, engineer, committee):
    issue = advance(issue, State.TRIAGE, actor=engineer, committee=committee)
    error = refused(issue, InvalidTransition, to_state=State.ACTION_PLAN, actor=engineer, at=T0 + 2 * HOUR)
    assert error.status_code == 409


def test_action_plan_needs_a_verified_cause(issue, engineer, committee):
    issue = advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    cause = verified_cause(issue)
    cause.verified = False
    cause.save(update_fields=["verified"])
    error = refused(issue, GuardRefused, to_state=State.ACTION_PLAN, actor=engineer, at=T0 + 3 * HOUR)
    assert "causes" in error.errors
    cause.verified = True
    cause.save(update_fields=["verified"])
    assert issue_transition(issue_id=issue.pk, to_state=State.ACTION_PLAN, actor=engineer).state == State.ACTION_PLAN


def test_implementation_needs_the_committee_approval(issue, engineer, committee):
    issue = advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    corrective_action(issue, engineer, status=ActionStatus.OPEN)
    error = refused(issue, GuardRefused, to_state=State.IMPLEMENTATION, actor=engineer)
    assert "plan" in error.errors


def test_only_the_committee_approves_a_plan(issue, engineer, committee):
    issue = advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    corrective_action(issue, engineer, status=ActionStatus.OPEN)
    before = snapshot(issue)
    with pytest.raises(Exception) as info:
        issue_plan_approve(issue_id=issue.pk, actor=engineer)
    assert info.value.errors == {"actor": ["not a committee member"]}
    assert snapshot(issue) == before


@pytest.mark.parametrize("corrective", ["none", "open"])
def test_verification_needs_every_corrective_action_done(issue, engineer, committee, corrective):
    issue = advance(issue, State.IMPLEMENTATION, actor=engineer, committee=committee)
    issue.actions.all().delete()
    if corrective == "open":
        corrective_action(issue, engineer, status=ActionStatus.DONE)
        corrective_action(issue, engineer, status=ActionStatus.IN_PROGRESS)
    error = refused(issue, GuardRefused, to_state=State.VERIFICATION, actor=engineer)
    expected = (
        "1 corrective action(s) are not done yet." if corrective == "open" else "The plan has no corrective action."
    )
    assert error.errors["actions"] == [expected]


def test_a_cancelled_corrective_action_does_not_block_verification(issue, engineer, committee):
    issue = advance(issue, State.IMPLEMENTATION, actor=engineer, committee=committee)
    corrective_action(issue, engineer, status=ActionStatus.CANCELLED)
    issue = issue_transition(issue_id=issue.pk, to_state=State.VERIFICATION, actor=engineer)
    assert issue.state == State.VERIFICATION


@pytest.mark.parametrize("verdict", [None, Verdict.NOT_EFFECTIVE, Verdict.PARTIAL])
def test_closing_needs_an_effective_verification_or_override(issue, engineer, committee, verdict):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    if verdict:
        verification(issue, verdict)
    error = refused(issue, GuardRefused, to_state=State.CLOSED, actor=engineer)
    assert "verification" in error.errors


def test_latest_verification_counts(issue, engineer, committee):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    verification(issue, Verdict.EFFECTIVE, at=T0)
    verification(issue, Verdict.NOT_EFFECTIVE, at=T0 + HOUR)
    refused(issue, GuardRefused, to_state=State.CLOSED, actor=engineer)


def test_a_verification_run_before_the_verification_phase_does_not_close(issue, engineer, committee):
    # An early check during implementation is progress, not the verdict that closes.
    issue = advance(issue, State.IMPLEMENTATION, actor=engineer, committee=committee)
    verification(issue, Verdict.EFFECTIVE, at=issue.state_entered_at + HOUR)
    corrective_action(issue, engineer, status=ActionStatus.DONE)
    issue = issue_transition(
        issue_id=issue.pk, to_state=State.VERIFICATION, actor=engineer, at=issue.state_entered_at + 2 * HOUR
    )
    error = refused(issue, GuardRefused, to_state=State.CLOSED, actor=engineer)
    assert "verification" in error.errors
    verification(issue, Verdict.EFFECTIVE, at=issue.state_entered_at + HOUR)
    issue = issue_transition(issue_id=issue.pk, to_state=State.CLOSED, actor=engineer)
    assert issue.state == State.CLOSED


def test_override_by_a_non_committee_user_is_refused(issue, engineer, committee):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    error = refused(
        issue, GuardRefused, to_state=State.CLOSED, actor=engineer, override_reason="Supplier changed the part"
    )
    assert "override_reason" in error.errors


def test_override_by_a_committee_member_closes(issue, engineer, committee):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    verification(issue, Verdict.NOT_EFFECTIVE)
    issue = issue_transition(
        issue_id=issue.pk, to_state=State.CLOSED, actor=committee, override_reason=" Too few units left in field "
    )
    issue.refresh_from_db()
    assert issue.state == State.CLOSED
    assert issue.override_reason == "Too few units left in field"
    assert issue.events.last().kind == "transition"


def test_effective_verification_closes_without_override(issue, engineer, committee):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    verification(issue, Verdict.EFFECTIVE)
    issue = issue_transition(issue_id=issue.pk, to_state=State.CLOSED, actor=engineer)
    assert issue.state == State.CLOSED and issue.override_reason == ""


@pytest.mark.parametrize("to_state", [State.REJECTED, State.CANCELLED])
def test_rejecting_or_cancelling_needs_a_reason(issue, engineer, to_state):
    error = refused(issue, GuardRefused, to_state=to_state, actor=engineer, reason="  ")
    assert "reason" in error.errors
    issue = issue_transition(issue_id=issue.pk, to_state=to_state, actor=engineer, reason="Duplicate of IMP-1")
    assert issue.reason == "Duplicate of IMP-1"


def test_reopening_an_open_issue_is_refused(issue, engineer):
    before = snapshot(issue)
    with pytest.raises(InvalidTransition):
        issue_reopen(issue_id=issue.pk, actor=engineer, reason="again")
    assert snapshot(issue) == before


def test_entering_root_cause_voids_the_approval(issue, engineer, committee):
    issue = advance(issue, State.IMPLEMENTATION, actor=engineer, committee=committee)
    assert issue.plan_approved_at is not None
    issue = issue_transition(issue_id=issue.pk, to_state=State.ACTION_PLAN, actor=engineer)
    assert issue.plan_approved_at is not None  # back to the plan: the approval stands
    issue = issue_transition(issue_id=issue.pk, to_state=State.ROOT_CAUSE, actor=engineer)
    issue.refresh_from_db()
    assert issue.plan_approved_at is None and issue.plan_approved_by is None
    issue = issue_transition(issue_id=issue.pk, to_state=State.ACTION_PLAN, actor=engineer)
    refused(issue, GuardRefused, to_state=State.IMPLEMENTATION, actor=engineer)


def test_phase_days_accumulate_over_two_visits(issue, engineer, committee):
    issue = advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee, step=dt.timedelta(days=1))
    entered = issue.state_entered_at  # T0 + 2 days
    verified_cause(issue)

    def step(days, to_state, **kwargs):
        clock.move_to(entered + dt.timedelta(days=days))
        issue_transition(issue_id=issue.pk, to_state=to_state, actor=engineer, **kwargs)

    with time_machine.travel(entered, tick=False) as clock:
        step(3, State.ACTION_PLAN)  # first visit of root_cause: 3 days
        step(4, State.ROOT_CAUSE)  # action_plan: 1 day
        step(4.5, State.ACTION_PLAN)  # second visit of root_cause: 12 hours
        step(4.75, State.CANCELLED, reason="moved")  # action_plan: 6 more hours
    issue.refresh_from_db()
    assert issue.draft_days == pytest.approx(1)
    assert issue.triage_days == pytest.approx(1)
    assert issue.root_cause_days == pytest.approx(3.5)
    assert issue.action_plan_days == pytest.approx(1.25)
    assert issue.implementation_days == 0
    assert issue.state_entered_at == entered + dt.timedelta(days=4.75)


def test_close_sets_closed_at_and_watch_reopen_clears_them(issue, engineer, committee, settings):
    settings.IMPROVEMENT_WATCH_DAYS = 90
    issue = advance(issue, State.CLOSED, actor=engineer, committee=committee)
    closed_at = T0 + 6 * HOUR
    assert issue.closed_at == closed_at
    assert issue.watch_until == closed_at + dt.timedelta(days=90)
    issue = issue_reopen(issue_id=issue.pk, actor=engineer, reason="It came back", at=closed_at + dt.timedelta(days=10))
    issue.refresh_from_db()
    assert (issue.state, issue.closed_at, issue.watch_until, issue.reopen_count) == (State.ROOT_CAUSE, None, None, 1)
    assert issue.reason == "It came back"


def test_reopen_without_reason_is_refused(issue, engineer, committee):
    issue = advance(issue, State.CLOSED, actor=engineer, committee=committee)
    before = snapshot(issue)
    with pytest.raises(Exception) as info:
        issue_reopen(issue_id=issue.pk, actor=engineer, reason=" ")
    assert "reason" in info.value.errors
    assert snapshot(issue) == before


def test_loop_back_counts_a_loop(issue, engineer, committee):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    issue = issue_loop_back(issue_id=issue.pk, actor=engineer, comment="No drop in failures")
    issue.refresh_from_db()
    assert (issue.state, issue.loop_count) == (State.ROOT_CAUSE, 1)
    assert issue.events.last().kind == "not_effective"


def test_loop_back_outside_verification_is_refused(issue, engineer, committee):
    issue = advance(issue, State.IMPLEMENTATION, actor=engineer, committee=committee)
    before = snapshot(issue)
    with pytest.raises(InvalidTransition):
        issue_loop_back(issue_id=issue.pk, actor=engineer, comment="x")
    assert snapshot(issue) == before


def test_a_step_before_the_current_state_is_refused(issue, engineer):
    before = snapshot(issue)
    with pytest.raises(Exception) as info:
        issue_transition(issue_id=issue.pk, to_state=State.TRIAGE, actor=engineer, at=T0 - HOUR)
    assert "at" in info.value.errors
    assert snapshot(issue) == before


def test_unknown_user_roles_cannot_override(issue, engineer, committee):
    issue = advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    nobody = UserFactory(username="nobody")
    refused(issue, GuardRefused, to_state=State.CLOSED, actor=nobody, override_reason="because")
