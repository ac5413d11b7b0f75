"""The ticket gate: every (from, to) pair of the lifecycle, assignment, comments,
optimistic versions and ticket creation. Expectations are written out by hand here,
not derived from tickets.services, so a wrong table or stamp makes a test fail."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from catalog.exceptions import ApplicationError, ConflictError
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.services import InvalidTransition, StaleVersion

NEW, ASSIGNED, IN_PROGRESS, WAITING, RESOLVED, CLOSED = (
    "new",
    "assigned",
    "in_progress",
    "waiting_customer",
    "resolved",
    "closed",
)
STATUSES = [NEW, ASSIGNED, IN_PROGRESS, WAITING, RESOLVED, CLOSED]

# The lifecycle as the design states it, written out independently of services.TRANSITIONS.
# ASSIGNED is only entered through ticket_assign, so no (x, ASSIGNED) pair is here.
ALLOWED = {
    (ASSIGNED, IN_PROGRESS),
    (IN_PROGRESS, WAITING),
    (IN_PROGRESS, RESOLVED),
    (WAITING, IN_PROGRESS),
    (WAITING, RESOLVED),
    (RESOLVED, CLOSED),
    (RESOLVED, IN_PROGRESS),  # reopen
    (CLOSED, IN_PROGRESS),  # reopen
}
ALL_PAIRS = list(itertools.product(STATUSES, STATUSES))

T0 = timezone.make_aware(dt.datetime(2025, 6, 2, 9, 0))  # Monday 09:00 Asia/Shanghai


def hours(n: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


def row(ticket_id: int) -> dict:
    """Every column of the ticket row, as stored."""
    return Ticket.objects.filter(pk=ticket_id).values().get()


def event_log(ticket_id: int) -> list[dict]:
    return list(TicketEvent.objects.filter(ticket_id=ticket_id).order_by("id").values())


@pytest.fixture
def customer(db):
    return CustomerFactory()


def make_ticket(*, actor, team, customer, **kwargs) -> Ticket:
    # Auto-dispatch is tested in test_dispatch.py; here the gate starts from a new ticket.
    defaults = {"subject": "Washer leaks", "type": "repair", "channel": "phone", "at": T0, "dispatch": False}
    return services.ticket_create(actor=actor, customer=customer, team=team, **{**defaults, **kwargs})


def drive_to(status: str, *, actor, team, customer) -> Ticket:
    """A ticket in `status`, reached through the services as users would, one hour per step."""
    ticket = make_ticket(actor=actor, team=team, customer=customer)
    if status == NEW:
        return ticket
    ticket = services.ticket_assign(ticket_id=ticket.pk, assignee=actor, actor=actor, at=hours(1))
    path = {
        ASSIGNED: [],
        IN_PROGRESS: [IN_PROGRESS],
        WAITING: [IN_PROGRESS, WAITING],
        RESOLVED: [IN_PROGRESS, RESOLVED],
        CLOSED: [IN_PROGRESS, RESOLVED, CLOSED],
    }[status]
    for step, to_status in enumerate(path, start=2):
        ticket = services.ticket_transition(ticket_id=ticket.pk, to_status=to_status, actor=actor, at=hours(step))
    ticket.refresh_from_db()
    assert ticket.status == status
    return ticket


def test_the_transition_table_is_the_designed_one():
    table = {(a, b) for a, targets in services.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED | {(NEW, ASSIGNED)}
    reopen_from = set(services.REOPEN_FROM)
    assert reopen_from == {RESOLVED, CLOSED}


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_every_status_pair(from_status, to_status, agent, team_a, customer):
    ticket = drive_to(from_status, actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    at = hours(10)

    if (from_status, to_status) not in ALLOWED:
        with pytest.raises(ApplicationError) as refused:
            services.ticket_transition(
                ticket_id=ticket.pk, to_status=to_status, actor=agent, at=at, comment="should not stick"
            )
        if (from_status, to_status) == (NEW, ASSIGNED):
            # A step of the lifecycle, but one that needs an assignee: ticket_assign's job.
            assert type(refused.value) is ApplicationError
            assert (refused.value.status_code, list(refused.value.errors)) == (400, ["assignee"])
        else:
            assert type(refused.value) is InvalidTransition
            assert (refused.value.status_code, list(refused.value.errors)) == (409, ["status"])
        assert row(ticket.pk) == before
        assert event_log(ticket.pk) == events_before
        return

    result = services.ticket_transition(
        ticket_id=ticket.pk, to_status=to_status, actor=agent, at=at, comment="step", expected_version=ticket.version
    )
    after = row(ticket.pk)
    assert result.version == after["version"] == before["version"] + 1
    assert after["status"] == to_status

    expected_changes = {"status": to_status, "version": before["version"] + 1}
    if to_status == RESOLVED:
        expected_changes["resolved_at"] = at
    if to_status == CLOSED:
        expected_changes["closed_at"] = at
    if to_status == IN_PROGRESS and from_status in (RESOLVED, CLOSED):
        expected_changes.update(reopened_count=before["reopened_count"] + 1, resolved_at=None, closed_at=None)
    for name, value in expected_changes.items():
        assert after[name] == value, name
    untouched = set(before) - set(expected_changes) - {"updated_at"}
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}

    events = event_log(ticket.pk)
    assert events[: len(events_before)] == events_before
    assert len(events) == len(events_before) + 1
    new = events[-1]
    assert (new["kind"], new["from_value"], new["to_value"]) == ("status", from_status, to_status)
    assert (new["actor_id"], new["at"], new["comment"], new["public"]) == (agent.pk, at, "step", True)


@pytest.mark.django_db
def test_reopen_twice_counts_two(agent, team_a, customer):
    ticket = drive_to(CLOSED, actor=agent, team=team_a, customer=customer)  # steps up to hours(4)
    services.ticket_transition(ticket_id=ticket.pk, to_status=IN_PROGRESS, actor=agent, at=hours(5))
    services.ticket_transition(ticket_id=ticket.pk, to_status=RESOLVED, actor=agent, at=hours(6))
    services.ticket_transition(ticket_id=ticket.pk, to_status=IN_PROGRESS, actor=agent, at=hours(7))
    ticket.refresh_from_db()
    assert (ticket.reopened_count, ticket.resolved_at, ticket.closed_at) == (2, None, None)
    # created(1) + assign(2) + in_progress, resolved, closed (5) + reopen, resolved, reopen (8)
    assert ticket.version == 8


@pytest.mark.django_db
def test_unknown_status_is_refused(agent, team_a, customer):
    ticket = drive_to(IN_PROGRESS, actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ApplicationError) as refused:
        services.ticket_transition(ticket_id=ticket.pk, to_status="on_hold", actor=agent, at=hours(9))
    assert refused.value.status_code == 400
    assert "status" in refused.value.errors
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


@pytest.mark.django_db
def test_missing_ticket_is_refused(agent):
    with pytest.raises(ApplicationError) as refused:
        services.ticket_transition(ticket_id=999_999, to_status=IN_PROGRESS, actor=agent)
    assert "ticket" in refused.value.errors


def test_allowed_transitions_lists_the_table_without_assigned():
    expected = {
        NEW: [],
        ASSIGNED: [IN_PROGRESS],
        IN_PROGRESS: [RESOLVED, WAITING],
        WAITING: [IN_PROGRESS, RESOLVED],
        RESOLVED: [CLOSED, IN_PROGRESS],
        CLOSED: [IN_PROGRESS],
    }
    for status, targets in expected.items():
        assert services.allowed_transitions(Ticket(status=status)) == targets, status


# --- versions, clocks -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("service", ["transition", "assign", "comment"])
def test_stale_version_writes_nothing(service, agent, supervisor, team_a, customer):
    ticket = drive_to(IN_PROGRESS, actor=agent, team=team_a, customer=customer)
    assert ticket.version == 3
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    call = {
        "transition": lambda v: services.ticket_transition(
            ticket_id=ticket.pk, to_status=WAITING, actor=agent, expected_version=v, at=hours(9)
        ),
        "assign": lambda v: services.ticket_assign(
            ticket_id=ticket.pk, assignee=supervisor, actor=agent, expected_version=v, at=hours(9)
        ),
        "comment": lambda v: services.ticket_comment(
            ticket_id=ticket.pk, actor=agent, body="hello", public=True, expected_version=v, at=hours(9)
        ),
    }[service]
    for stale in (1, 2, 4):
        with pytest.raises(StaleVersion) as refused:
            call(stale)
        assert refused.value.status_code == 409
        assert refused.value.errors == {"version": ["stale"]}
        assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)
    # The current version goes through.
    assert call(3).version == 4


@pytest.mark.django_db
def test_naive_datetimes_are_refused(agent, team_a, customer):
    naive = dt.datetime(2025, 6, 2, 12, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        make_ticket(actor=agent, team=team_a, customer=customer, at=naive)
    assert Ticket.objects.count() == 0
    assert TicketEvent.objects.count() == 0

    ticket = drive_to(IN_PROGRESS, actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ValueError, match="timezone-aware"):
        services.ticket_transition(ticket_id=ticket.pk, to_status=RESOLVED, actor=agent, at=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=agent, at=naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="x", public=True, at=naive)
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


@pytest.mark.django_db
def test_changes_before_creation_are_refused_not_integrity_errors(agent, team_a, customer):
    ticket = make_ticket(actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ApplicationError) as refused:
        services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=agent, at=hours(-1))
    assert "at" in refused.value.errors
    with pytest.raises(ApplicationError):
        services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="early", public=True, at=hours(-1))
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


@pytest.mark.django_db
def test_closing_before_the_resolution_is_refused(agent, team_a, customer):
    ticket = drive_to(RESOLVED, actor=agent, team=team_a, customer=customer)  # resolved at hours(3)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ApplicationError) as refused:
        services.ticket_transition(ticket_id=ticket.pk, to_status=CLOSED, actor=agent, at=hours(2.5))
    assert "at" in refused.value.errors
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)
    closed = services.ticket_transition(ticket_id=ticket.pk, to_status=CLOSED, actor=agent, at=hours(3))
    assert closed.closed_at == closed.resolved_at == hours(3)


@pytest.mark.django_db
def test_default_time_is_now(agent, team_a, customer):
    start = timezone.now()
    ticket = services.ticket_create(
        actor=agent, customer=customer, team=team_a, subject="x", type="repair", channel="web"
    )
    assert start <= ticket.created_at <= timezone.now()


# --- assignment -----------------------------------------------------------------------


@pytest.mark.django_db
def test_first_assignment_stamps_and_moves_new_to_assigned(agent, team_a, customer):
    ticket = make_ticket(actor=agent, team=team_a, customer=customer)
    before = row(ticket.pk)
    assert (before["status"], before["assigned_at"], before["dispatch_method"], before["version"]) == (
        NEW,
        None,
        "",
        1,
    )

    services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=agent, method="auto", at=hours(0.5))
    after = row(ticket.pk)
    assert after["status"] == ASSIGNED
    assert after["assignee_id"] == agent.pk
    assert after["team_id"] == team_a.pk
    assert after["assigned_at"] == hours(0.5)
    assert after["dispatch_method"] == "auto"
    assert after["reassignments"] == 0
    assert after["version"] == 2
    events = event_log(ticket.pk)
    assert [(e["kind"], e["from_value"], e["to_value"]) for e in events] == [
        ("created", "", NEW),
        ("assigned", "", "agent_a"),
    ]


@pytest.mark.django_db
def test_reassignment_counts_without_touching_assigned_at(agent, supervisor, team_a, customer):
    ticket = drive_to(IN_PROGRESS, actor=agent, team=team_a, customer=customer)  # assigned at hours(1)
    before = row(ticket.pk)
    services.ticket_assign(ticket_id=ticket.pk, assignee=supervisor, actor=supervisor, method="auto", at=hours(5))
    after = row(ticket.pk)
    assert after["assignee_id"] == supervisor.pk
    assert after["reassignments"] == 1
    assert after["assigned_at"] == before["assigned_at"] == hours(1)
    assert after["dispatch_method"] == "manual"  # the first assignment's method stays
    assert after["status"] == IN_PROGRESS  # only NEW moves on assignment
    assert after["version"] == before["version"] + 1
    last = event_log(ticket.pk)[-1]
    assert (last["kind"], last["from_value"], last["to_value"], last["actor_id"]) == (
        "assigned",
        "agent_a",
        "super_a",
        supervisor.pk,
    )

    services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=supervisor, at=hours(6))
    assert row(ticket.pk)["reassignments"] == 2


@pytest.mark.django_db
def test_assignment_to_another_team(agent, agent_b, team_a, team_b, customer):
    ticket = drive_to(ASSIGNED, actor=agent, team=team_a, customer=customer)
    services.ticket_assign(ticket_id=ticket.pk, assignee=agent_b, team=team_b, actor=agent, at=hours(2))
    after = row(ticket.pk)
    assert (after["team_id"], after["assignee_id"], after["reassignments"]) == (team_b.pk, agent_b.pk, 1)


@pytest.mark.django_db
def test_assigning_a_non_member_writes_nothing(agent, agent_b, team_a, customer):
    ticket = make_ticket(actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ApplicationError) as refused:
        services.ticket_assign(ticket_id=ticket.pk, assignee=agent_b, actor=agent, at=hours(1))
    assert "assignee" in refused.value.errors
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


@pytest.mark.django_db
def test_assigning_the_same_person_again_is_a_conflict(agent, team_a, customer):
    ticket = drive_to(ASSIGNED, actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ConflictError):
        services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=agent, at=hours(2))
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [RESOLVED, CLOSED])
def test_assigning_a_finished_ticket_is_refused(status, agent, supervisor, team_a, customer):
    ticket = drive_to(status, actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(InvalidTransition):
        services.ticket_assign(ticket_id=ticket.pk, assignee=supervisor, actor=supervisor, at=hours(9))
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


@pytest.mark.django_db
def test_assignment_without_a_team_needs_no_membership(agent_b, customer):
    ticket = make_ticket(actor=agent_b, team=None, customer=customer)
    services.ticket_assign(ticket_id=ticket.pk, assignee=agent_b, actor=agent_b, at=hours(1))
    after = row(ticket.pk)
    assert (after["team_id"], after["assignee_id"], after["status"]) == (None, agent_b.pk, ASSIGNED)


# --- comments -------------------------------------------------------------------------


@pytest.mark.django_db
def test_first_public_reply_stamps_first_response_once(agent, team_a, customer):
    ticket = drive_to(ASSIGNED, actor=agent, team=team_a, customer=customer)

    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="internal", public=False, at=hours(2))
    assert row(ticket.pk)["first_response_at"] is None

    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="  We are on it.  ", public=True, at=hours(3))
    assert row(ticket.pk)["first_response_at"] == hours(3)

    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="Still on it.", public=True, at=hours(4))
    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="note", public=False, at=hours(5))
    after = row(ticket.pk)
    assert after["first_response_at"] == hours(3)
    assert after["version"] == 2 + 4
    assert after["status"] == ASSIGNED  # comments do not move the status
    comments = [(e["kind"], e["comment"], e["public"], e["at"]) for e in event_log(ticket.pk)[2:]]
    assert comments == [
        ("note", "internal", False, hours(2)),
        ("reply", "We are on it.", True, hours(3)),
        ("reply", "Still on it.", True, hours(4)),
        ("note", "note", False, hours(5)),
    ]


@pytest.mark.django_db
def test_a_system_message_is_not_a_first_response(agent, team_a, customer):
    ticket = make_ticket(actor=agent, team=team_a, customer=customer)
    services.ticket_comment(ticket_id=ticket.pk, actor=None, body="We got your request.", public=True, at=hours(1))
    assert row(ticket.pk)["first_response_at"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["", "   ", "\n\t"])
def test_empty_comment_is_refused(body, agent, team_a, customer):
    ticket = make_ticket(actor=agent, team=team_a, customer=customer)
    before, events_before = row(ticket.pk), event_log(ticket.pk)
    with pytest.raises(ApplicationError) as refused:
        services.ticket_comment(ticket_id=ticket.pk, actor=agent, body=body, public=True, at=hours(1))
    assert "body" in refused.value.errors
    assert (row(ticket.pk), event_log(ticket.pk)) == (before, events_before)


# --- creation -------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_writes_the_ticket_and_its_created_event(agent, team_a, customer):
    ticket = make_ticket(
        actor=agent, team=team_a, customer=customer, subject="  Drum noise ", priority="high", external_id="EXT-1"
    )
    stored = row(ticket.pk)
    assert stored["external_id"] == "EXT-1"
    assert stored["subject"] == "Drum noise"
    assert (stored["status"], stored["priority"], stored["type"], stored["channel"]) == (NEW, "high", "repair", "phone")
    assert (stored["created_at"], stored["version"], stored["assignee_id"], stored["assigned_at"]) == (
        T0,
        1,
        None,
        None,
    )
    events = event_log(ticket.pk)
    assert [(e["kind"], e["to_value"], e["actor_id"], e["at"], e["public"]) for e in events] == [
        ("created", NEW, agent.pk, T0, True)
    ]


@pytest.mark.django_db
def test_create_with_an_assignee_is_assigned_at_creation(agent, team_a, customer):
    ticket = make_ticket(actor=agent, team=team_a, customer=customer, assignee=agent)
    stored = row(ticket.pk)
    assert (stored["status"], stored["assignee_id"], stored["assigned_at"], stored["version"]) == (
        ASSIGNED,
        agent.pk,
        T0,
        2,
    )
    assert [e["kind"] for e in event_log(ticket.pk)] == ["created", "assigned"]


@pytest.mark.django_db
def test_generated_numbers_are_unique(agent, team_a, customer):
    numbers = {make_ticket(actor=agent, team=team_a, customer=customer).external_id for _ in range(5)}
    assert len(numbers) == 5
    assert all(n.startswith("T20250602-") for n in numbers)


@pytest.mark.django_db
def test_create_refuses_bad_fields_all_at_once_and_writes_nothing(agent, agent_b, team_a, customer):
    with pytest.raises(ApplicationError) as refused:
        services.ticket_create(
            actor=agent,
            customer=customer,
            team=team_a,
            assignee=agent_b,  # not in team A
            subject="   ",
            type="bogus",
            channel="fax",
            priority="whenever",
            at=T0,
        )
    assert refused.value.status_code == 400
    assert set(refused.value.errors) == {"subject", "type", "channel", "priority", "assignee"}
    assert Ticket.objects.count() == 0
    assert TicketEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("subject", ""), ("subject", "x" * 256), ("type", "Repair"), ("channel", ""), ("priority", "URGENT")],
)
def test_create_refuses_one_bad_field(field, value, agent, team_a, customer):
    with pytest.raises(ApplicationError) as refused:
        make_ticket(actor=agent, team=team_a, customer=customer, **{field: value})
    assert list(refused.value.errors) == [field]
    assert Ticket.objects.count() == 0
    assert TicketEvent.objects.count() == 0


@pytest.mark.django_db
def test_create_refuses_a_taken_number(agent, team_a, customer):
    first = make_ticket(actor=agent, team=team_a, customer=customer, external_id="EXT-9")
    with pytest.raises(ApplicationError) as refused:
        make_ticket(actor=agent, team=team_a, customer=customer, external_id="EXT-9", subject="other")
    assert refused.value.status_code == 400
    assert "external_id" in refused.value.errors
    assert list(Ticket.objects.values_list("pk", flat=True)) == [first.pk]
    assert TicketEvent.objects.count() == 1


@pytest.mark.django_db
def test_create_refuses_an_overlong_number(agent, team_a, customer):
    with pytest.raises(ApplicationError) as refused:
        make_ticket(actor=agent, team=team_a, customer=customer, external_id="E" * 65)
    assert list(refused.value.errors) == ["external_id"]
    assert Ticket.objects.count() == 0
