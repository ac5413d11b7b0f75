"""The demo's improvement history (intake/improvement_demo.py, written at the end of
`seed_demo`): after a tiny seed the board, the knowledge base, the improvement KPIs,
"my actions" of the demo user "quality" and the next committee meeting have content;
the planted defective batch has no issue; the same --as-of gives the same rows."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from catalog.models import User
from improvements.models import (
    Action,
    ActionEvent,
    ActionKind,
    ActionStatus,
    AgendaItem,
    AgendaKind,
    Cause,
    Decision,
    ImprovementEvent,
    ImprovementIssue,
    MeetingStatus,
    ReviewMeeting,
    State,
    Verification,
)
from intake.demo import PLANTED
from intake.improvement_demo import improvement_demo_seed
from quality.kpi.engine import kpi_compute
from quality.kpi.registry import kpi_lookup
from tests.factories import audit_rows_wipe

AS_OF = dt.date(2026, 3, 18)
SEED = 42


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One `seed_demo --scale tiny` run for the module, inside a transaction rolled back
    afterwards (a flush would also drop what the migrations installed: fishbone sets,
    alert rules). Each test runs in a savepoint within it."""
    out = StringIO()
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
                call_command(
                    "seed_demo", "--scale", "tiny", "--seed", str(SEED), "--as-of", AS_OF.isoformat(), stdout=out
                )
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def local(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=timezone.get_default_timezone())


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def closed_issues():
    return ImprovementIssue.objects.filter(state=State.CLOSED).order_by("closed_at")


def test_the_seed_reports_the_history(seeded):
    assert "improvement history: 4 issues, 5 committee meetings (" in seeded


@pytest.mark.django_db
def test_counts_and_states(seeded):
    assert sorted(ImprovementIssue.objects.values_list("state", flat=True)) == sorted(
        [State.CLOSED, State.CLOSED, State.ACTION_PLAN, State.TRIAGE]
    )
    assert ReviewMeeting.objects.filter(status=MeetingStatus.HELD).count() == 4
    assert ReviewMeeting.objects.filter(status=MeetingStatus.PLANNED).count() == 1
    # Everything happened before --as-of except the planned meeting.
    assert ImprovementIssue.objects.filter(created_at__gte=local(AS_OF)).count() == 0
    assert ImprovementEvent.objects.filter(at__gte=local(AS_OF)).count() == 0
    assert ActionEvent.objects.filter(at__gte=local(AS_OF)).count() == 0
    # The walk-through starts the planted batch's issue from its alert: none here.
    assert not ImprovementIssue.objects.filter(batches__code=PLANTED["defective_batch"]).exists()
    assert not ImprovementIssue.objects.filter(alerts__isnull=False).exists()


@pytest.mark.django_db
def test_closed_issues_carry_the_whole_loop(seeded):
    watch = dt.timedelta(days=getattr(settings, "IMPROVEMENT_WATCH_DAYS", 90))
    closed = list(closed_issues())
    assert len(closed) == 2
    for issue in closed:
        assert local(AS_OF - dt.timedelta(days=365)) <= issue.closed_at < local(AS_OF)
        assert issue.closed_at + watch < local(AS_OF)  # the recurrence watch is over
        assert issue.failure_mode is not None and issue.product_line is not None
        # A verified root cause with a 5-why chain, and an unverified one beside it.
        verified = issue.causes.get(verified=True)
        assert verified.evidence and verified.whys.count() == 5
        assert issue.causes.filter(verified=False).exists()
        # Every action done, at least one corrective.
        assert issue.actions.filter(kind=ActionKind.CORRECTIVE).exists()
        assert set(issue.actions.values_list("status", flat=True)) == {ActionStatus.DONE}
        # One meeting approved the plan, a later one closed the issue.
        items = AgendaItem.objects.filter(issue=issue).order_by("decided_at")
        assert [i.decision for i in items] == [Decision.APPROVE_PLAN, Decision.CLOSE]
        assert items[0].meeting_id != items[1].meeting_id
        assert issue.plan_approved_at == items[0].decided_at
        # No real before/after change in the demo data: closed by the committee's override.
        assert not Verification.objects.filter(issue=issue).exists()
        assert issue.override_reason and "No effectiveness test" in issue.override_reason
        # The waterfall's phases were all visited.
        for phase in ("triage", "root_cause", "action_plan", "implementation", "verification"):
            assert getattr(issue, f"{phase}_days") > 0


@pytest.mark.django_db
def test_one_action_is_late_after_a_logged_due_date_change(seeded):
    late = Action.objects.filter(status=ActionStatus.DONE, completed_on__gt=F("due_on"))
    assert late.count() == 1
    action = late.get()
    assert action.current_due_on > action.due_on and action.completed_on <= action.current_due_on
    change = action.events.get(kind="due_changed")
    assert change.from_value == action.due_on.isoformat() and change.to_value == action.current_due_on.isoformat()
    assert change.comment


