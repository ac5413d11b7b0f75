"""The supervisor page: who may open it, what each section lists for which teams, the
quick reassign control, and a query budget that does not grow with the rows."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import TicketFactory, UserFactory
from tickets import services
from tickets.models import AgentShift, Escalation, ServiceTask, Ticket

pytestmark = pytest.mark.django_db

URL = reverse("tickets:supervisor")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ticket(team, *, assignee=None, created_hours_ago=1.0, response_due_in=None, subject="", **fields) -> Ticket:
    """An open ticket (assigned when `assignee`) with its response due `response_due_in`
    hours from now (negative: overdue)."""
    now = timezone.now()
    row = TicketFactory(team=team, created_at=now - dt.timedelta(hours=created_hours_ago), subject=subject or "x")
    if assignee is not None:
        services.ticket_assign(ticket_id=row.pk, assignee=assignee, actor=None)
    if response_due_in is not None:
        fields["response_due_at"] = now + dt.timedelta(hours=response_due_in)
    if fields:
        Ticket.objects.filter(pk=row.pk).update(**fields)
    row.refresh_from_db()
    return row


def numbers(response, key) -> list[str]:
    return [t.external_id for t in response.context["queue"].lists[key]]


# --- access ------------------------------------------------------------------------------------


def test_anonymous_users_go_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_agents_are_refused(agent):
    assert client_for(agent).get(URL).status_code == 403


def test_the_nav_item_shows_for_supervisors_and_managers_only(agent, supervisor, manager):
    queue = reverse("tickets:queue")
    assert URL not in client_for(agent).get(queue).content.decode()
    assert URL in client_for(supervisor).get(queue).content.decode()
    assert URL in client_for(manager).get(queue).content.decode()


# --- the queue by SLA state --------------------------------------------------------------------


@pytest.fixture
def floor(team_a, team_b, agent, agent_b, supervisor):
    """Team A: one ticket per SLA state, plus one unassigned; Team B: one breached."""
    now = timezone.now()
    breached = ticket(team_a, assignee=agent, created_hours_ago=5, response_due_in=-1, subject="late")
    at_risk = ticket(team_a, assignee=agent, created_hours_ago=9, response_due_in=0.5, subject="close")
    Escalation.objects.create(ticket=at_risk, target="response", level=1, due_at=at_risk.response_due_at)
    fine = ticket(team_a, assignee=agent, created_hours_ago=1, response_due_in=20, subject="fine")
    no_sla = ticket(team_a, assignee=agent, subject="no targets")
    waiting = ticket(team_a, created_hours_ago=1, response_due_in=20, subject="nobody")
    done = ticket(team_a, assignee=agent, created_hours_ago=5, response_due_in=-1, status="resolved", resolved_at=now)
    other = ticket(team_b, assignee=agent_b, created_hours_ago=5, response_due_in=-2, subject="other team")
    return {
        "breached": breached,
        "at_risk": at_risk,
        "fine": fine,
        "no_sla": no_sla,
        "waiting": waiting,
        "done": done,
        "other": other,
    }


def test_the_team_queue_is_grouped_by_sla_state(floor, supervisor):
    response = client_for(supervisor).get(URL)
    assert response.status_code == 200
    f = {k: v.external_id for k, v in floor.items()}
    assert response.context["queue"].counts == {"breached": 1, "at_risk": 1, "ok": 3, "unassigned": 1}
    assert numbers(response, "breached") == [f["breached"]]
    assert numbers(response, "at_risk") == [f["at_risk"]]
    # Nearest due first; a ticket without targets last.
    assert numbers(response, "ok") == [f["fine"], f["waiting"], f["no_sla"]]
    assert numbers(response, "unassigned") == [f["waiting"]]
    body = response.content.decode()
    assert f["breached"] in body and f["other"] not in body and f["done"] not in body


def test_global_readers_see_every_team_and_can_narrow_to_one(floor, manager, team_b):
    teamless = ticket(None, subject="not routed")
    response = client_for(manager).get(URL)
    assert response.context["queue"].counts["breached"] == 2
    assert teamless.external_id in numbers(response, "unassigned")
    narrowed = client_for(manager).get(URL, {"team": team_b.pk})
    assert narrowed.context["chosen"] == team_b
    assert narrowed.context["queue"].counts == {"breached": 1, "at_risk": 0, "ok": 0, "unassigned": 0}
    assert numbers(narrowed, "breached") == [floor["other"].external_id]


def test_a_supervisor_cannot_pick_a_team_that_is_not_theirs(floor, supervisor, team_b):
    response = client_for(supervisor).get(URL, {"team": team_b.pk})
    assert response.context["chosen"] is None
    assert floor["other"].external_id not in response.content.decode()


def test_a_supervisor_leading_a_team_without_being_a_member_sees_it(team_b, agent_b):
    lead = UserFactory(username="lead_b", roles=["supervisor"])
    team_b.supervisor = lead
    team_b.save()
    row = ticket(team_b, assignee=agent_b, response_due_in=-1)
    assert numbers(client_for(lead).get(URL), "breached") == [row.external_id]


# --- escalations, follow-ups, callbacks, load --------------------------------------------------


def test_recent_escalations_newest_first_for_seven_days(floor, supervisor):
    now = timezone.now()
    t = floor["breached"]
    old = Escalation.objects.create(ticket=t, target="resolution", level=1, at=now - dt.timedelta(days=8), due_at=now)
    level2 = Escalation.objects.create(
        ticket=t, target="response", level=2, at=now - dt.timedelta(hours=1), due_at=t.response_due_at
    )
    Escalation.objects.create(ticket=floor["other"], target="response", level=2, due_at=now)
    shown = client_for(supervisor).get(URL).context["escalations"]
    # The at-risk ticket's level 1 was created by the fixture just now: newest.
    assert [(e.ticket_id, e.target, e.level) for e in shown] == [
        (floor["at_risk"].pk, "response", 1),
        (t.pk, "response", 2),
    ]
    assert old not in shown and level2 in shown


def test_overdue_follow_ups_and_open_callbacks(floor, supervisor, team_a, team_b):
    now = timezone.now()
    t = floor["done"]

    def task(kind, due_hours, team=team_a, done=False, round=0, on=t):
        return ServiceTask.objects.create(
            ticket=on,
            kind=kind,
            round=round,
            team=team,
            due_at=now + dt.timedelta(hours=due_hours),
            done_at=now if done else None,
        )

    overdue = task("follow_up", -2)
    task("follow_up", 5, round=1)  # not due yet
    task("follow_up", -3, round=2, done=True)  # done
    task("follow_up", -4, team=team_b, on=floor["other"])  # another team
    callback = task("callback", 1)
    task("callback", -1, round=1, done=True)
    context = client_for(supervisor).get(URL).context
    assert context["follow_ups"] == [overdue]
    assert context["callbacks"] == [callback]


def test_load_per_agent_with_shifts(floor, supervisor, team_a, agent):
    spare = UserFactory(username="spare", roles=["agent"])
    team_a.members.add(spare)
    weekday = timezone.localtime().weekday()
    AgentShift.objects.create(team=team_a, user=agent, weekday=weekday, start=dt.time(0), end=dt.time(23, 59, 59))
    load = client_for(supervisor).get(URL).context["load"]
    # The supervisor is a member but not an agent: not listed. agent_a: 4 open tickets
    # (breached, at risk, fine, no targets); the resolved one does not count.
    rows = [(r.team.name, r.user.username, r.open_count, r.on_shift) for r in load]
    assert rows == [("Team A", "agent_a", 4, True), ("Team A", "spare", 0, False)]


# --- reassigning -------------------------------------------------------------------------------


def test_quick_reassign_counts_and_keeps_the_dispatch_method(floor, supervisor, team_a, agent):
    spare = UserFactory(username="spare", roles=["agent"])
    team_a.members.add(spare)
    auto = services.ticket_create(
        actor=None, customer=floor["fine"].customer, team=team_a, subject="auto", type="repair", channel="web"
    )
    assert (auto.assignee, auto.dispatch_method) == (spare, "auto")  # the least loaded
    url = reverse("tickets:supervisor_assign", args=[auto.pk])
    response = client_for(supervisor).post(url, {"assignee": agent.pk, "version": auto.version, "next": URL})
    assert response.status_code == 302 and response.url == URL
    auto.refresh_from_db()
    assert (auto.assignee, auto.dispatch_method, auto.reassignments) == (agent, "auto", 1)
    # The row offers the team's agents with their load.
    body = client_for(supervisor).get(URL).content.decode()
    assert url in body and "spare · 0 open" in body


def test_quick_reassign_refuses_a_stale_version_and_other_teams(floor, supervisor, agent, agent_b):
    t = floor["fine"]
    url = reverse("tickets:supervisor_assign", args=[t.pk])
    client = client_for(supervisor)
    client.post(url, {"assignee": agent.pk, "version": t.version - 1})
    t.refresh_from_db()
    assert t.reassignments == 0
    other = floor["other"]
    response = client.post(
        reverse("tickets:supervisor_assign", args=[other.pk]), {"assignee": agent.pk, "version": other.version}
    )
    assert response.status_code == 404
    assert client_for(agent).post(url, {"assignee": agent.pk, "version": t.version}).status_code == 403


def test_an_unsafe_next_is_ignored(floor, supervisor, agent):
    t = floor["waiting"]
    response = client_for(supervisor).post(
        reverse("tickets:supervisor_assign", args=[t.pk]),
        {"assignee": agent.pk, "version": t.version, "next": "https://evil.example/"},
    )
    assert response.url == URL
    t.refresh_from_db()
    assert t.assignee == agent


# --- query budget ------------------------------------------------------------------------------


def _queries(user) -> int:
    client = client_for(user)
    client.get(URL)  # warm the session and content types
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured)


def test_the_page_costs_the_same_number_of_queries_for_5_and_30_tickets(supervisor, team_a, agent):
    def fill(n):
        now = timezone.now()
        for i in range(n):
            t = ticket(team_a, assignee=agent if i % 2 else None, response_due_in=(-1) ** i * (i + 1))
            Escalation.objects.create(ticket=t, target="response", level=1, due_at=now)
            ServiceTask.objects.create(ticket=t, kind="follow_up", team=team_a, due_at=now - dt.timedelta(hours=1))
            ServiceTask.objects.create(ticket=t, kind="callback", team=team_a, due_at=now)
        extra = UserFactory(username=f"extra{n}", roles=["agent"])
        team_a.members.add(extra)

    fill(5)
    small = _queries(supervisor)
    fill(25)
    assert _queries(supervisor) == small
    assert small <= 18
