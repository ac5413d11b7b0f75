"""Builders for the review tests (meetings, agenda, minutes): issues in a given state
written with the ORM, so each test sets up exactly the case it checks."""

import datetime as dt

from improvements.models import (
    Action,
    ActionKind,
    ActionStatus,
    Cause,
    ImprovementIssue,
    TestKind,
    Verdict,
    Verification,
)
from quality.models import Alert, AlertRule
from tests.factories import UserFactory

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
MEETING_DAY = dt.date(2025, 3, 10)


def users():
    return {
        "committee": UserFactory(username="committee", roles=["committee_member"]),
        "qe": UserFactory(username="qe", roles=["quality_engineer"]),
        "manager": UserFactory(username="boss", roles=["manager"]),
        "agent": UserFactory(username="agent1", roles=["agent"]),
    }


def issue(code: str, state: str, *, owner=None, title: str | None = None, at=T0, **fields) -> ImprovementIssue:
    return ImprovementIssue.objects.create(
        code=code,
        title=title or f"Problem {code}",
        state=state,
        owner=owner,
        detected_at=at - dt.timedelta(days=30),
        created_at=at - dt.timedelta(days=30),
        state_entered_at=at - dt.timedelta(days=1),
        **fields,
    )


def action(issue_, owner, *, kind=ActionKind.CORRECTIVE, due=dt.date(2025, 3, 1), status=ActionStatus.OPEN, title=""):
    done = status == ActionStatus.DONE
    return Action.objects.create(
        issue=issue_,
        kind=kind,
        title=title or f"{kind} of {issue_.code}",
        owner=owner,
        due_on=due,
        current_due_on=due,
        status=status,
        completed_on=due if done else None,
        completed_at=T0 if done else None,
    )


def verified_cause(issue_, user):
    return Cause.objects.create(
        issue=issue_,
        category="technology",
        description="bearing supplier changed grease",
        verified=True,
        verified_at=T0,
        verified_by=user,
        evidence="teardown of 12 returned units",
    )


def verification(issue_, verdict: str, *, at=T0) -> Verification:
    return Verification.objects.create(
        issue=issue_,
        kpi="failures_per_1000",
        before_start=dt.date(2024, 9, 1),
        before_end=dt.date(2024, 12, 1),
        after_start=dt.date(2024, 12, 1),
        after_end=dt.date(2025, 3, 1),
        test=TestKind.POISSON,
        before_numerator=40,
        before_denominator=1000,
        after_numerator=20 if verdict == Verdict.EFFECTIVE else 40,
        after_denominator=1000,
        verdict=verdict,
        created_at=at,
    )


def critical_alert(*, status="firing", severity="critical", code="t-batch") -> Alert:
    rule, _created = AlertRule.objects.get_or_create(
        code=code,
        defaults={
            "name": "Batch failure anomaly",
            "kind": "anomaly",
            "kpi": "failures_per_1000",
            "split_by": "batch",
            "grain": "week",
            "params": {"method": "poisson", "baseline_periods": 12, "min_count": 3, "alpha": 0.001},
            "severity": "critical",
        },
    )
    member = {"batch": f"B-{Alert.objects.count() + 1}"}
    return Alert.objects.create(
        rule=rule,
        member=member,
        member_key=f"batch={member['batch']}",
        severity=severity,
        status=status,
        first_fired_at=T0,
        last_fired_at=T0,
    )