@pytest.mark.django_db
def test_the_improvement_kpis_have_values_for_the_closed_issues(seeded):
    start, end = AS_OF - dt.timedelta(days=400), AS_OF

    def total(code):
        rows = kpi_compute(kpi=kpi_lookup(code), grain="year", start=start, end=end)
        return sum(r["numerator"] or 0 for r in rows), sum(r["denominator"] or 0 for r in rows)

    closure, count = total("improvement_closure_days")
    assert count == 2
    expected = sum((i.closed_at - i.detected_at).total_seconds() / 86400 for i in closed_issues())
    assert closure == pytest.approx(expected)
    assert total("improvement_review_cycles") == (4, 2)
    on_time, due = total("action_on_time_rate")
    assert due == Action.objects.filter(due_on__gte=start, due_on__lt=end).count()
    assert 0 < on_time < due  # one late
    assert total("improvement_verification_days")[1] == 2


@pytest.mark.django_db
def test_the_open_issues_feed_the_board_my_actions_and_the_next_meeting(seeded):
    east = ImprovementIssue.objects.get(state=State.ACTION_PLAN)
    assert east.team.name == PLANTED["degraded_team"] and east.plan_approved_at is None
    overdue = east.actions.get(status__in=(ActionStatus.OPEN, ActionStatus.IN_PROGRESS), current_due_on__lt=AS_OF)
    assert overdue.owner.username == "quality"
    triage = ImprovementIssue.objects.get(state=State.TRIAGE)
    meeting = ReviewMeeting.objects.get(status=MeetingStatus.PLANNED)
    assert meeting.held_on > AS_OF
    assert set(meeting.items.values_list("kind", "issue_id", "action_id")) >= {
        (AgendaKind.NEW_PROBLEM, triage.pk, None),
        (AgendaKind.PLAN_APPROVAL, east.pk, None),
        (AgendaKind.OVERDUE_ACTION, east.pk, overdue.pk),
    }

    client = client_for("quality")
    board = client.get(reverse("improvements:board")).content.decode()
    for issue in ImprovementIssue.objects.all():
        assert issue.code in board
    mine = client.get(reverse("improvements:my-actions"))
    assert mine.status_code == 200 and overdue.title in mine.content.decode()
    knowledge = client.get(reverse("improvements:knowledge")).content.decode()
    for issue in closed_issues():
        assert issue.code in knowledge
    page = client.get(reverse("improvements:meeting-detail", args=[meeting.pk]))
    assert page.status_code == 200 and east.code in page.content.decode()
    for issue in ImprovementIssue.objects.all():
        assert client.get(reverse("improvements:issue-detail", args=[issue.pk])).status_code == 200


def snapshot() -> dict:
    """The history's rows by natural keys (primary keys depend on the sequences)."""
    issues = dict(ImprovementIssue.objects.values_list("pk", "code"))
    meetings = {str(pk): title for pk, title in ReviewMeeting.objects.values_list("pk", "title")}
    return {
        "issues": sorted(
            ImprovementIssue.objects.values_list(
                "code",
                "title",
                "state",
                "severity",
                "source",
                "owner__username",
                "detected_at",
                "created_at",
                "updated_at",
                "state_entered_at",
                "closed_at",
                "plan_approved_at",
                "override_reason",
                "triage_days",
                "root_cause_days",
                "implementation_days",
            )
        ),
        "evidence": sorted(
            (issues[i], f)
            for i, f in ImprovementIssue.failures.through.objects.values_list("improvementissue_id", "failure_id")
        ),
        "causes": sorted(
            (
                issues[c.issue_id],
                c.category,
                c.description,
                c.verified,
                c.verified_at,
                c.created_at,
                tuple(c.whys.values_list("text", flat=True)),
            )
            for c in Cause.objects.all()
        ),
        "actions": sorted(
            Action.objects.values_list(
                "issue__code",
                "kind",
                "title",
                "owner__username",
                "due_on",
                "current_due_on",
                "status",
                "completed_on",
                "completed_at",
                "created_at",
            )
        ),
        # A review event names its meeting by pk: compare the meeting's title instead.
        "events": sorted(
            (code, at, kind, meetings.get(from_value, from_value) if kind == "review" else from_value, to, comment)
            for code, at, kind, from_value, to, comment in ImprovementEvent.objects.values_list(
                "issue__code", "at", "kind", "from_value", "to_value", "comment"
            )
        ),
        "meetings": sorted(
            (
                m.held_on,
                m.title,
                m.status,
                m.created_at,
                m.minutes,
                tuple(
                    m.items.order_by("position").values_list(
                        "position", "kind", "issue__code", "decision", "decided_at", "minutes"
                    )
                ),
            )
            for m in ReviewMeeting.objects.all()
        ),
    }


@pytest.mark.django_db
def test_the_same_as_of_gives_the_same_rows(seeded):
    """Written again over the same demo data (this test's transaction is rolled back)."""
    first = snapshot()
    ReviewMeeting.objects.all().delete()
    audit_rows_wipe(ImprovementEvent, ActionEvent)  # append-only rows; a test reset
    ImprovementIssue.objects.all().delete()
    assert improvement_demo_seed(as_of=AS_OF, log=lambda _m: None) == {"issues": 4, "meetings": 5}
    assert snapshot() == first
