"""The SLA sweep: each level once per ticket and target, whatever the number of runs,
the clock moves (time_machine, no sleeping), or two sweeps racing on PostgreSQL."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tests.factories import BreachedTicketFactory, CustomerFactory, TeamFactory, UserFactory
from tickets import selectors, services
from tickets.models import (
    BusinessCalendar,
    Escalation,
    Notification,
    SlaPolicy,
    Ticket,
    TicketEvent,
    WorkingWindow,
)
from tickets.services import calendar_holidays_prefill
from tickets.services.escalation import sla_sweep

SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
def china(db):
    calendar = BusinessCalendar.objects.create(name="China business hours", time_zone="Asia/Shanghai", is_default=True)
    for weekday in range(5):
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=dt.time(9), end=dt.time(12))
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=dt.time(13, 30), end=dt.time(18))
    calendar_holidays_prefill(calendar=calendar, years=[2026])
    return calendar


@pytest.fixture
def people(db):
    agent = UserFactory(username="esc_agent", roles=["agent"])
    supervisor = UserFactory(username="esc_super", roles=["supervisor"])
    manager = UserFactory(username="esc_manager", roles=["manager"])
    team = TeamFactory(name="Escalation team", supervisor=supervisor, members=[agent, supervisor])
    return {"agent": agent, "supervisor": supervisor, "manager": manager, "team": team}


def escalations(ticket) -> list[tuple[str, int]]:
    return sorted(Escalation.objects.filter(ticket=ticket).values_list("target", "level"))


def notices(ticket) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(payload__ticket_id=ticket.pk).values_list("recipient__username", "kind"))


def sweep_at(when):
    with time_machine.travel(when, tick=False):
        return sla_sweep()


def test_friday_ticket_before_a_holiday_skips_them_and_escalates_once_per_level(china, people):
    """The issue's "done when": created on Friday 3 April 2026 at 16:00, before the
    weekend and the Tomb-Sweeping holiday on Monday 6 April."""
    SlaPolicy.objects.create(name="Standard", response_minutes=240, resolution_minutes=480)
    agent = people["agent"]
    ticket = services.ticket_create(
        actor=agent,
        customer=CustomerFactory(),
        team=people["team"],
        assignee=agent,
        subject="No heating",
        type="repair",
        channel="phone",
        at=at(2026, 4, 3, 16),
        dispatch=False,
    )
    # Response 240: 120 on Friday, then Tuesday 7 April 09:00 + 120.
    assert ticket.response_due_at == at(2026, 4, 7, 11)
    # Resolution 480: 120 on Friday, 180 Tuesday morning, 180 from 13:30.
    assert ticket.resolution_due_at == at(2026, 4, 7, 16, 30)

    # Nothing before the first checkpoint (80 % of 240 = 192: Tuesday 10:12).
    assert sweep_at(at(2026, 4, 6, 12))["tickets"] == 0
    steps = [
        (at(2026, 4, 7, 10, 30), [("response", 1)]),
        (at(2026, 4, 7, 11, 5), [("response", 1), ("response", 2)]),
        # Resolution at risk at 384: Tuesday 14:54.
        (at(2026, 4, 7, 15), [("resolution", 1), ("response", 1), ("response", 2)]),
        # Both breached for 4 business hours: response at 16:30, resolution Wednesday 11:30.
        (
            at(2026, 4, 7, 16, 45),
            [("resolution", 1), ("resolution", 2), ("response", 1), ("response", 2), ("response", 3)],
        ),
        (
            at(2026, 4, 8, 11, 30),
            [
                ("resolution", 1),
                ("resolution", 2),
                ("resolution", 3),
                ("response", 1),
                ("response", 2),
                ("response", 3),
            ],
        ),
    ]
    for when, expected in steps:
        sweep_at(when)
        assert sweep_at(when)["tickets"] == 0, "a second run finds nothing to do"
        assert escalations(ticket) == expected, when
    ticket.refresh_from_db()
    assert ticket.sla_next_check_at is None
    # Two level-2 steps: normal -> high -> urgent; the due times did not move.
    assert ticket.priority == "urgent"
    assert (ticket.response_due_at, ticket.resolution_due_at) == (at(2026, 4, 7, 11), at(2026, 4, 7, 16, 30))
    escalated = TicketEvent.objects.filter(ticket=ticket, kind="escalated").values_list("from_value", "to_value")
    assert list(escalated) == [("normal", "high"), ("high", "urgent")]
    assert notices(ticket) == sorted(
        [
            ("esc_agent", "sla.at_risk"),
            ("esc_agent", "sla.at_risk"),
            ("esc_super", "sla.breached"),
            ("esc_super", "sla.breached"),
            ("esc_manager", "sla.long_breached"),
            ("esc_manager", "sla.long_breached"),
        ]
    )
    # Far later, and with the command: still once per level.
    call_command("escalate_sla", "--at", "2026-05-01T12:00:00+08:00")
    assert len(escalations(ticket)) == 6
    assert Notification.objects.filter(payload__ticket_id=ticket.pk).count() == 6


def test_a_late_first_sweep_fires_every_reached_level_once(people):
    # No calendar: 24x7. Created 10 h ago, due 1 h ago; level 3 (4 h after) not reached.
    now = timezone.now()
    ticket = BreachedTicketFactory(external_id="T-LATE", team=people["team"], subject="Late", now=now)
    counts = sla_sweep(now=now)
    assert counts == {"tickets": 1, "level_1": 1, "level_2": 1, "level_3": 0}
    # Unassigned: the at-risk notice goes to the supervisor.
    assert notices(ticket) == [("esc_super", "sla.at_risk"), ("esc_super", "sla.breached")]
    ticket.refresh_from_db()
    assert ticket.sla_next_check_at == now + dt.timedelta(hours=3)
    assert sla_sweep(now=now + dt.timedelta(hours=3))["level_3"] == 1
    assert ("esc_manager", "sla.long_breached") in notices(ticket)


def test_paused_and_resolved_tickets_do_not_escalate(china, people):
    SlaPolicy.objects.create(name="Standard", response_minutes=60, resolution_minutes=120)
    agent = people["agent"]
    ticket = services.ticket_create(
        actor=agent,
        customer=CustomerFactory(),
        team=people["team"],
        assignee=agent,
        subject="Noise",
        type="repair",
        channel="phone",
        at=at(2026, 3, 2, 9),
        dispatch=False,
    )
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 2, 9, 5))
    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="Photo?", public=True, at=at(2026, 3, 2, 9, 10))
    services.ticket_transition(ticket_id=ticket.pk, to_status="waiting_customer", actor=agent, at=at(2026, 3, 2, 9, 15))
    assert sweep_at(at(2026, 3, 9, 12))["tickets"] == 0
    assert escalations(ticket) == []
    ticket = services.ticket_transition(ticket_id=ticket.pk, to_status="resolved", actor=agent, at=at(2026, 3, 9, 12))
    assert ticket.sla_next_check_at is None
    assert sweep_at(at(2026, 3, 20, 12))["tickets"] == 0
    assert escalations(ticket) == []


def test_sweep_reads_only_due_checkpoints(people, django_assert_max_num_queries):
    now = timezone.now()
    for n in range(30):
        Ticket.objects.create(
            external_id=f"T-Q{n}",
            customer=CustomerFactory(),
            type="repair",
            channel="phone",
            subject="Later",
            created_at=now,
            resolution_due_at=now + dt.timedelta(days=2),
            sla_next_check_at=now + dt.timedelta(days=1),
        )
    with django_assert_max_num_queries(6):
        assert sla_sweep(now=now)["tickets"] == 0


def test_sla_state_annotation_sees_the_recorded_level_one(people):
    now = timezone.now()
    ticket = Ticket.objects.create(
        external_id="T-RISK",
        customer=CustomerFactory(),
        type="repair",
        channel="phone",
        subject="Risky",
        status="in_progress",
        created_at=now - dt.timedelta(hours=9),
        resolution_due_at=now + dt.timedelta(hours=1),
        sla_next_check_at=now - dt.timedelta(minutes=1),
    )
    sla_sweep(now=now)
    ticket.refresh_from_db()
    assert escalations(ticket) == [("resolution", 1)]
    assert ticket.sla_next_check_at == now + dt.timedelta(hours=1)
    state = selectors.sla_state_annotate(Ticket.objects.filter(pk=ticket.pk), now=now).get().sla_state
    assert state == "at_risk"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_escalate_each_ticket_once():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL row locks")
    supervisor = UserFactory(username="race_super", roles=["supervisor"])
    team = TeamFactory(name="Race team", supervisor=supervisor)
    customer = CustomerFactory()
    now = timezone.now()
    Ticket.objects.bulk_create(
        [
            BreachedTicketFactory.build(
                external_id=f"T-RACE-{n:03d}",
                customer=customer,
                team=team,
                now=now,
                sla_next_check_at=now - dt.timedelta(hours=1),
            )
            for n in range(200)
        ]
    )
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def work(i):
        try:
            barrier.wait(timeout=30)
            results[i] = sla_sweep(now=now)
        except BaseException as error:  # noqa: BLE001 - reported below
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(isinstance(r, BaseException) for r in results), results
    assert Escalation.objects.filter(level=2).count() == 200
    assert Escalation.objects.filter(level=1).count() == 200
    assert Notification.objects.filter(kind="sla.breached").count() == 200
    assert Notification.objects.filter(kind="sla.at_risk").count() == 200
    assert sum(r["level_2"] for r in results) == 200  # the work was shared, never doubled
    assert TicketEvent.objects.filter(kind="escalated").count() == 200
    assert set(Ticket.objects.values_list("priority", flat=True)) == {"high"}
