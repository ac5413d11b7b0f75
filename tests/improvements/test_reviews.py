"""Committee reviews: the automatic agenda, decisions applied through the gate, review cycles."""

import datetime as dt
import threading

import pytest
from django.db import connection

from catalog.exceptions import ApplicationError, ConflictError
from improvements import services
from improvements.models import (
    ActionKind,
    ActionStatus,
    AgendaItem,
    AgendaKind,
    Decision,
    ImprovementEvent,
    MeetingStatus,
    ReviewMeeting,
    State,
    Verdict,
)
from improvements.review_selectors import issue_review_cycles, issue_reviews
from improvements.services.reviews import decisions_fitting
from tests.improvements import review_fixtures as fx

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return fx.users()


@pytest.fixture
def meeting(people):
    return services.meeting_create(
        actor=people["qe"],
        title="March review",
        held_on=fx.MEETING_DAY,
        chair=people["committee"],
        attendees=[people["committee"], people["qe"]],
    )


def _agenda(meeting):
    return [
        (item.position, item.kind, item.issue.code if item.issue else None, item.action_id, item.alert_id)
        for item in AgendaItem.objects.filter(meeting=meeting).select_related("issue").order_by("position")
    ]


def _decide(item, people, decision, minutes="", who="committee"):
    return services.agenda_item_decide(item_id=item.pk, actor=people[who], decision=decision, minutes=minutes)


# --- meetings ----------------------------------------------------------------------------


def test_meeting_create_by_quality_engineer_with_attendees(meeting, people):
    assert meeting.status == MeetingStatus.PLANNED
    assert meeting.chair == people["committee"]
    assert set(meeting.attendees.values_list("username", flat=True)) == {"committee", "qe"}
    assert meeting.created_by == people["qe"]


def test_meeting_create_refused_for_an_agent_and_without_title(people):
    with pytest.raises(ApplicationError) as refused:
        services.meeting_create(actor=people["agent"], title="x", held_on=fx.MEETING_DAY)
    assert "actor" in refused.value.errors
    with pytest.raises(ApplicationError) as refused:
        services.meeting_create(actor=people["committee"], title="  ", held_on="2025-03-10")
    assert set(refused.value.errors) == {"title", "held_on"}
    assert ReviewMeeting.objects.count() == 0


# --- the automatic agenda ------------------------------------------------------------------


@pytest.fixture
def agenda_case(people):
    """One issue per case; the comments say whether the agenda takes it."""
    owner = people["qe"]
    cases = {}
    cases["triage_b"] = fx.issue("IMP-2025-0009", State.TRIAGE)  # new problem
    cases["triage_a"] = fx.issue("IMP-2025-0001", State.TRIAGE)  # new problem, first by code
    cases["draft"] = fx.issue("IMP-2025-0002", State.DRAFT)  # no
    plan = fx.issue("IMP-2025-0003", State.ACTION_PLAN)  # plan approval
    fx.action(plan, owner, due=dt.date(2025, 4, 1))
    cases["plan"] = plan
    approved = fx.issue("IMP-2025-0004", State.ACTION_PLAN, plan_approved_at=fx.T0)  # no: approved
    fx.action(approved, owner, due=dt.date(2025, 4, 1))
    no_corrective = fx.issue("IMP-2025-0005", State.ACTION_PLAN)  # no: only preventive / cancelled
    fx.action(no_corrective, owner, kind=ActionKind.PREVENTIVE, due=dt.date(2025, 4, 1))
    fx.action(no_corrective, owner, status=ActionStatus.CANCELLED, due=dt.date(2025, 4, 1))
    running = fx.issue("IMP-2025-0006", State.IMPLEMENTATION, plan_approved_at=fx.T0)
    cases["overdue"] = fx.action(running, owner, due=dt.date(2025, 3, 1))  # overdue action
    fx.action(running, owner, due=fx.MEETING_DAY)  # no: due on the meeting day
    fx.action(running, owner, due=dt.date(2025, 2, 1), status=ActionStatus.DONE)  # no: done
    fx.action(running, owner, due=dt.date(2025, 2, 1), status=ActionStatus.CANCELLED)  # no: cancelled
    closed = fx.issue("IMP-2025-0007", State.CLOSED, closed_at=fx.T0)
    fx.action(closed, owner, due=dt.date(2025, 1, 1))  # no: the issue is closed
    cases["verification"] = fx.issue("IMP-2025-0008", State.VERIFICATION)  # awaiting verification
    cases["firing"] = fx.critical_alert(status="firing")  # critical alert
    cases["acknowledged"] = fx.critical_alert(status="acknowledged")  # critical alert
    fx.critical_alert(status="resolved")  # no: resolved
    fx.critical_alert(status="firing", severity="warning")  # no: not critical
    return cases


