"""SLA policies and clocks: the specificity rule, due times on business calendars, pause
and resume, reopen, priority changes, imported due times, the state and the queue.
Business minutes are counted by hand on Mon-Fri 09:00-12:00 + 13:30-18:00 (450 a day)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.exceptions import ConflictError
from tests.factories import CustomerFactory, ProductLineFactory, RegionFactory, TicketFactory, UnitFactory
from tickets import selectors, services
from tickets.models import BusinessCalendar, SlaPolicy, Ticket, WorkingWindow

SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return dt.datetime(*args, tzinfo=SH)


MON = at(2026, 3, 2, 10)  # Monday 2 March 2026, 10:00


@pytest.fixture
def office(db):
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Asia/Shanghai", is_default=True)
    for weekday in range(5):
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=dt.time(9), end=dt.time(12))
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=dt.time(13, 30), end=dt.time(18))
    return calendar


@pytest.fixture
def policies(office):
    return {
        p: SlaPolicy.objects.create(name=p, priority=p, response_minutes=r, resolution_minutes=s)
        for p, r, s in (("urgent", 30, 240), ("high", 60, 480), ("normal", 120, 480), ("low", 240, 2880))
    }


def create(agent, team, *, priority="normal", at_=MON, **kwargs):
    return services.ticket_create(
        actor=agent,
        customer=kwargs.pop("customer", None) or CustomerFactory(),
        team=team,
        subject="Washer leaks",
        type=kwargs.pop("type", "repair"),
        channel="phone",
        priority=priority,
        at=at_,
        dispatch=False,
        **kwargs,
    )


# --- policy specificity -------------------------------------------------------------------


def facts_ticket(*, priority="high", type="repair", segment="vip", line=None, region=None):
    customer = CustomerFactory(segment=segment, **({"region": region} if region else {}))
    unit = UnitFactory(customer=customer, batch__product_model__product_line=line) if line else None
    return TicketFactory.build(priority=priority, type=type, customer=customer, unit=unit)


def policy(name, **criteria):
    return SlaPolicy.objects.create(name=name, response_minutes=60, resolution_minutes=600, **criteria)


@pytest.mark.django_db
def test_most_criteria_win():
    policy("any")
    policy("high", priority="high")
    both = policy("high vip", priority="high", segment="vip")
    assert services.sla_policy_match(facts_ticket()) == both
    assert services.sla_policy_match(facts_ticket(segment="consumer")).name == "high"
    assert services.sla_policy_match(facts_ticket(priority="low", segment="consumer")).name == "any"


@pytest.mark.django_db
def test_ties_go_by_weight_then_id():
    line = ProductLineFactory(code="dryer", name="Dryer")
    region = RegionFactory(name="East")
    # Two criteria each: priority + type (16 + 8) beats segment + product line (4 + 2).
    policy("segment line", segment="vip", product_line=line)
    wins = policy("priority type", priority="high", ticket_type="repair")
    ticket = facts_ticket(line=line, region=region)
    assert services.sla_policy_match(ticket) == wins
    # One criterion each: type (8) beats region (1).
    SlaPolicy.objects.all().delete()
    policy("region", region=region)
    by_type = policy("type", ticket_type="repair")
    assert services.sla_policy_match(ticket) == by_type
    # Same criteria: the older policy.
    policy("type again", ticket_type="repair")
    assert services.sla_policy_match(ticket) == by_type


@pytest.mark.django_db
def test_inactive_and_mismatching_policies_are_ignored():
    policy("urgent only", priority="urgent")
    policy("off", priority="high", active=False)
    assert services.sla_policy_match(facts_ticket()) is None


# --- due times, pause, resume, reopen, priority ------------------------------------------


def test_create_sets_due_times_on_the_calendar(agent, team_a, policies):
    ticket = create(agent, team_a)
    assert ticket.sla_policy == policies["normal"]
    assert ticket.sla_due_source == "policy"
    assert ticket.response_due_at == at(2026, 3, 2, 12)  # 120 min
    # 480: 120 until lunch + 270 afternoon = 390, then Tuesday 09:00 + 90.
    assert ticket.resolution_due_at == at(2026, 3, 3, 10, 30)
    # First checkpoint: 80 % of the response target (96 min) -> 11:36.
    assert ticket.sla_next_check_at == at(2026, 3, 2, 11, 36)


def test_policy_calendar_beats_team_calendar_beats_default(agent, team_a, policies, office):
    night = BusinessCalendar.objects.create(name="Night", time_zone="Asia/Shanghai")
    WorkingWindow.objects.create(calendar=night, weekday=0, start=dt.time(20), end=dt.time(23))
    team_a.calendar = night
    team_a.save()
    assert create(agent, team_a).response_due_at == at(2026, 3, 2, 22)  # Monday 20:00 + 120
    policies["normal"].calendar = office
    policies["normal"].save()
    assert create(agent, team_a).response_due_at == at(2026, 3, 2, 12)


def test_pause_and_resume_push_the_unmet_due_times(agent, team_a, policies):
    ticket = create(agent, team_a, assignee=agent)
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 2, 10, 10))
    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="On it", public=True, at=at(2026, 3, 2, 10, 20))
    ticket = services.ticket_transition(
        ticket_id=ticket.pk, to_status="waiting_customer", actor=agent, at=at(2026, 3, 2, 10, 30)
    )
    assert ticket.sla_paused_at == at(2026, 3, 2, 10, 30)
    assert ticket.sla_next_check_at is None  # nothing escalates while paused
    state = selectors.ticket_sla_state(ticket, now=at(2026, 3, 4, 12))
    assert state["resolution"]["state"] == "paused"
    # Frozen at the pause: 480 - 30 consumed.
    assert state["resolution"]["business_minutes_left"] == 450
    assert state["response"]["state"] == "met"

    # Resumed on Tuesday 10:00: paused 90 + 270 + 60 = 420 business minutes.
    ticket = services.ticket_transition(
        ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 3, 10)
    )
    assert ticket.sla_paused_at is None
    assert ticket.sla_paused_minutes == 420
    # Tuesday 10:30 + 420: 90 + 270 on Tuesday, Wednesday 09:00 + 60.
    assert ticket.resolution_due_at == at(2026, 3, 4, 10)
    assert ticket.response_due_at == at(2026, 3, 2, 12)  # met: not moved
    # 80 % of 480 = 384 consumed: 30 before the pause, 354 from Tuesday 10:00 (120 until
    # lunch, 234 from 13:30) -> Tuesday 17:24.
    assert ticket.sla_next_check_at == at(2026, 3, 3, 17, 24)
    state = selectors.ticket_sla_state(ticket, now=at(2026, 3, 3, 10))
    assert state["resolution"]["state"] == "ok"
    assert state["resolution"]["business_minutes_left"] == 450


def test_priority_change_after_a_pause_keeps_the_paused_time(agent, team_a, policies):
    ticket = create(agent, team_a, assignee=agent)
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 2, 10, 10))
    services.ticket_transition(
        ticket_id=ticket.pk, to_status="waiting_customer", actor=agent, at=at(2026, 3, 2, 10, 30)
    )
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 3, 10))
    ticket = services.ticket_priority_set(
        ticket_id=ticket.pk, priority="urgent", actor=agent, comment="Customer is a hospital", at=at(2026, 3, 3, 10, 5)
    )
    assert ticket.sla_policy == policies["urgent"]
    assert ticket.sla_paused_minutes == 420  # kept, not restarted
    # Response 30 + 420 paused = 450 business minutes from Monday 10:00: Tuesday 10:00.
    assert ticket.response_due_at == at(2026, 3, 3, 10)
    # Resolution 240 + 420 = 660: Monday 390, Tuesday 180 until 12:00, 90 from 13:30.
    assert ticket.resolution_due_at == at(2026, 3, 3, 15)
    event = ticket.events.latest("id")
    assert (event.kind, event.from_value, event.to_value) == ("priority", "normal", "urgent")
    with pytest.raises(ConflictError):
        services.ticket_priority_set(ticket_id=ticket.pk, priority="urgent", actor=agent)


def test_priority_change_while_paused_then_resume(agent, team_a, policies):
    ticket = create(agent, team_a, assignee=agent)
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 2, 10, 10))
    services.ticket_transition(
        ticket_id=ticket.pk, to_status="waiting_customer", actor=agent, at=at(2026, 3, 2, 10, 30)
    )
    ticket = services.ticket_priority_set(ticket_id=ticket.pk, priority="high", actor=agent, at=at(2026, 3, 2, 15))
    assert ticket.sla_next_check_at is None
    assert ticket.resolution_due_at == at(2026, 3, 3, 10, 30)  # high: 480 from Monday 10:00
    ticket = services.ticket_transition(
        ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 3, 10)
    )
    assert ticket.sla_paused_minutes == 420
    assert ticket.resolution_due_at == at(2026, 3, 4, 10)


def test_reopen_counts_the_resolved_time_as_paused(agent, team_a, policies):
    ticket = create(agent, team_a, assignee=agent)
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 2, 10, 10))
    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="Fixed", public=True, at=at(2026, 3, 2, 10, 20))
    ticket = services.ticket_transition(ticket_id=ticket.pk, to_status="resolved", actor=agent, at=at(2026, 3, 2, 11))
    assert ticket.sla_next_check_at is None
    assert selectors.ticket_sla_state(ticket)["resolution"]["state"] == "met"
    # Reopened Tuesday 09:30: 60 + 270 + 30 = 360 business minutes while resolved.
    ticket = services.ticket_transition(
        ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(2026, 3, 3, 9, 30)
    )
    assert ticket.sla_paused_minutes == 360
    # Tuesday 10:30 + 360: 90 + 270 -> Tuesday 18:00.
    assert ticket.resolution_due_at == at(2026, 3, 3, 18)
    state = selectors.ticket_sla_state(ticket, now=at(2026, 3, 3, 9, 30))
    assert state["resolution"]["business_minutes_left"] == 480 - 60  # 60 worked before the resolution


def test_imported_due_times_are_kept(agent, team_a, policies):
    ticket = TicketFactory(
        team=team_a,
        created_at=MON,
        response_due_at=at(2026, 3, 9, 9),
        resolution_due_at=at(2026, 3, 20, 18),
        sla_due_source="import",
        status="in_progress",
    )
    ticket = services.ticket_priority_set(ticket_id=ticket.pk, priority="urgent", actor=agent, at=at(2026, 3, 2, 11))
    assert ticket.sla_policy == policies["urgent"]
    assert (ticket.response_due_at, ticket.resolution_due_at) == (at(2026, 3, 9, 9), at(2026, 3, 20, 18))
    assert ticket.sla_due_source == "import"


def test_no_policy_no_clock(agent, team_a, office):
    ticket = create(agent, team_a)
    assert (ticket.sla_policy, ticket.response_due_at, ticket.sla_next_check_at) == (None, None, None)
    state = selectors.ticket_sla_state(ticket)
    assert {s["state"] for s in state.values()} == {"none"}


# --- state ----------------------------------------------------------------------------------


def test_state_ok_at_risk_breached(agent, team_a, policies):
    ticket = create(agent, team_a)  # response due Monday 12:00 (120 min)
    response = lambda now: selectors.ticket_sla_state(ticket, now=now)["response"]  # noqa: E731
    assert response(at(2026, 3, 2, 11))["state"] == "ok"
    assert response(at(2026, 3, 2, 11))["business_minutes_left"] == 60
    assert response(at(2026, 3, 2, 11, 36))["state"] == "at_risk"  # 96 of 120 = 80 %
    assert response(at(2026, 3, 2, 11, 35))["state"] == "ok"
    late = response(at(2026, 3, 2, 14))
    assert (late["state"], late["business_minutes_left"]) == ("breached", -30)  # 13:30-14:00
    with time_machine.travel(at(2026, 3, 2, 11, 50), tick=False):
        assert selectors.ticket_sla_state(ticket)["response"]["state"] == "at_risk"


def test_state_annotation(agent, team_a, policies):
    ok = create(agent, team_a)
    late = create(agent, team_a, at_=at(2026, 2, 27, 9))  # Friday: response due 11:00
    paused = create(agent, team_a, assignee=agent, at_=at(2026, 2, 27, 9))
    services.ticket_transition(ticket_id=paused.pk, to_status="in_progress", actor=agent, at=at(2026, 2, 27, 9, 5))
    services.ticket_comment(ticket_id=paused.pk, actor=agent, body="Hi", public=True, at=at(2026, 2, 27, 9, 6))
    services.ticket_transition(
        ticket_id=paused.pk, to_status="waiting_customer", actor=agent, at=at(2026, 2, 27, 9, 10)
    )
    closed = TicketFactory(team=team_a, status="closed", resolution_due_at=MON, created_at=at(2026, 2, 1))
    now = at(2026, 3, 2, 11, 40)  # ok's response is at risk from 11:36, its checkpoint passed
    rows = dict(selectors.sla_state_annotate(Ticket.objects.all(), now=now).values_list("pk", "sla_state"))
    assert rows == {ok.pk: "at_risk", late.pk: "breached", paused.pk: "ok", closed.pk: "none"}
    rows = dict(
        selectors.sla_state_annotate(Ticket.objects.all(), now=at(2026, 3, 2, 10, 30)).values_list("pk", "sla_state")
    )
    assert rows[ok.pk] == "ok"
    due = dict(selectors.sla_state_annotate(Ticket.objects.all(), now=now).values_list("pk", "sla_next_due_at"))
    assert due == {
        ok.pk: at(2026, 3, 2, 12),
        late.pk: at(2026, 2, 27, 11),
        paused.pk: paused.resolution_due_at,
        closed.pk: None,
    }


# --- the queue --------------------------------------------------------------------------------


def test_queue_sorts_by_nearest_due_time_and_shows_badges(agent, team_a, policies, client):
    later = create(agent, team_a, priority="low")  # response due Monday 14:30 + ... (240)
    sooner = create(agent, team_a, priority="urgent")  # response due Monday 10:30
    middle = create(agent, team_a, priority="high")  # response due 11:00
    untimed = TicketFactory(team=team_a)
    client.force_login(agent)
    with time_machine.travel(at(2026, 3, 2, 10, 50), tick=False):
        response = client.get(reverse("tickets:queue"), {"status": "open", "sort": "sla_due"})
    rows = list(response.context["page"])
    assert rows == [sooner, middle, later, untimed]
    html = response.content.decode()
    assert 'data-sla-state="breached"' in html and 'data-sla-state="at_risk"' in html
    assert 'data-sla-state="ok"' in html


def test_queue_query_count_with_sla_badges_does_not_grow(agent, team_a, policies, client):
    client.force_login(agent)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("tickets:queue"))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    create(agent, team_a)
    few = count()
    for priority in ("urgent", "high", "low", "normal", "urgent"):
        create(agent, team_a, priority=priority)
    assert count() == few


def test_detail_page_shows_the_sla_card(agent, team_a, policies, client):
    ticket = create(agent, team_a)
    client.force_login(agent)
    with time_machine.travel(at(2026, 3, 2, 11), tick=False):
        html = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert "sla-card" in html and "normal" in html
    assert "1 h" in html  # response: 60 business minutes left


# --- the import -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_import_keeps_given_due_times_and_computes_the_others(team_a, policies):
    from intake.services import import_records

    vip = CustomerFactory(external_id="C-VIP", segment="vip")
    SlaPolicy.objects.create(
        name="VIP urgent", priority="urgent", segment="vip", response_minutes=10, resolution_minutes=60
    )
    base = {"type": "repair", "channel": "phone", "subject": "Imported", "team": team_a.name}
    run = import_records(
        entity="tickets",
        records=[
            # Given due times: kept as given.
            {
                **base,
                "external_id": "I-1",
                "customer": vip.external_id,
                "priority": "urgent",
                "created_at": "2026-03-02T10:00:00+08:00",
                "response_due_at": "2026-03-09T09:00:00+08:00",
                "resolution_due_at": "2026-03-20T18:00:00+08:00",
            },
            # None given: the most specific policy (VIP urgent) on the team's (default) calendar.
            {
                **base,
                "external_id": "I-2",
                "customer": vip.external_id,
                "priority": "urgent",
                "created_at": "2026-03-02T11:55:00+08:00",
            },
            # Closed: due times, no checkpoint.
            {
                **base,
                "external_id": "I-3",
                "customer": vip.external_id,
                "priority": "low",
                "created_at": "2026-03-02T10:00:00+08:00",
                "resolved_at": "2026-03-02T11:00:00+08:00",
                "closed_at": "2026-03-02T12:00:00+08:00",
            },
        ],
    )
    assert run.created == 3, run.message
    one, two, three = (Ticket.objects.get(external_id=f"I-{n}") for n in (1, 2, 3))
    assert (one.sla_due_source, one.response_due_at, one.resolution_due_at) == (
        "import",
        at(2026, 3, 9, 9),
        at(2026, 3, 20, 18),
    )
    assert one.sla_policy.name == "VIP urgent"
    assert two.sla_due_source == "policy" and two.sla_policy.name == "VIP urgent"
    # 10 minutes from 11:55: 5 before lunch, 5 from 13:30.
    assert two.response_due_at == at(2026, 3, 2, 13, 35)
    assert two.resolution_due_at == at(2026, 3, 2, 14, 25)
    assert two.sla_next_check_at == at(2026, 3, 2, 13, 33)  # 8 of 10 minutes
    assert three.sla_policy == policies["low"] and three.sla_next_check_at is None
    assert three.resolution_due_at is not None
