"""Actions: the frozen original due date, due changes logged with a reason, status and
completion, and the daily reminders / escalations (once per action and day)."""

import datetime as dt
import threading

import pytest
from django.db import connection

from catalog.exceptions import ApplicationError, ConflictError
from improvements.models import Action, ActionEvent, ImprovementEvent, State
from improvements.services import (
    action_create,
    action_due_change,
    action_status_set,
    action_update,
    actions_remind,
    issue_create,
    issue_transition,
)
from tests.factories import UserFactory
from tickets.models import Notification

from .conftest import T0, TZ

pytestmark = pytest.mark.django_db
D = dt.date


DUE = dt.date(2026, 3, 20)


def new_action(issue, owner, due=DUE, **kwargs):
    return action_create(
        issue_id=issue.pk, actor=issue.owner, kind="corrective", title="Change the bearing", owner=owner, due_on=due,
        at=T0, **kwargs,
    )  # fmt: skip


def writes():
    return Action.objects.count(), ActionEvent.objects.count(), ImprovementEvent.objects.count()


def test_create_sets_both_due_dates_and_logs(issue, engineer):
    action = new_action(issue, engineer)
    assert (action.due_on, action.current_due_on, action.status) == (D(2026, 3, 20), D(2026, 3, 20), "open")
    assert (action.created_at, action.created_by) == (T0, engineer)
    assert list(action.events.values_list("kind", "to_value")) == [("created", "2026-03-20")]
    assert issue.events.filter(kind="action_added").count() == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "fix"}, "kind"),
        ({"title": "  "}, "title"),
        ({"due_on": D(2026, 3, 1)}, "due_on"),  # the day before T0's local date
        ({"due_on": "soon"}, "due_on"),
        ({"owner": None}, "owner"),
    ],
)
def test_create_refusals_write_nothing(issue, engineer, change, field):
    before = writes()
    kwargs = {"kind": "corrective", "title": "Fix", "owner": engineer, "due_on": D(2026, 3, 2), **change}
    with pytest.raises(ApplicationError) as info:
        action_create(issue_id=issue.pk, actor=engineer, at=T0, **kwargs)
    assert set(info.value.errors) == {field}
    assert writes() == before


def test_owner_must_be_active(issue, engineer):
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(ApplicationError) as info:
        new_action(issue, gone)
    assert set(info.value.errors) == {"owner"}


def test_due_today_in_local_time_is_accepted(issue, engineer):
    # 2026-03-02 17:00 UTC is already 2026-03-03 01:00 in Shanghai.
    late = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC)
    with pytest.raises(ApplicationError):
        action_create(
            issue_id=issue.pk, actor=engineer, kind="preventive", title="x", owner=engineer, due_on=D(2026, 3, 2),
            at=late,
        )  # fmt: skip
    action = action_create(
        issue_id=issue.pk, actor=engineer, kind="preventive", title="x", owner=engineer, due_on=D(2026, 3, 3), at=late
    )
    assert action.due_on == D(2026, 3, 3)


def test_original_due_date_frozen_across_two_changes(issue, engineer):
    action = new_action(issue, engineer)
    action_due_change(action_id=action.pk, actor=engineer, due_on=D(2026, 4, 1), reason="Part late", at=T0)
    action_due_change(action_id=action.pk, actor=engineer, due_on="2026-04-15", reason="Test rig busy", at=T0)
    action.refresh_from_db()
    assert (action.due_on, action.current_due_on) == (D(2026, 3, 20), D(2026, 4, 15))
    changes = list(action.events.filter(kind="due_changed").values_list("from_value", "to_value", "comment"))
    assert changes == [("2026-03-20", "2026-04-01", "Part late"), ("2026-04-01", "2026-04-15", "Test rig busy")]
    assert issue.events.filter(kind="action_due").count() == 2