def test_agenda_build_takes_each_case_in_order(meeting, people, agenda_case):
    added = services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"])

    assert added == 7
    assert _agenda(meeting) == [
        (1, AgendaKind.NEW_PROBLEM, "IMP-2025-0001", None, None),
        (2, AgendaKind.NEW_PROBLEM, "IMP-2025-0009", None, None),
        (3, AgendaKind.PLAN_APPROVAL, "IMP-2025-0003", None, None),
        (4, AgendaKind.OVERDUE_ACTION, "IMP-2025-0006", agenda_case["overdue"].pk, None),
        (5, AgendaKind.AWAITING_VERIFICATION, "IMP-2025-0008", None, None),
        (6, AgendaKind.CRITICAL_ALERT, None, None, agenda_case["firing"].pk),
        (7, AgendaKind.CRITICAL_ALERT, None, None, agenda_case["acknowledged"].pk),
    ]


def test_agenda_build_twice_adds_nothing_then_only_what_is_new(meeting, people, agenda_case):
    services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"])
    before = _agenda(meeting)

    assert services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["committee"]) == 0
    assert _agenda(meeting) == before

    fx.issue("IMP-2025-0010", State.TRIAGE)
    assert services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"]) == 1
    assert _agenda(meeting)[-1] == (8, AgendaKind.NEW_PROBLEM, "IMP-2025-0010", None, None)


def test_agenda_build_refused_for_a_manager_and_on_a_held_meeting(meeting, people, agenda_case):
    with pytest.raises(ApplicationError):
        services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["manager"])
    services.meeting_hold(meeting_id=meeting.pk, actor=people["committee"], minutes="Done.")
    with pytest.raises(ConflictError):
        services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"])
    assert AgendaItem.objects.count() == 0


def test_agenda_item_add_continues_positions_and_refuses_a_duplicate(meeting, people, agenda_case):
    services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"])
    closed = fx.issue("IMP-2025-0099", State.CLOSED, closed_at=fx.T0)

    item = services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=closed.pk)

    assert (item.position, item.kind, item.issue_id) == (8, AgendaKind.OTHER, closed.pk)
    with pytest.raises(ConflictError):
        services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=closed.pk)
    with pytest.raises(ApplicationError):
        services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=None)
    assert meeting.items.count() == 8


def test_meeting_hold_sets_status_and_minutes(meeting, people):
    held = services.meeting_hold(meeting_id=meeting.pk, actor=people["qe"], minutes="  Next review in April.  ")
    held.refresh_from_db()
    assert (held.status, held.minutes) == (MeetingStatus.HELD, "Next review in April.")


# --- decisions ---------------------------------------------------------------------------


def _item(meeting, people, issue_, kind=AgendaKind.OTHER):
    return services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=issue_.pk, kind=kind)


def test_approve_plan_sets_the_approval_and_logs_a_review_event(meeting, people):
    plan = fx.issue("IMP-2025-0003", State.ACTION_PLAN)
    fx.action(plan, people["qe"], due=dt.date(2025, 4, 1))
    item = _item(meeting, people, plan, AgendaKind.PLAN_APPROVAL)

    decided = _decide(item, people, Decision.APPROVE_PLAN, "Plan accepted as presented.")

    plan.refresh_from_db()
    assert plan.plan_approved_at is not None and plan.plan_approved_by == people["committee"]
    assert plan.state == State.ACTION_PLAN
    assert (decided.decision, decided.minutes, decided.decided_by) == (
        Decision.APPROVE_PLAN,
        "Plan accepted as presented.",
        people["committee"],
    )
    review = ImprovementEvent.objects.get(issue=plan, kind="review")
    assert (review.from_value, review.to_value, review.comment) == (
        str(meeting.pk),
        Decision.APPROVE_PLAN,
        "Plan accepted as presented.",
    )


