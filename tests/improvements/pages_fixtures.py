"""Fixtures of the improvement pages and API tests (H4): an alert on a batch, an agent
who owns an action of one issue, a second issue out of the agent's scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from improvements.models import Action, ActionKind, ActionStatus
from improvements.services.issues import issue_create
from quality.models import Alert, AlertRule
from tests.factories import BatchFactory, FailureFactory, TicketFactory, UserFactory

from .conftest import T0


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def batch_alert(batch_code: str, *, severity: str = "critical") -> Alert:
    rule, _created = AlertRule.objects.get_or_create(
        code="h4-batch",
        defaults={
            "name": "Batch failures",
            "kind": "anomaly",
            "kpi": "failures_per_1000",
            "split_by": "batch",
            "grain": "month",
            "params": {"method": "poisson", "baseline_periods": 12, "min_count": 3, "alpha": 0.001},
            "severity": severity,
        },
    )
    return Alert.objects.create(
        rule=rule,
        member={"batch": batch_code},
        member_key=f"batch={batch_code}",
        severity=severity,
        status="firing",
        first_fired_at=T0,
        last_fired_at=T0,
        period_start=dt.date(2026, 2, 1),
        value=12.5,
        baseline=4.0,
    )


def open_action(issue, owner, *, due_on=dt.date(2026, 4, 1), kind=ActionKind.CORRECTIVE, title="Change the part"):
    return Action.objects.create(
        issue=issue,
        kind=kind,
        title=title,
        owner=owner,
        due_on=due_on,
        current_due_on=due_on,
        status=ActionStatus.OPEN,
    )


@pytest.fixture
def batch(db):
    return BatchFactory(code="WM-L15")


@pytest.fixture
def records(batch):
    """Two tickets, each with one failure of a unit of the batch."""
    failures = [FailureFactory(unit__batch=batch, ticket=TicketFactory()) for _ in range(2)]
    return failures


@pytest.fixture
def other_issue(committee):
    """An issue of nobody the agent knows (no team, owned by the committee member)."""
    return issue_create(title="Door seal leaks", actor=committee, owner=committee, severity="minor", at=T0)


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider", roles=["agent"])