@pytest.mark.parametrize(
    "due, reason, field",
    [(D(2026, 4, 1), " ", "reason"), (D(2026, 3, 20), "same", "due_on"), (D(2026, 3, 1), "past", "due_on")],
)
def test_due_change_refusals(issue, engineer, due, reason, field):
    action = new_action(issue, engineer)
    before = writes()
    with pytest.raises(ApplicationError) as info:
        action_due_change(action_id=action.pk, actor=engineer, due_on=due, reason=reason, at=T0)
    assert set(info.value.errors) == {field}
    assert writes() == before
    action.refresh_from_db()
    assert action.current_due_on == D(2026, 3, 20)


def test_owner_change_is_logged(issue, engineer, supervisor):
    action = new_action(issue, engineer)
    action_update(action_id=action.pk, actor=engineer, owner=supervisor.pk, title="Change the bearing")
    action.refresh_from_db()
    assert action.owner == supervisor
    event = action.events.get(kind="owner")
    assert (event.from_value, event.to_value) == (str(engineer), str(supervisor))
    assert not action.events.filter(kind="updated").exists()  # the title did not change
    action_update(action_id=action.pk, actor=engineer, title="Change the bearing type", description="ECN")
    assert action.events.get(kind="updated").comment == "title, description"
    assert issue.events.filter(kind__in=["action_owner", "action_updated"]).count() == 2


def test_done_needs_evidence(issue, engineer):
    action = new_action(issue, engineer)
    before = writes()
    with pytest.raises(ApplicationError) as info:
        action_status_set(action_id=action.pk, actor=engineer, status="done", evidence=" ", at=T0)
    assert set(info.value.errors) == {"evidence"}
    assert writes() == before
    action.refresh_from_db()
    assert (action.status, action.completed_on) == ("open", None)


def test_done_sets_the_local_completion_date_and_reopening_clears_it(issue, engineer):
    action = new_action(issue, engineer)
    late = dt.datetime(2026, 3, 5, 17, 0, tzinfo=dt.UTC)  # 2026-03-06 01:00 local
    action_status_set(action_id=action.pk, actor=engineer, status="done", evidence="ECN-12 released", at=late)
    action.refresh_from_db()
    assert (action.status, action.completed_on, action.completed_at) == ("done", D(2026, 3, 6), late)
    assert action.completion_evidence == "ECN-12 released"
    action_status_set(action_id=action.pk, actor=engineer, status="in_progress", at=late)
    action.refresh_from_db()
    assert (action.status, action.completed_on, action.completed_at, action.completion_evidence) == (
        "in_progress",
        None,
        None,
        "",
    )
    kinds = list(action.events.filter(kind="status").values_list("from_value", "to_value"))
    assert kinds == [("open", "done"), ("done", "in_progress")]


def test_completion_date_bounds(issue, engineer):
    action = new_action(issue, engineer)
    for day in (D(2026, 3, 7), D(2026, 3, 1)):  # after `at`'s local date; before the creation
        with pytest.raises(ApplicationError) as info:
            action_status_set(
                action_id=action.pk, actor=engineer, status="done", evidence="ok", completed_on=day,
                at=dt.datetime(2026, 3, 6, 9, tzinfo=TZ),
            )  # fmt: skip
        assert set(info.value.errors) == {"completed_on"}
    action_status_set(
        action_id=action.pk, actor=engineer, status="done", evidence="ok", completed_on=D(2026, 3, 4),
        at=dt.datetime(2026, 3, 6, 9, tzinfo=TZ),
    )  # fmt: skip
    action.refresh_from_db()
    assert action.completed_on == D(2026, 3, 4)


def test_cancel_needs_a_reason(issue, engineer):
    action = new_action(issue, engineer)
    with pytest.raises(ApplicationError):
        action_status_set(action_id=action.pk, actor=engineer, status="cancelled", at=T0)
    action_status_set(action_id=action.pk, actor=engineer, status="cancelled", evidence="Superseded", at=T0)
    action.refresh_from_db()
    assert (action.status, action.completion_evidence, action.completed_on) == ("cancelled", "Superseded", None)


def test_no_status_change_on_a_closed_issue(issue, engineer):
    action = new_action(issue, engineer)
    issue_transition(issue_id=issue.pk, to_state=State.CANCELLED, actor=engineer, reason="duplicate")
    before = writes()
    with pytest.raises(ConflictError):
        action_status_set(action_id=action.pk, actor=engineer, status="done", evidence="x")
    with pytest.raises(ConflictError):
        new_action(issue, engineer)
    assert writes() == before