def test_accept_verification_closes_an_issue_whose_latest_verification_is_effective(meeting, people):
    done = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(done, Verdict.NOT_EFFECTIVE, at=fx.T0 - dt.timedelta(days=20))
    fx.verification(done, Verdict.EFFECTIVE, at=fx.T0)
    item = _item(meeting, people, done, AgendaKind.AWAITING_VERIFICATION)
    assert Decision.ACCEPT_VERIFICATION in decisions_fitting(item)

    _decide(item, people, Decision.ACCEPT_VERIFICATION, "Failure rate halved.")

    done.refresh_from_db()
    assert done.state == State.CLOSED and done.closed_at is not None
    assert done.override_reason == ""


def test_accept_verification_refused_when_the_latest_verification_is_not_effective(meeting, people):
    issue = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(issue, Verdict.EFFECTIVE, at=fx.T0 - dt.timedelta(days=20))
    fx.verification(issue, Verdict.PARTIAL, at=fx.T0)
    item = _item(meeting, people, issue)
    assert Decision.ACCEPT_VERIFICATION not in decisions_fitting(item)

    with pytest.raises(ConflictError):
        _decide(item, people, Decision.ACCEPT_VERIFICATION)

    item.refresh_from_db()
    issue.refresh_from_db()
    assert (item.decision, item.decided_at, issue.state) == ("", None, State.VERIFICATION)


def test_close_without_effective_verification_and_without_minutes_writes_nothing(meeting, people):
    issue = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(issue, Verdict.NOT_EFFECTIVE)
    item = _item(meeting, people, issue)
    events_before = ImprovementEvent.objects.count()

    with pytest.raises(ConflictError) as refused:
        _decide(item, people, Decision.CLOSE, minutes="   ")

    assert "verification" in refused.value.errors
    item.refresh_from_db()
    issue.refresh_from_db()
    assert (item.decision, item.minutes, item.decided_by) == ("", "", None)
    assert (issue.state, issue.closed_at, issue.override_reason) == (State.VERIFICATION, None, "")
    assert ImprovementEvent.objects.count() == events_before


def test_close_with_minutes_is_the_committee_override(meeting, people):
    issue = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(issue, Verdict.PARTIAL)
    item = _item(meeting, people, issue)

    _decide(item, people, Decision.CLOSE, minutes="Supplier changed; residual failures are old stock.")

    issue.refresh_from_db()
    assert issue.state == State.CLOSED
    assert issue.override_reason == "Supplier changed; residual failures are old stock."


def test_reopen_needs_the_reason_and_sends_a_closed_issue_back_to_root_cause(meeting, people):
    closed = fx.issue("IMP-2025-0007", State.CLOSED, closed_at=fx.T0)
    item = _item(meeting, people, closed)

    with pytest.raises(ApplicationError):
        _decide(item, people, Decision.REOPEN, minutes="")
    _decide(item, people, Decision.REOPEN, minutes="Bearing failures are back in batch L17.")

    closed.refresh_from_db()
    assert (closed.state, closed.reopen_count, closed.closed_at) == (State.ROOT_CAUSE, 1, None)


def test_more_analysis_from_verification_and_refused_from_triage(meeting, people):
    verifying = fx.issue("IMP-2025-0008", State.VERIFICATION)
    new = fx.issue("IMP-2025-0001", State.TRIAGE)
    item = _item(meeting, people, verifying)
    new_item = _item(meeting, people, new)

    _decide(item, people, Decision.MORE_ANALYSIS, "Teardown of the after-window returns first.")
    with pytest.raises(ConflictError):
        _decide(new_item, people, Decision.MORE_ANALYSIS)

    verifying.refresh_from_db()
    new.refresh_from_db()
    assert verifying.state == State.ROOT_CAUSE
    assert new.state == State.TRIAGE
    assert decisions_fitting(new_item) == [Decision.NOTED]


def test_approve_plan_refused_for_an_issue_not_in_action_plan(meeting, people):
    new = fx.issue("IMP-2025-0001", State.TRIAGE)
    item = _item(meeting, people, new)
    with pytest.raises(ConflictError):
        _decide(item, people, Decision.APPROVE_PLAN)
    item.refresh_from_db()
    assert item.decision == ""


def test_non_committee_cannot_decide(meeting, people):
    new = fx.issue("IMP-2025-0001", State.TRIAGE)
    item = _item(meeting, people, new)
    for who in ("qe", "manager", "agent"):
        with pytest.raises(ApplicationError) as refused:
            _decide(item, people, Decision.NOTED, who=who)
        assert "actor" in refused.value.errors
    item.refresh_from_db()
    assert item.decision == ""


