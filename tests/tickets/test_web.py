"""The agent web pages: queue, create, ticket page and its actions, i18n."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.exceptions import ApplicationError
from tests.factories import CustomerFactory, TicketFactory, UnitFactory
from tickets import services
from tickets.models import Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def client_for(user, language="en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def make_ticket(team, *, status=Status.NEW, assignee=None, actor=None, **kwargs) -> Ticket:
    """A ticket moved to `status` through the services, as users move them."""
    ticket = TicketFactory(team=team, **kwargs)
    if status == Status.NEW:
        return ticket
    assignee = assignee or team.members.first()
    ticket = services.ticket_assign(ticket_id=ticket.pk, assignee=assignee, actor=actor)
    path = {
        Status.ASSIGNED: [],
        Status.IN_PROGRESS: [Status.IN_PROGRESS],
        Status.WAITING_CUSTOMER: [Status.IN_PROGRESS, Status.WAITING_CUSTOMER],
        Status.RESOLVED: [Status.IN_PROGRESS, Status.RESOLVED],
        Status.CLOSED: [Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED],
    }[status]
    for step in path:
        ticket = services.ticket_transition(ticket_id=ticket.pk, to_status=step, actor=actor)
    return ticket


def detail_url(ticket) -> str:
    return reverse("tickets:detail", args=[ticket.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- login and layout -------------------------------------------------------------------------


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert "vendor/bootstrap/css/bootstrap.min.css" in body


def test_login_redirects_to_the_queue(client, agent):
    response = client.post(reverse("login"), {"username": "agent_a", "password": "pass-1234"})
    assert response.status_code == 302
    assert response.url == reverse("tickets:queue")


def test_queue_needs_a_login(client):
    response = client.get(reverse("tickets:queue"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_layout_shows_user_roles_and_no_admin_link_for_agents(agent):
    body = client_for(agent).get(reverse("tickets:queue")).content.decode()
    assert "agent_a" in body and "Agent" in body
    assert reverse("logout") in body and reverse("set_language") in body
    assert reverse("admin:index") not in body


# --- queue ------------------------------------------------------------------------------------


def test_queue_lists_only_tickets_in_scope(agent, team_a, team_b):
    mine = make_ticket(team_a, subject="Washer leaks")
    theirs = make_ticket(team_b, subject="Dryer noisy")
    body = client_for(agent).get(reverse("tickets:queue")).content.decode()
    assert mine.external_id in body
    assert theirs.external_id not in body


def test_queue_filters(agent, supervisor, team_a):
    urgent = make_ticket(team_a, priority="urgent", subject="Smoke from the motor")
    waiting = make_ticket(
        team_a,
        status=Status.WAITING_CUSTOMER,
        assignee=agent,
        subject="Needs photos",
        customer=CustomerFactory(name="Zhang Wei"),
    )
    other = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=supervisor, type="complaint", subject="Rude")
    closed = make_ticket(team_a, status=Status.CLOSED, assignee=supervisor, subject="Old one")
    client = client_for(agent)

    def numbers(**params):
        response = client.get(reverse("tickets:queue"), params)
        assert response.status_code == 200
        return {t.external_id for t in response.context["page"]}

    everything = {urgent.external_id, waiting.external_id, other.external_id, closed.external_id}
    # The queue opens on the open tickets; "any status" (an empty choice) lists them all.
    assert numbers() == {urgent.external_id, waiting.external_id, other.external_id}
    assert numbers(status="") == everything
    assert numbers(status="waiting_customer") == {waiting.external_id}
    assert numbers(status="open") == numbers()
    assert numbers(priority="urgent") == {urgent.external_id}
    assert numbers(type="complaint") == {other.external_id}
    assert numbers(team=team_a.pk) == everything
    assert numbers(mine="on") == {waiting.external_id}
    assert numbers(q="zhang") == {waiting.external_id}  # customer name
    assert numbers(q="smoke") == {urgent.external_id}  # subject
    assert numbers(q=closed.external_id.lower()) == {closed.external_id}  # number
    # An unknown value is ignored, not an error.
    assert numbers(status="nonsense") == everything


def test_queue_default_order_puts_my_open_tickets_first(agent, supervisor, team_a):
    mine = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent)
    make_ticket(team_a, status=Status.IN_PROGRESS, assignee=supervisor)
    make_ticket(team_a)
    mine_closed = make_ticket(team_a, status=Status.CLOSED, assignee=agent)
    rows = list(client_for(agent).get(reverse("tickets:queue")).context["page"])
    assert rows[0] == mine
    assert len(rows) == 3 and mine_closed not in rows


def test_queue_over_every_status_is_newest_first(agent, supervisor, team_a):
    make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent)
    make_ticket(team_a, status=Status.IN_PROGRESS, assignee=supervisor)
    newest = make_ticket(team_a, status=Status.CLOSED, assignee=agent)
    rows = list(client_for(agent).get(reverse("tickets:queue"), {"status": ""}).context["page"])
    assert rows[0] == newest
    assert [t.created_at for t in rows] == sorted((t.created_at for t in rows), reverse=True)


def test_queue_sorting(agent, team_a):
    low = make_ticket(team_a, priority="low")
    urgent = make_ticket(team_a, priority="urgent")
    normal = make_ticket(team_a, priority="normal")
    page = client_for(agent).get(reverse("tickets:queue"), {"sort": "priority"}).context["page"]
    assert list(page) == [urgent, normal, low]
    page = client_for(agent).get(reverse("tickets:queue"), {"sort": "created"}).context["page"]
    assert list(page)[0].created_at <= list(page)[-1].created_at


def test_queue_paginates_25_per_page(agent, team_a):
    for _ in range(27):
        make_ticket(team_a)
    client = client_for(agent)
    assert len(client.get(reverse("tickets:queue")).context["page"]) == 25
    assert len(client.get(reverse("tickets:queue"), {"page": 2}).context["page"]) == 2
    # The pager links to page 2 for plain navigation and for htmx's partial swap.
    html = client.get(reverse("tickets:queue")).content.decode()
    assert 'hx-target="#queue-results"' in html
    assert 'href="?page=2"' in html and 'hx-get="?page=2"' in html


def test_queue_next_page_keeps_the_default_filter(agent, supervisor, team_a):
    # `?page=2` alone is not a filter: page 2 continues page 1's open tickets.
    for _ in range(27):
        make_ticket(team_a)
    for _ in range(5):
        make_ticket(team_a, status=Status.CLOSED, assignee=supervisor)
    client = client_for(agent)
    first, second = (client.get(reverse("tickets:queue"), {"page": n}).context["page"] for n in (1, 2))
    assert first.paginator.count == second.paginator.count == 27
    assert all(ticket.status == Status.NEW for ticket in second)


def test_queue_htmx_request_gets_only_the_results(agent, team_a):
    make_ticket(team_a)
    response = client_for(agent).get(reverse("tickets:queue"), {"q": "x"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<table" in body and "<html" not in body
    assert "HX-Request" in response["Vary"]


def _queue_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("tickets:queue"))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_queue_query_count_does_not_grow_with_rows(agent, team_a):
    def add(n):
        for _ in range(n):
            unit = UnitFactory()
            make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent, customer=unit.customer, unit=unit)

    client = client_for(agent)
    add(5)
    few = _queue_queries(client)
    add(25)
    many = _queue_queries(client)
    assert few == many


# --- create -----------------------------------------------------------------------------------


def _create_data(customer, team, **overrides):
    data = {
        "customer": customer.pk,
        "type": "repair",
        "channel": "phone",
        "priority": "high",
        "subject": "Drum does not spin",
        "description": "Since Monday.",
        "team": team.pk,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_create_page_renders(agent):
    response = client_for(agent).get(reverse("tickets:create"))
    assert response.status_code == 200
    assert 'name="subject"' in response.content.decode()


@pytest.mark.parametrize(("overrides", "field"), [({"subject": ""}, "subject"), ({"type": "teleport"}, "type")])
def test_create_with_invalid_input_shows_the_field_error_and_writes_nothing(agent, team_a, overrides, field):
    customer = CustomerFactory()
    response = client_for(agent).post(reverse("tickets:create"), _create_data(customer, team_a, **overrides))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert "is-invalid" in response.content.decode()
    assert Ticket.objects.count() == 0
    assert TicketEvent.objects.count() == 0


def test_create_refuses_an_assignee_outside_the_team(agent, agent_b, team_a):
    # Assignee outside the team: the form's choices already refuse it.
    customer = CustomerFactory()
    response = client_for(agent).post(reverse("tickets:create"), _create_data(customer, team_a, assignee=agent_b.pk))
    assert response.status_code == 200
    assert response.context["form"].errors["assignee"]
    assert Ticket.objects.count() == 0


def test_create_redirects_and_writes_one_ticket_and_event(agent, team_a):
    unit = UnitFactory()
    client = client_for(agent)
    response = client.post(reverse("tickets:create"), _create_data(unit.customer, team_a, unit=unit.pk))
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response.url == detail_url(ticket)
    assert (ticket.customer, ticket.unit, ticket.team) == (unit.customer, unit, team_a)
    # No assignee chosen: auto-dispatch gives it to the team's only agent (test_dispatch.py).
    assert (ticket.status, ticket.assignee, ticket.dispatch_method) == (Status.ASSIGNED, agent, "auto")
    assert ticket.priority == "high" and ticket.subject == "Drum does not spin"
    assert list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == ["created", "assigned"]
    follow = client.get(response.url)
    assert any(ticket.external_id in m for m in messages_of(follow))


def test_create_puts_a_service_refusal_on_the_fields_and_writes_nothing(agent, team_a, monkeypatch):
    def refuse(**kwargs):
        raise ApplicationError("The ticket was not created.", errors={"subject": ["looks like spam"], "at": ["x"]})

    monkeypatch.setattr(services, "ticket_create", refuse)
    response = client_for(agent).post(reverse("tickets:create"), _create_data(CustomerFactory(), team_a))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["subject"] == ["looks like spam"]
    assert form.non_field_errors() == ["x"]
    assert Ticket.objects.count() == 0


def test_create_with_an_assignee_assigns(agent, team_a):
    customer = CustomerFactory()
    client_for(agent).post(reverse("tickets:create"), _create_data(customer, team_a, assignee=agent.pk))
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.assignee) == (Status.ASSIGNED, agent)


def test_create_is_refused_to_managers(manager):
    assert client_for(manager).get(reverse("tickets:create")).status_code == 403


def test_customer_lookup(agent):
    CustomerFactory(name="Li Na", external_id="C-LINA", phone="13800000001")
    CustomerFactory(name="Wang Fang", external_id="C-WANG")
    for _ in range(12):
        CustomerFactory(name="Li Many")
    client = client_for(agent)
    url = reverse("tickets:customer_lookup")
    assert "Li Na" in client.get(url, {"customer_q": "c-lina"}).content.decode()
    assert "Li Na" in client.get(url, {"customer_q": "13800000001"}).content.decode()
    body = client.get(url, {"customer_q": "Wang"}).content.decode()
    assert "Wang Fang" in body and "Li Na" not in body
    assert client.get(url, {"customer_q": "Li"}).content.decode().count('<option value="') == 10


def test_unit_lookup_lists_the_customers_units_or_searches_by_serial(agent):
    unit = UnitFactory(serial="SN-AAA-1")
    other = UnitFactory(serial="SN-BBB-2")
    client = client_for(agent)
    url = reverse("tickets:unit_lookup")
    body = client.get(url, {"customer": unit.customer.pk}).content.decode()
    assert "SN-AAA-1" in body and "SN-BBB-2" not in body
    body = client.get(url, {"unit_q": "bbb"}).content.decode()
    assert other.serial in body and unit.serial not in body


# --- ticket page ------------------------------------------------------------------------------


def _buttons(body: str) -> set[str]:
    return set(re.findall(r'name="to_status" value="(\w+)"', body))


def _action_labels(response) -> set[str]:
    return {str(action["label"]) for action in response.context.get("actions", [])}


def test_new_ticket_shows_assign_but_no_resolve(agent, team_a):
    ticket = make_ticket(team_a)
    response = client_for(agent).get(detail_url(ticket))
    body = response.content.decode()
    assert reverse("tickets:assign", args=[ticket.pk]) in body
    assert _buttons(body) == set()
    assert _action_labels(response) == set()


def test_assigned_ticket_shows_start(agent, team_a):
    ticket = make_ticket(team_a, status=Status.ASSIGNED, assignee=agent)
    response = client_for(agent).get(detail_url(ticket))
    assert _buttons(response.content.decode()) == {"in_progress"}
    assert _action_labels(response) == {"Start"}


def test_in_progress_ticket_shows_resolve_and_wait_for_customer(agent, team_a):
    ticket = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent)
    response = client_for(agent).get(detail_url(ticket))
    assert _buttons(response.content.decode()) == {"resolved", "waiting_customer"}
    assert _action_labels(response) == {"Resolve", "Wait for customer"}


def test_resolved_ticket_shows_close_and_reopen_and_no_assign(agent, team_a):
    ticket = make_ticket(team_a, status=Status.RESOLVED, assignee=agent)
    response = client_for(agent).get(detail_url(ticket))
    body = response.content.decode()
    assert _buttons(body) == {"closed", "in_progress"}
    assert _action_labels(response) == {"Reopen", "Close"}
    assert reverse("tickets:assign", args=[ticket.pk]) not in body


def test_waiting_ticket_shows_resume(agent, team_a):
    ticket = make_ticket(team_a, status=Status.WAITING_CUSTOMER, assignee=agent)
    response = client_for(agent).get(detail_url(ticket))
    assert _action_labels(response) == {"Resume", "Resolve"}


def test_ticket_page_shows_customer_unit_and_timeline(agent, team_a):
    unit = UnitFactory(serial="SN-XYZ")
    ticket = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent, customer=unit.customer, unit=unit)
    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="Checked the pump.", public=False)
    body = client_for(agent).get(detail_url(ticket)).content.decode()
    assert unit.customer.name in body and unit.customer.region.name in body
    assert "SN-XYZ" in body and unit.batch.code in body
    assert "Checked the pump." in body
    assert "timeline-internal" in body


def test_ticket_page_query_count_does_not_grow_with_events(agent, team_a):
    ticket = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent, unit=UnitFactory())
    client = client_for(agent)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(detail_url(ticket)).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for n in range(10):
        services.ticket_comment(ticket_id=ticket.pk, actor=agent, body=f"note {n}", public=n % 2 == 0)
    assert queries() == few


@pytest.mark.parametrize(
    ("start", "to_status"),
    [
        (Status.ASSIGNED, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.WAITING_CUSTOMER),
        (Status.WAITING_CUSTOMER, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.RESOLVED),
        (Status.RESOLVED, Status.CLOSED),
        (Status.CLOSED, Status.IN_PROGRESS),
    ],
)
def test_transition_action(agent, team_a, start, to_status):
    ticket = make_ticket(team_a, status=start, assignee=agent)
    events = ticket.events.count()
    client = client_for(agent)
    response = client.post(
        reverse("tickets:transition", args=[ticket.pk]),
        {"to_status": to_status, "version": ticket.version, "comment": "done"},
    )
    assert response.status_code == 302 and response.url == detail_url(ticket)
    ticket.refresh_from_db()
    assert ticket.status == to_status
    assert ticket.events.count() == events + 1
    assert ticket.events.last().comment == "done"


@pytest.mark.parametrize(("visibility", "public", "kind"), [("public", True, "reply"), ("internal", False, "note")])
def test_comment_actions(agent, team_a, visibility, public, kind):
    ticket = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent)
    events = ticket.events.count()
    response = client_for(agent).post(
        reverse("tickets:comment", args=[ticket.pk]),
        {"body": "Hello", "visibility": visibility, "version": ticket.version},
    )
    assert response.status_code == 302
    assert ticket.events.count() == events + 1
    event = ticket.events.last()
    assert (event.kind, event.public, event.comment) == (kind, public, "Hello")
    ticket.refresh_from_db()
    assert (ticket.first_response_at is not None) == public


def test_assign_action(agent, supervisor, team_a):
    ticket = make_ticket(team_a)
    response = client_for(supervisor).post(
        reverse("tickets:assign", args=[ticket.pk]), {"assignee": agent.pk, "version": ticket.version}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.ASSIGNED, agent)
    assert ticket.events.get().kind == "assigned"


def test_stale_version_shows_an_error_and_changes_nothing(agent, team_a):
    ticket = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent)
    events, version = ticket.events.count(), ticket.version
    client = client_for(agent)
    response = client.post(
        reverse("tickets:transition", args=[ticket.pk]),
        {"to_status": Status.RESOLVED, "version": version - 1},
        follow=True,
    )
    assert any("changed by someone else" in m for m in messages_of(response))
    ticket.refresh_from_db()
    assert (ticket.status, ticket.version, ticket.events.count()) == (Status.IN_PROGRESS, version, events)


def test_refused_transition_shows_an_error_and_changes_nothing(agent, team_a):
    ticket = make_ticket(team_a)
    response = client_for(agent).post(
        reverse("tickets:transition", args=[ticket.pk]),
        {"to_status": Status.RESOLVED, "version": ticket.version},
        follow=True,
    )
    assert any("cannot go from" in m for m in messages_of(response))
    ticket.refresh_from_db()
    assert (ticket.status, ticket.version, ticket.events.count()) == (Status.NEW, 1, 0)


def test_empty_comment_shows_an_error(agent, team_a):
    ticket = make_ticket(team_a)
    response = client_for(agent).post(
        reverse("tickets:comment", args=[ticket.pk]),
        {"body": "", "visibility": "public", "version": ticket.version},
        follow=True,
    )
    assert messages_of(response)
    assert ticket.events.count() == 0


def test_another_teams_ticket_is_404(agent, team_b):
    ticket = make_ticket(team_b)
    client = client_for(agent)
    assert client.get(detail_url(ticket)).status_code == 404
    response = client.post(
        reverse("tickets:transition", args=[ticket.pk]), {"to_status": Status.IN_PROGRESS, "version": ticket.version}
    )
    assert response.status_code == 404


def test_manager_sees_the_page_read_only_and_cannot_post(manager, agent, team_a):
    ticket = make_ticket(team_a, status=Status.IN_PROGRESS, assignee=agent)
    client = client_for(manager)
    response = client.get(detail_url(ticket))
    body = response.content.decode()
    assert response.status_code == 200
    assert ticket.external_id in body
    assert '<form method="post" action="/tickets/' not in body
    assert _buttons(body) == set()
    for name, data in [
        ("tickets:transition", {"to_status": Status.RESOLVED, "version": ticket.version}),
        ("tickets:comment", {"body": "x", "visibility": "public", "version": ticket.version}),
        ("tickets:assign", {"assignee": agent.pk, "version": ticket.version}),
    ]:
        assert client.post(reverse(name, args=[ticket.pk]), data).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS and ticket.events.count() == 2


# --- i18n -------------------------------------------------------------------------------------


def test_queue_in_chinese_and_english(agent, team_a):
    make_ticket(team_a, priority="urgent")
    zh = client_for(agent, "zh-hans").get(reverse("tickets:queue")).content.decode()
    assert "工单" in zh and "紧急" in zh and 'lang="zh-hans"' in zh
    en = client_for(agent, "en").get(reverse("tickets:queue")).content.decode()
    assert "Ticket queue" in en and "Urgent" in en and "工单" not in en


def test_language_cookie_wins(agent, team_a):
    client = client_for(agent, "en")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert "工单" in client.get(reverse("tickets:queue")).content.decode()


def _po_entries(path: Path) -> list[dict]:
    """A small .po reader: each entry's flags, msgid and msgstr(s), joining multi-line strings."""
    entries, entry, key = [], None, None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if entry:
                entries.append(entry)
            entry, key = None, None
        elif line.startswith("#") and not line.startswith("#,"):
            continue  # comments, references, obsolete (#~) entries
        else:
            entry = entry or {"flags": "", "msgid": "", "msgstr": {}}
            if line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith('"'):
                target = entry["msgstr"] if key.startswith("msgstr") else entry
                target[key] += line[1:-1]
            else:
                key, _, value = line.partition(" ")
                (entry["msgstr"] if key.startswith("msgstr") else entry)[key] = value[1:-1]
    return entries


def test_chinese_catalog_is_complete():
    po = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    entries = _po_entries(po)
    assert len(entries) > 100
    assert not [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not [e["msgid"] for e in entries[1:] if not all(e["msgstr"].values()) or not e["msgstr"]]
    assert (po.with_suffix(".mo")).exists()