# --- reminders and escalation ------------------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 8, 0, tzinfo=TZ)  # local date 2026-03-10


@pytest.fixture
def plan(issue, engineer, supervisor, team_a, settings):
    """An action due in 2 days (reminded), one in 5 (not yet), one overdue (escalated),
    one done overdue, and an overdue one of a cancelled issue (ignored)."""
    settings.IMPROVEMENT_REMINDER_DAYS = 3
    team_a.supervisor = supervisor
    team_a.save(update_fields=["supervisor"])
    owner = UserFactory(username="doer")
    soon = new_action(issue, owner, due=D(2026, 3, 12))
    later = new_action(issue, owner, due=D(2026, 3, 15))
    late = new_action(issue, owner, due=D(2026, 3, 9))
    done = new_action(issue, owner, due=D(2026, 3, 9))
    action_status_set(action_id=done.pk, actor=owner, status="done", evidence="ok", at=T0)
    other = issue_create(title="Other", actor=engineer, at=T0)
    ignored = new_action(other, owner, due=D(2026, 3, 9))
    issue_transition(issue_id=other.pk, to_state=State.CANCELLED, actor=engineer, reason="dup")
    return {"owner": owner, "soon": soon, "later": later, "late": late, "done": done, "ignored": ignored}


def test_reminders_and_escalations_once_per_day(plan, engineer, supervisor):
    owner = plan["owner"]
    assert actions_remind(now=NOW) == {"reminded": 1, "escalated": 1}
    assert actions_remind(now=NOW + dt.timedelta(hours=3)) == {"reminded": 0, "escalated": 0}
    due = Notification.objects.filter(kind="improvement.action_due")
    assert [(n.recipient, n.url) for n in due] == [(owner, f"/improvements/issues/{plan['soon'].issue_id}/")]
    assert due.get().title == "Action due on 2026-03-12: Change the bearing"
    overdue = Notification.objects.filter(kind="improvement.action_overdue")
    assert sorted(n.recipient.username for n in overdue) == sorted([owner.username, engineer.username, "super_a"])
    assert {n.payload["action"] for n in overdue} == {plan["late"].pk}
    for name, reminded, escalated in (
        ("soon", D(2026, 3, 10), None),
        ("later", None, None),
        ("late", None, D(2026, 3, 10)),
        ("done", None, None),
        ("ignored", None, None),
    ):
        plan[name].refresh_from_db()
        assert (plan[name].reminded_on, plan[name].escalated_on) == (reminded, escalated), name
    # The next day both are sent again (one more each).
    assert actions_remind(now=NOW + dt.timedelta(days=1)) == {"reminded": 1, "escalated": 1}
    assert Notification.objects.filter(kind="improvement.action_due").count() == 2
    assert Notification.objects.filter(kind="improvement.action_overdue").count() == 6


def test_reminder_window_edges(plan):
    # On 2026-03-12 the "later" action (due 03-15) is exactly 3 days away; "soon" is due today.
    assert actions_remind(now=dt.datetime(2026, 3, 12, 9, tzinfo=TZ))["reminded"] == 2
    # On 2026-03-13 "soon" is overdue: escalated, no longer reminded.
    result = actions_remind(now=dt.datetime(2026, 3, 13, 9, tzinfo=TZ))
    assert result == {"reminded": 1, "escalated": 2}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_once(plan):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL")
    barrier = threading.Barrier(4)
    results: list = [None] * 4

    def work(i):
        try:
            barrier.wait(timeout=30)
            results[i] = actions_remind(now=NOW)
        except BaseException as error:  # noqa: BLE001 - reported below
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(r, dict) for r in results), results
    assert sum(r["reminded"] for r in results) == 1
    assert sum(r["escalated"] for r in results) == 1
    assert Notification.objects.filter(kind="improvement.action_due").count() == 1
    assert Notification.objects.filter(kind="improvement.action_overdue").count() == 3
