"""Shared fixtures of the improvement-loop tests (owned by H1; others import freely).

Users:   engineer (quality_engineer), committee (committee_member), team_a / supervisor /
         agent come from tests/conftest.py.
Issues:  `issue` is a fresh draft (IMP-YYYY-0001) owned by the engineer in Team A, created
         at T0. `advance(issue, to_state, ...)` walks an issue through the real gate,
         adding with the ORM only what each guard needs (a verified cause, the committee's
         approval, one done corrective action, an effective verification), one hour
         per step after the issue's current state_entered_at.
Helpers: `verified_cause(issue)`, `corrective_action(issue, owner, status=...)` and
         `verification(issue, verdict)` create rows directly (no service), so tests of
         one service do not depend on another helper's code.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from improvements.models import (
    Action,
    ActionKind,
    ActionStatus,
    Cause,
    ImprovementIssue,
    State,
    TestKind,
    Verdict,
    Verification,
)
from improvements.services.issues import issue_create, issue_plan_approve, issue_transition
from tests.factories import UserFactory

TZ = ZoneInfo("Asia/Shanghai")
# A fixed, timezone-aware instant every test can count from (a Monday, 10:00 local).
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=TZ)

# The way from draft to each working state, in gate order.
PATH = [
    State.TRIAGE,
    State.ROOT_CAUSE,
    State.ACTION_PLAN,
    State.IMPLEMENTATION,
    State.VERIFICATION,
    State.CLOSED,
]


@pytest.fixture
def engineer(team_a):
    user = UserFactory(username="engineer", roles=["quality_engineer"])
    team_a.members.add(user)
    return user


@pytest.fixture
def committee(db):
    return UserFactory(username="chair", roles=["committee_member"])


@pytest.fixture
def issue(engineer, team_a) -> ImprovementIssue:
    return issue_create(title="Bearing noise", actor=engineer, owner=engineer, team=team_a, at=T0)


def verified_cause(issue: ImprovementIssue, *, category: str = "technology", user=None) -> Cause:
    return Cause.objects.create(
        issue=issue,
        category=category,
        description="Undersized bearing",
        verified=True,
        verified_at=issue.state_entered_at,
        verified_by=user,
        evidence="Teardown of 12 returns",
    )


def corrective_action(
    issue: ImprovementIssue, owner, *, status: str = ActionStatus.DONE, due_on: dt.date = dt.date(2026, 4, 1)
) -> Action:
    done = status == ActionStatus.DONE
    return Action.objects.create(
        issue=issue,
        kind=ActionKind.CORRECTIVE,
        title="Change the bearing",
        owner=owner,
        due_on=due_on,
        current_due_on=due_on,
        status=status,
        completed_on=due_on if done else None,
        completed_at=dt.datetime.combine(due_on, dt.time(12), tzinfo=TZ) if done else None,
        completion_evidence="New part in production" if done else "",
    )


def verification(issue: ImprovementIssue, verdict: str = Verdict.EFFECTIVE, *, at: dt.datetime | None = None):
    return Verification.objects.create(
        issue=issue,
        kpi="failures_per_1000",
        before_start=dt.date(2025, 1, 1),
        before_end=dt.date(2025, 7, 1),
        after_start=dt.date(2025, 7, 1),
        after_end=dt.date(2026, 1, 1),
        test=TestKind.POISSON,
        verdict=verdict,
        created_at=at or issue.state_entered_at,
    )


def advance(issue: ImprovementIssue, to_state: str, *, actor, committee, step=dt.timedelta(hours=1)):
    """Walk `issue` along PATH up to `to_state` through issue_transition, satisfying each
    guard on the way with ORM rows; returns the refreshed issue."""
    issue.refresh_from_db()
    for state in PATH:
        if issue.state == to_state:
            break
        if PATH.index(state) <= (PATH.index(issue.state) if issue.state in PATH else -1):
            continue
        at = issue.state_entered_at + step
        if state == State.ACTION_PLAN and not issue.causes.filter(verified=True).exists():
            verified_cause(issue, user=actor)
        if state == State.IMPLEMENTATION:
            if not issue.actions.filter(kind=ActionKind.CORRECTIVE).exists():
                corrective_action(issue, actor)
            issue_plan_approve(issue_id=issue.pk, actor=committee, at=at)
        if state == State.CLOSED and not issue.verifications.exists():
            verification(issue, Verdict.EFFECTIVE, at=at)
        issue = issue_transition(issue_id=issue.pk, to_state=state, actor=actor, at=at)
    issue.refresh_from_db()
    return issue
