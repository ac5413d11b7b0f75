"""The recurrence watch after closure: reopen (once) or flag (once per closure)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from improvements.models import ImprovementIssue, State
from improvements.services import issue_create, recurrence_watch
from tests.factories import (
    BatchFactory,
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    ProductModelFactory,
    UnitFactory,
    UserFactory,
)
from tickets.models import Notification

SH = ZoneInfo("Asia/Shanghai")
CLOSED = dt.datetime(2025, 5, 1, 10, tzinfo=SH)
NOW = dt.datetime(2025, 6, 1, 8, tzinfo=SH)


@pytest.fixture
def world(db):
    model = ProductModelFactory(code="WM1")
    bad = BatchFactory(code="B-BAD", product_model=model)
    other = BatchFactory(code="B-OTHER", product_model=model)
    return {
        "owner": UserFactory(username="qe", roles=["quality_engineer"]),
        "model": model,
        "bad": bad,
        "mode": FailureModeFactory(code="BEARING"),
        "other_mode": FailureModeFactory(code="SEAL"),
        "unit": UnitFactory(batch=bad),
        "other_unit": UnitFactory(batch=other),
    }


def closed_issue(world, **scope) -> ImprovementIssue:
    issue = issue_create(
        title="Bearings",
        actor=world["owner"],
        product_model=world["model"],
        batches=scope.pop("batches", [world["bad"]]),
        failure_mode=scope.pop("failure_mode", world["mode"]),
        at=CLOSED - dt.timedelta(days=100),
        **scope,
    )
    ImprovementIssue.objects.filter(pk=issue.pk).update(
        state=State.CLOSED,
        state_entered_at=CLOSED,
        closed_at=CLOSED,
        watch_until=CLOSED + dt.timedelta(days=90),
    )
    return issue


def test_a_recurrence_reopens_the_issue_once(world):
    issue = closed_issue(world)
    FailureFactory(unit=world["unit"], failure_mode=world["mode"], occurred_at=CLOSED - dt.timedelta(days=1))
    FailureFactory(unit=world["other_unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(days=3))
    FailureFactory(unit=world["unit"], failure_mode=world["other_mode"], occurred_at=NOW - dt.timedelta(days=3))
    assert recurrence_watch(now=NOW) == {"checked": 1, "reopened": 0, "flagged": 0}  # nothing in scope yet

    first = FailureFactory(
        external_id="F-REC-1", unit=world["unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(days=2)
    )
    FailureFactory(unit=world["unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(days=1))
    assert recurrence_watch(now=NOW) == {"checked": 1, "reopened": 1, "flagged": 0}
    assert recurrence_watch(now=NOW + dt.timedelta(minutes=1)) == {"checked": 0, "reopened": 0, "flagged": 0}

    issue.refresh_from_db()
    assert issue.state == State.ROOT_CAUSE
    assert issue.reopen_count == 1
    assert issue.closed_at is None
    assert "2 failure(s)" in issue.reason and first.external_id in issue.reason
    assert issue.events.filter(kind="reopened").count() == 1
    assert Notification.objects.filter(recipient=world["owner"], kind="improvement_recurrence").count() == 1


def test_flag_mode_flags_once_per_closure(world, settings):
    settings.IMPROVEMENT_RECURRENCE_ACTION = "flag"
    issue = closed_issue(world)
    failure = FailureFactory(unit=world["unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(days=2))
    assert recurrence_watch(now=NOW) == {"checked": 1, "reopened": 0, "flagged": 1}
    FailureFactory(unit=world["unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(hours=1))
    assert recurrence_watch(now=NOW + dt.timedelta(days=1)) == {"checked": 1, "reopened": 0, "flagged": 0}

    issue.refresh_from_db()
    assert issue.state == State.CLOSED
    assert issue.recurrence_at == failure.occurred_at
    assert issue.events.filter(kind="recurrence").count() == 1
    assert Notification.objects.filter(recipient=world["owner"], kind="improvement_recurrence").count() == 1


def test_watch_ends_and_scope_narrows(world):
    component = ComponentFactory(code="BRG-02")
    other_component = ComponentFactory(code="BRG-03")
    closed_issue(world, component=component)
    FailureFactory(
        unit=world["unit"], failure_mode=world["mode"], component=other_component, occurred_at=NOW - dt.timedelta(1)
    )
    assert recurrence_watch(now=NOW)["reopened"] == 0  # another component
    FailureFactory(
        unit=world["unit"], failure_mode=world["mode"], component=component, occurred_at=NOW - dt.timedelta(1)
    )
    # After the watch period nothing is looked at any more.
    assert recurrence_watch(now=CLOSED + dt.timedelta(days=91)) == {"checked": 0, "reopened": 0, "flagged": 0}
    assert recurrence_watch(now=NOW)["reopened"] == 1


def test_without_batches_the_product_model_is_the_scope(world):
    closed_issue(world, batches=[])
    FailureFactory(unit=world["other_unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(days=1))
    assert recurrence_watch(now=NOW)["reopened"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_reopen_once(world):
    import threading

    from django.db import connection

    issue = closed_issue(world)
    FailureFactory(unit=world["unit"], failure_mode=world["mode"], occurred_at=NOW - dt.timedelta(days=1))
    results = []
    barrier = threading.Barrier(2)

    def work():
        try:
            barrier.wait()
            results.append(recurrence_watch(now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["reopened"] for r in results) == [0, 1]
    issue.refresh_from_db()
    assert issue.reopen_count == 1
