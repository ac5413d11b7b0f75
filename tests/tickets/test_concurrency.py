"""Real threads against one ticket on PostgreSQL: the row lock in the gate must make
every accepted change land exactly once (no lost update, no duplicate event) and keep
the status log a valid chain. SQLite serialises writers itself, so this is PostgreSQL only."""

import threading
from collections import Counter

import pytest
from django.db import connection

from catalog.exceptions import ApplicationError
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.services import InvalidTransition, StaleVersion

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL row locks (SQLite serialises writers); set DATABASE_URL")


def run_threads(count: int, work) -> list:
    """Run work(i) in `count` threads released together; return [(i, result | exception)]."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(i):
        try:
            barrier.wait(timeout=30)
            results[i] = (i, work(i))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[i] = (i, error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def ticket_in_progress(agent, team) -> Ticket:
    ticket = services.ticket_create(
        actor=agent, customer=CustomerFactory(), team=team, subject="Race", type="repair", channel="app", dispatch=False
    )
    services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=agent)
    ticket = services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent)
    assert ticket.version == 3
    return ticket


def test_fifty_threads_lose_no_update(agent, team_a):
    ticket = ticket_in_progress(agent, team_a)
    start_version, start_event = ticket.version, TicketEvent.objects.filter(ticket=ticket).latest("id").pk

    def work(i):
        if i % 2 == 0:
            body = f"comment {i}"
            services.ticket_comment(ticket_id=ticket.pk, actor=agent, body=body, public=i % 4 == 0)
            return ("comment", body)
        current = Ticket.objects.values_list("status", flat=True).get(pk=ticket.pk)
        target = "waiting_customer" if current == "in_progress" else "in_progress"
        services.ticket_transition(ticket_id=ticket.pk, to_status=target, actor=agent)
        return ("status", target)

    results = run_threads(50, work)

    unexpected = [(i, r) for i, r in results if isinstance(r, BaseException) and not isinstance(r, InvalidTransition)]
    assert unexpected == []
    refused = [i for i, r in results if isinstance(r, InvalidTransition)]
    assert all(i % 2 == 1 for i in refused), "comments are never refused"
    succeeded = [r for _, r in results if not isinstance(r, BaseException)]
    comments = [body for kind, body in succeeded if kind == "comment"]
    toggles = [target for kind, target in succeeded if kind == "status"]
    assert len(comments) == 25
    assert len(toggles) >= 1
    assert len(succeeded) + len(refused) == 50

    ticket.refresh_from_db()
    assert ticket.version == start_version + len(succeeded)

    new_events = list(TicketEvent.objects.filter(ticket=ticket, pk__gt=start_event).order_by("id"))
    assert len(new_events) == len(succeeded)
    logged = Counter(e.comment for e in new_events if e.kind in ("reply", "note"))
    assert logged == Counter(comments)
    assert all(n == 1 for n in logged.values())

    status_events = [e for e in new_events if e.kind == "status"]
    assert len(status_events) == len(toggles)
    previous = "in_progress"
    for event in status_events:
        assert event.from_value == previous
        assert event.to_value != event.from_value
        previous = event.to_value
    assert previous == ticket.status
    assert Counter(e.to_value for e in status_events) == Counter(toggles)


def test_one_version_admits_exactly_one_change(agent, team_a):
    ticket = ticket_in_progress(agent, team_a)
    version = Ticket.objects.values_list("version", flat=True).get(pk=ticket.pk)
    targets = ["waiting_customer", "resolved"]

    def work(i):
        return services.ticket_transition(
            ticket_id=ticket.pk, to_status=targets[i % 2], actor=agent, expected_version=version
        ).status

    results = run_threads(20, work)

    winners = [r for _, r in results if isinstance(r, str)]
    losers = [r for _, r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert all(isinstance(r, (StaleVersion, InvalidTransition)) for r in losers), losers
    ticket.refresh_from_db()
    assert (ticket.version, ticket.status) == (version + 1, winners[0])
    assert TicketEvent.objects.filter(ticket=ticket, kind="status").count() == 2  # in_progress + the winner


def test_racing_for_one_ticket_number_is_a_refusal_not_a_crash(agent, team_a):
    customer = CustomerFactory()

    def work(i):
        return services.ticket_create(
            actor=agent,
            customer=customer,
            team=team_a,
            subject=f"dup {i}",
            type="repair",
            channel="web",
            external_id="EXT-RACE",
            dispatch=False,  # the race for the number only
        ).pk

    results = run_threads(10, work)

    created = [r for _, r in results if isinstance(r, int)]
    refused = [r for _, r in results if isinstance(r, BaseException)]
    assert len(created) == 1
    assert len(refused) == 9
    for error in refused:
        assert type(error) is ApplicationError, repr(error)
        assert "external_id" in error.errors
    assert list(Ticket.objects.filter(external_id="EXT-RACE").values_list("pk", flat=True)) == created
    assert TicketEvent.objects.filter(ticket__external_id="EXT-RACE").count() == 1