def test_second_decision_is_a_conflict(meeting, people):
    new = fx.issue("IMP-2025-0001", State.TRIAGE)
    item = _item(meeting, people, new)
    _decide(item, people, Decision.NOTED, "Owner to start the analysis.")

    with pytest.raises(ConflictError) as refused:
        _decide(item, people, Decision.NOTED, "again")

    assert refused.value.status_code == 409
    item.refresh_from_db()
    assert item.minutes == "Owner to start the analysis."
    assert ImprovementEvent.objects.filter(kind="review").count() == 1


def test_alert_item_takes_only_noted(meeting, people):
    fx.critical_alert()
    services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"])
    item = meeting.items.get(kind=AgendaKind.CRITICAL_ALERT)
    assert decisions_fitting(item) == [Decision.NOTED]
    with pytest.raises(ConflictError):
        _decide(item, people, Decision.CLOSE, "x")
    _decide(item, people, Decision.NOTED, "Issue opened for the batch.")
    item.refresh_from_db()
    assert item.decision == Decision.NOTED
    assert not ImprovementEvent.objects.filter(kind="review").exists()


# --- review cycles -----------------------------------------------------------------------


def test_review_cycles_count_distinct_meetings_with_a_decided_item(people):
    issue = fx.issue("IMP-2025-0003", State.TRIAGE)
    other = fx.issue("IMP-2025-0004", State.TRIAGE)
    first, second, third = (
        services.meeting_create(actor=people["committee"], title=title, held_on=day)
        for title, day in (
            ("Jan", dt.date(2025, 1, 10)),
            ("Feb", dt.date(2025, 2, 10)),
            ("Mar", dt.date(2025, 3, 10)),
        )
    )
    # First meeting: one decided item. Second: two decided items for the issue (counts once).
    # Third: on the agenda but not decided (does not count). The other issue is decided once.
    _decide(services.agenda_item_add(meeting_id=first.pk, actor=people["qe"], issue_id=issue.pk), people, "noted")
    for kind in (AgendaKind.OTHER, AgendaKind.NEW_PROBLEM):
        item = services.agenda_item_add(meeting_id=second.pk, actor=people["qe"], issue_id=issue.pk, kind=kind)
        _decide(item, people, Decision.NOTED)
    services.agenda_item_add(meeting_id=third.pk, actor=people["qe"], issue_id=issue.pk)
    _decide(services.agenda_item_add(meeting_id=third.pk, actor=people["qe"], issue_id=other.pk), people, "noted")

    assert issue_review_cycles(issue) == 2
    assert issue_review_cycles(other) == 1
    reviews = list(issue_reviews(issue))
    assert [item.meeting.title for item in reviews] == ["Jan", "Feb", "Feb"]
    assert all(item.decision == Decision.NOTED for item in reviews)


def test_review_cycles_zero_when_nothing_decided(meeting, people):
    issue = fx.issue("IMP-2025-0003", State.TRIAGE)
    _item(meeting, people, issue)
    assert issue_review_cycles(issue) == 0
    assert list(issue_reviews(issue)) == []


# --- concurrency (PostgreSQL) --------------------------------------------------------------


def _race(n, work):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agenda_builds_at_once_add_each_item_once():
    people = fx.users()
    meeting = services.meeting_create(actor=people["qe"], title="Race", held_on=fx.MEETING_DAY)
    for n in range(1, 6):
        fx.issue(f"IMP-2025-{n:04d}", State.TRIAGE)

    results = _race(4, lambda i: services.meeting_agenda_build(meeting_id=meeting.pk, actor=people["qe"]))

    assert sorted(results) == [0, 0, 0, 5]
    assert list(meeting.items.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 4, 5]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_decisions_at_once_one_wins():
    people = fx.users()
    meeting = services.meeting_create(actor=people["qe"], title="Race", held_on=fx.MEETING_DAY)
    plan = fx.issue("IMP-2025-0003", State.ACTION_PLAN)
    fx.action(plan, people["qe"], due=dt.date(2025, 4, 1))
    item = services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=plan.pk)

    results = _race(
        4,
        lambda i: services.agenda_item_decide(
            item_id=item.pk, actor=people["committee"], decision="approve_plan", minutes=f"take {i}"
        ),
    )

    assert sum(isinstance(r, AgendaItem) for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if not isinstance(r, AgendaItem))
    assert ImprovementEvent.objects.filter(issue=plan, kind="plan_approved").count() == 1
    assert ImprovementEvent.objects.filter(issue=plan, kind="review").count() == 1
