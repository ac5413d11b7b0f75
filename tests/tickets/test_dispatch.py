"""Auto-dispatch: rules route a new ticket to a team, the agent on shift with the fewest
open tickets gets it (round-robin on ties), shifts are read in the team's time zone,
and concurrent dispatches to one team spread over its agents. Expected agents and
instants are written out by hand."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from tests.conftest import api_for
from tests.factories import (
    CustomerFactory,
    ProductLineFactory,
    ProductModelFactory,
    RegionFactory,
    TeamFactory,
    UnitFactory,
    UserFactory,
)
from tickets import services
from tickets.models import AgentShift, BusinessCalendar, DispatchRule, Ticket, TicketEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
# Monday 2 June 2025, 10:00 in Shanghai.
T0 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=SHANGHAI)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def agents(team, *names, roles=("agent",)):
    users = [UserFactory(username=name, roles=list(roles)) for name in names]
    team.members.add(*users)
    return users


def create(*, customer=None, unit=None, team=None, when=T0, **kwargs) -> Ticket:
    values = {"subject": "Washer leaks", "type": "repair", "channel": "phone", **kwargs}
    customer = customer or (unit.customer if unit else CustomerFactory())
    return services.ticket_create(actor=None, customer=customer, unit=unit, team=team, at=when, **values)


def close(ticket: Ticket, when) -> None:
    """Take a ticket out of the open statuses (as an agent would)."""
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=ticket.assignee, at=when)
    services.ticket_transition(ticket_id=ticket.pk, to_status="resolved", actor=ticket.assignee, at=when)


def rule(team, position=100, **criteria) -> DispatchRule:
    return DispatchRule.objects.create(name=f"to {team.name} #{position}", position=position, team=team, **criteria)


# --- rules -------------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    """Two teams with one agent each, two regions, two product lines."""
    east, north = RegionFactory(name="East"), RegionFactory(name="North")
    washer = ProductLineFactory(code="washer", name="Washer")
    aircon = ProductLineFactory(code="aircon", name="Air conditioner")
    teams = {"washers": TeamFactory(name="Washers"), "general": TeamFactory(name="General")}
    agents(teams["washers"], "wash1")
    agents(teams["general"], "gen1")
    return {
        "east": east,
        "north": north,
        "washer": washer,
        "aircon": aircon,
        **teams,
    }


def unit_of(line, region):
    return UnitFactory(product_model=ProductModelFactory(product_line=line), customer=CustomerFactory(region=region))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("criterion", "matching", "other"),
    [
        ("region", {"region": "east"}, {"region": "north"}),
        ("product_line", {"line": "washer"}, {"line": "aircon"}),
        ("ticket_type", {"type": "repair"}, {"type": "inquiry"}),
        ("skill", {"skill": "compressor"}, {"skill": "drum"}),
    ],
)
def test_each_criterion_must_match_and_blank_matches_anything(world, criterion, matching, other):
    value = {
        "region": world["east"],
        "product_line": world["washer"],
        "ticket_type": "repair",
        "skill": "compressor",
    }[criterion]
    rule(world["washers"], position=1, **{criterion: value})
    rule(world["general"], position=2)  # every criterion blank: matches anything

    def ticket(region="east", line="washer", type="repair", skill="compressor"):
        return create(unit=unit_of(world[line], world[region]), type=type, skill=skill)

    hit = ticket(**matching)
    miss = ticket(**other)
    assert (hit.team.name, hit.assignee.username) == ("Washers", "wash1")
    assert (miss.team.name, miss.assignee.username) == ("General", "gen1")


@pytest.mark.django_db
def test_all_criteria_together(world):
    rule(world["washers"], region=world["east"], product_line=world["washer"], ticket_type="repair", skill="drum")
    assert create(unit=unit_of(world["washer"], world["east"]), skill="drum").team.name == "Washers"
    # One criterion off is enough to miss.
    assert create(unit=unit_of(world["washer"], world["east"]), skill="pcb").team is None
    assert create(unit=unit_of(world["aircon"], world["east"]), skill="drum").team is None
    assert create(unit=unit_of(world["washer"], world["north"]), skill="drum").team is None
    assert create(unit=unit_of(world["washer"], world["east"]), skill="drum", type="inquiry").team is None


@pytest.mark.django_db
def test_first_match_wins_by_position_then_id(world):
    later = rule(world["washers"], position=20)
    rule(world["general"], position=10)
    assert create().team.name == "General"
    later.position = 10
    later.save()
    # Same position: the older rule (lower id) wins. The General rule was created after it.
    assert create().team.name == "Washers"


@pytest.mark.django_db
def test_inactive_rules_are_skipped(world):
    rule(world["washers"], position=1, active=False)
    rule(world["general"], position=2)
    assert create().team.name == "General"


@pytest.mark.django_db
def test_a_product_line_rule_does_not_match_a_ticket_without_unit(world):
    rule(world["washers"], position=1, product_line=world["washer"])
    rule(world["general"], position=2)
    assert create().team.name == "General"


@pytest.mark.django_db
def test_no_matching_rule_leaves_the_ticket_untouched(world):
    rule(world["washers"], ticket_type="installation")
    ticket = create(type="repair")
    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee, ticket.status, ticket.version) == (None, None, "new", 1)
    assert (ticket.dispatch_method, ticket.assigned_at) == ("", None)
    assert list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == ["created"]


# --- the agent within the team -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_preset_team_is_kept_and_an_agent_chosen_without_rules():
    team = TeamFactory(name="Preset")
    (ann,) = agents(team, "ann")
    ticket = create(team=team)
    assert (ticket.team, ticket.assignee, ticket.status, ticket.dispatch_method) == (team, ann, "assigned", "auto")
    assert ticket.assigned_at == T0
    kinds = list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values_list("kind", "to_value"))
    assert kinds == [("created", "new"), ("assigned", "ann")]


@pytest.mark.django_db
def test_only_active_agent_members_are_candidates():
    team = TeamFactory(name="Mixed")
    agents(team, "boss", roles=("supervisor",))
    (gone,) = agents(team, "gone")
    gone.is_active = False
    gone.save()
    agents(TeamFactory(name="Elsewhere"), "stranger")
    (zoe,) = agents(team, "zoe")
    assert create(team=team).assignee == zoe


@pytest.mark.django_db
def test_fewest_open_tickets_wins_counting_every_team():
    team, other = TeamFactory(name="Main"), TeamFactory(name="Other")
    amy, bob, cid = agents(team, "amy", "bob", "cid")
    other.members.add(amy)
    # amy: 1 open in another team; bob: 2 open here; cid: 1 open here + 1 resolved.
    create(team=other)  # -> amy (only agent of Other)
    for _ in range(2):
        services.ticket_assign(ticket_id=create(team=team, dispatch=False).pk, assignee=bob, actor=None, at=T0)
    services.ticket_assign(ticket_id=create(team=team, dispatch=False).pk, assignee=cid, actor=None, at=T0)
    done = services.ticket_assign(ticket_id=create(team=team, dispatch=False).pk, assignee=cid, actor=None, at=T0)
    close(done, at(1))
    # Loads amy 1, bob 2, cid 1: amy and cid tie; neither has an automatic assignment in
    # Main, so the lower pk (amy) wins, then cid, then the three are at 2 and bob (never
    # auto-assigned in Main) is next.
    assert [create(team=team, when=at(10 + i)).assignee.username for i in range(3)] == ["amy", "cid", "bob"]


@pytest.mark.django_db
def test_round_robin_on_ties_across_dispatches():
    team = TeamFactory(name="Round")
    agents(team, "a1", "a2", "a3")
    order = []
    for i in range(7):
        ticket = create(team=team, when=at(i))
        order.append(ticket.assignee.username)
        close(ticket, at(i))  # every load is back to 0: only the round-robin decides
    assert order == ["a1", "a2", "a3", "a1", "a2", "a3", "a1"]


@pytest.mark.django_db
def test_round_robin_looks_at_automatic_assignments_in_this_team_only():
    here, there = TeamFactory(name="Here"), TeamFactory(name="There")
    first, second = agents(here, "first", "second")  # first has the lower pk
    there.members.add(second)
    close(create(team=here, when=at(0)), at(0))  # -> first (both never assigned; lower pk)
    close(create(team=there, when=at(2)), at(2))  # -> second, but in There
    # In Here, second was never auto-assigned: second goes before first (whose latest is
    # at 0), although first has the lower pk and second the more recent assignment overall.
    assert create(team=here, when=at(3)).assignee == second


# --- shifts ------------------------------------------------------------------------------------


@pytest.fixture
def shanghai_team(db):
    calendar = BusinessCalendar.objects.create(name="Shanghai office", time_zone="Asia/Shanghai")
    team = TeamFactory(name="Shifted")
    team.calendar = calendar
    team.save()
    day, late = agents(team, "day", "late")
    AgentShift.objects.create(team=team, user=day, weekday=0, start=dt.time(9), end=dt.time(18))
    AgentShift.objects.create(team=team, user=late, weekday=0, start=dt.time(18), end=dt.time(22))
    return team


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Monday 2 June 2025 in Shanghai (UTC+8); given in UTC so a wrong zone shows.
        (dt.datetime(2025, 6, 2, 0, 59, tzinfo=UTC), None),  # 08:59: nobody yet
        (dt.datetime(2025, 6, 2, 1, 0, tzinfo=UTC), "day"),  # 09:00: the day shift starts
        (dt.datetime(2025, 6, 2, 9, 59, tzinfo=UTC), "day"),  # 17:59
        (dt.datetime(2025, 6, 2, 10, 0, tzinfo=UTC), "late"),  # 18:00: the day shift has ended
        (dt.datetime(2025, 6, 2, 14, 0, tzinfo=UTC), None),  # 22:00
        (dt.datetime(2025, 6, 3, 2, 0, tzinfo=UTC), None),  # Tuesday 10:00: no Tuesday shifts
    ],
)
def test_shifts_are_read_in_the_team_time_zone(shanghai_team, utc, expected):
    with time_machine.travel(utc, tick=False):
        ticket = services.ticket_create(
            actor=None, customer=CustomerFactory(), team=shanghai_team, subject="x", type="repair", channel="web"
        )
    assert ticket.created_at == utc
    assert (ticket.assignee.username if ticket.assignee else None) == expected
    assert ticket.status == ("assigned" if expected else "new")


@pytest.mark.django_db
def test_without_a_team_calendar_the_default_calendar_zone_applies(settings):
    BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin", is_default=True)
    team = TeamFactory(name="Europe desk")
    (eva,) = agents(team, "eva")
    AgentShift.objects.create(team=team, user=eva, weekday=0, start=dt.time(9), end=dt.time(17))
    # 07:30 UTC is 09:30 in Berlin (summer time) but 15:30 in Shanghai, the site zone.
    assert create(team=team, when=dt.datetime(2025, 6, 2, 7, 30, tzinfo=UTC)).assignee == eva
    # 15:30 UTC is 17:30 in Berlin: off shift (though 23:30 Shanghai would be too).
    assert create(team=team, when=dt.datetime(2025, 6, 2, 15, 30, tzinfo=UTC)).assignee is None


@pytest.mark.django_db
def test_without_any_calendar_the_site_zone_applies(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    team = TeamFactory(name="Plain")
    (pat,) = agents(team, "pat")
    AgentShift.objects.create(team=team, user=pat, weekday=0, start=dt.time(9), end=dt.time(10))
    assert create(team=team, when=dt.datetime(2025, 6, 2, 9, 30, tzinfo=SHANGHAI)).assignee == pat
    assert create(team=team, when=dt.datetime(2025, 6, 2, 9, 30, tzinfo=UTC)).assignee is None  # 17:30 local


@pytest.mark.django_db
def test_an_agent_off_shift_is_skipped_even_with_the_lowest_load(shanghai_team):
    monday_10 = dt.datetime(2025, 6, 2, 10, 0, tzinfo=SHANGHAI)
    tickets = [create(team=shanghai_team, when=monday_10 + dt.timedelta(minutes=i)) for i in range(3)]
    assert {t.assignee.username for t in tickets} == {"day"}


@pytest.mark.django_db
def test_nobody_on_shift_sets_the_team_and_leaves_the_ticket_waiting(world, shanghai_team):
    rule(shanghai_team)
    sunday = dt.datetime(2025, 6, 1, 12, 0, tzinfo=SHANGHAI)
    ticket = create(when=sunday)
    ticket.refresh_from_db()
    assert (ticket.team, ticket.assignee, ticket.status, ticket.assigned_at) == (shanghai_team, None, "new", None)
    assert ticket.dispatch_method == ""
    events = list(TicketEvent.objects.filter(ticket=ticket).order_by("id"))
    assert [(e.kind, e.from_value, e.to_value) for e in events] == [("created", "", "new"), ("assigned", "", "Shifted")]
    # Dispatched again on Monday at 09:30 (e.g. by a supervisor), the day shift takes it.
    monday = dt.datetime(2025, 6, 2, 9, 30, tzinfo=SHANGHAI)
    ticket = services.ticket_dispatch(ticket_id=ticket.pk, at=monday)
    assert (ticket.assignee.username, ticket.dispatch_method, ticket.assigned_at) == ("day", "auto", monday)


@pytest.mark.django_db
def test_a_team_without_members_on_shift_and_no_rule_writes_nothing_else():
    team = TeamFactory(name="Empty")
    ticket = create(team=team)
    ticket.refresh_from_db()
    # The team was given: there is nothing to route, only nobody to assign.
    assert (ticket.team, ticket.assignee, ticket.version) == (team, None, 1)
    assert TicketEvent.objects.filter(ticket=ticket).count() == 1


# --- method, reassignment and opting out --------------------------------------------------------


@pytest.mark.django_db
def test_auto_method_is_kept_and_a_manual_reassignment_is_counted(supervisor):
    team = TeamFactory(name="Team A")
    a1, a2 = agents(team, "a1", "a2")
    ticket = create(team=team)
    assert (ticket.assignee, ticket.dispatch_method, ticket.reassignments) == (a1, "auto", 0)
    ticket = services.ticket_assign(ticket_id=ticket.pk, assignee=a2, actor=supervisor, at=at(5))
    assert (ticket.assignee, ticket.dispatch_method, ticket.reassignments, ticket.assigned_at) == (a2, "auto", 1, T0)


@pytest.mark.django_db
def test_an_explicit_assignee_is_manual_and_not_dispatched():
    team = TeamFactory(name="T")
    a1, a2 = agents(team, "a1", "a2")
    ticket = create(team=team, assignee=a2)
    assert (ticket.assignee, ticket.dispatch_method) == (a2, "manual")


@pytest.mark.django_db
def test_dispatch_false_and_already_assigned_tickets_are_left_alone():
    team = TeamFactory(name="T")
    a1, a2 = agents(team, "a1", "a2")
    ticket = create(team=team, dispatch=False)
    assert (ticket.assignee, ticket.status) == (None, "new")
    ticket = services.ticket_assign(ticket_id=ticket.pk, assignee=a2, actor=None, at=T0)
    again = services.ticket_dispatch(ticket_id=ticket.pk, at=at(1))
    assert (again.assignee, again.version) == (a2, ticket.version)


# --- concurrency (PostgreSQL) ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_spread_evenly_over_equal_agents():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    team = TeamFactory(name="Rush")
    names = ["r1", "r2", "r3", "r4", "r5"]
    agents(team, *names)
    rule(team)
    customers = [CustomerFactory() for _ in range(10)]
    barrier = threading.Barrier(10)
    results: list = [None] * 10

    def work(i):
        try:
            barrier.wait(timeout=30)
            results[i] = services.ticket_create(
                actor=None, customer=customers[i], subject=f"rush {i}", type="repair", channel="app"
            ).pk
        except BaseException as error:  # noqa: BLE001 - reported below
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert all(isinstance(r, int) for r in results), results
    load = {name: Ticket.objects.filter(assignee__username=name).count() for name in names}
    assert load == {name: 2 for name in names}
    assert Ticket.objects.filter(team=team, dispatch_method="auto", status="assigned").count() == 10


# --- API: /api/v1/dispatch-rules/ and /api/v1/shifts/ ------------------------------------------

RULES, SHIFTS = "/api/v1/dispatch-rules/", "/api/v1/shifts/"


def error_fields(response, status) -> list[str]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"} and body["detail"]
    return sorted(body["errors"])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="boss", roles=["admin"])


@pytest.mark.django_db
def test_rules_are_read_by_supervisors_and_staff_and_written_by_admins(agent, supervisor, manager, admin_user, team_a):
    east = RegionFactory(name="East")
    east.aliases.create(key="华东")
    ProductLineFactory(code="washer")
    body = {"name": "East washers", "position": 5, "region": "华东", "product_line": "washer", "team": "Team A"}
    assert api_for(supervisor).post(RULES, body, format="json").status_code == 403
    assert api_for(manager).post(RULES, body, format="json").status_code == 403
    created = api_for(admin_user).post(RULES, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json() == {
        "id": created.json()["id"],
        "name": "East washers",
        "position": 5,
        "region": "East",
        "product_line": "washer",
        "ticket_type": "",
        "skill": "",
        "team": "Team A",
        "active": True,
    }
    assert DispatchRule.objects.get().region == east
    assert api_for(agent).get(RULES).status_code == 403
    for reader in (supervisor, manager):
        listed = api_for(reader).get(RULES)
        assert listed.status_code == 200
        assert [r["name"] for r in listed.json()["results"]] == ["East washers"]
    url = f"{RULES}{created.json()['id']}/"
    assert api_for(admin_user).patch(url, {"active": False}, format="json").json()["active"] is False
    assert error_fields(api_for(admin_user).patch(url, {"ticket_type": "teleport"}, format="json"), 400) == [
        "ticket_type"
    ]
    assert error_fields(api_for(admin_user).patch(url, {"name": "  "}, format="json"), 400) == ["name"]
    assert api_for(admin_user).delete(url).status_code == 204
    assert not DispatchRule.objects.exists()


@pytest.mark.django_db
def test_supervisors_write_their_own_teams_shifts_only(supervisor, agent, agent_b, team_a, team_b, manager):
    client = api_for(supervisor)
    good = {"team": "Team A", "user": "agent_a", "weekday": 0, "start": "09:00", "end": "18:00"}
    created = client.post(SHIFTS, good, format="json")
    assert created.status_code == 201, created.content
    assert created.json() == {**good, "id": created.json()["id"], "start": "09:00:00", "end": "18:00:00"}
    assert error_fields(client.post(SHIFTS, {**good, "end": "09:00"}, format="json"), 400) == ["end"]
    assert error_fields(client.post(SHIFTS, {**good, "user": "agent_b"}, format="json"), 400) == ["user"]
    assert error_fields(client.post(SHIFTS, {**good, "weekday": 7}, format="json"), 400) == ["weekday"]
    # Team B is not theirs: it does not exist for them.
    assert error_fields(client.post(SHIFTS, {**good, "team": "Team B", "user": "agent_b"}, format="json"), 400) == [
        "team"
    ]
    theirs = AgentShift.objects.create(team=team_b, user=agent_b, weekday=1, start=dt.time(8), end=dt.time(12))
    assert [s["team"] for s in client.get(SHIFTS).json()["results"]] == ["Team A"]
    assert client.patch(f"{SHIFTS}{theirs.pk}/", {"end": "13:00"}, format="json").status_code == 404
    assert client.delete(f"{SHIFTS}{theirs.pk}/").status_code == 404
    mine = f"{SHIFTS}{created.json()['id']}/"
    assert error_fields(client.patch(mine, {"start": "19:00"}, format="json"), 400) == ["end"]
    assert client.patch(mine, {"end": "17:30"}, format="json").json()["end"] == "17:30:00"
    # Managers read every team's shifts but change none; agents see none.
    assert len(api_for(manager).get(SHIFTS).json()["results"]) == 2
    assert api_for(manager).post(SHIFTS, good, format="json").status_code == 403
    assert api_for(agent).get(SHIFTS).status_code == 403
    assert client.delete(mine).status_code == 204
    assert list(AgentShift.objects.values_list("pk", flat=True)) == [theirs.pk]


# --- demo --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_routes_each_region_to_its_team_on_weekdays():
    from intake.demo import demo_dispatch_setup

    east, north = RegionFactory(name="East"), RegionFactory(name="North")
    east_team, north_team = TeamFactory(name="East Service"), TeamFactory(name="North Service")
    e1, e2 = agents(east_team, "east1", "east2")
    (n1,) = agents(north_team, "north1")
    demo_dispatch_setup()
    assert list(DispatchRule.objects.values_list("region__name", "team__name", "position")) == [
        ("East", "East Service", 10),
        ("North", "North Service", 20),
        (None, "East Service", 1000),
    ]
    assert AgentShift.objects.filter(user=e1).count() == 6  # Monday-Friday + Saturday morning
    assert AgentShift.objects.filter(user=e2).count() == 5
    north_customer = CustomerFactory(region=north)
    assert create(customer=north_customer, when=T0).assignee == n1  # Monday 10:00
    saturday = dt.datetime(2025, 6, 7, 12, 0, tzinfo=SHANGHAI)
    assert create(customer=CustomerFactory(region=east), when=saturday).assignee == e1
    sunday = dt.datetime(2025, 6, 8, 12, 0, tzinfo=SHANGHAI)
    waiting = create(customer=north_customer, when=sunday)
    assert (waiting.team, waiting.assignee) == (north_team, None)


def test_the_skill_tag_given_through_the_api_routes_the_ticket(world):
    rule(world["general"], position=10)
    rule(world["washers"], position=1, skill="drum")
    client = api_for(UserFactory(username="root", roles=["admin"]))
    customer = CustomerFactory()
    body = {"customer": customer.external_id, "type": "repair", "channel": "phone", "subject": "Drum noise"}

    routed = client.post("/api/v1/tickets/", {**body, "skill": "drum"}, format="json")
    plain = client.post("/api/v1/tickets/", body, format="json")

    assert routed.status_code == plain.status_code == 201, (routed.json(), plain.json())
    assert (routed.json()["skill"], routed.json()["team"], routed.json()["assignee"]) == ("drum", "Washers", "wash1")
    assert (plain.json()["skill"], plain.json()["team"]) == ("", "General")
    too_long = client.post("/api/v1/tickets/", {**body, "skill": "x" * 65}, format="json")
    assert too_long.status_code == 400 and "skill" in too_long.json()["errors"]
