"""The customer progress page behind a signed link: valid, tampered, expired, revoked
and foreign links; only the public timeline; reply (resumes a waiting ticket) and
confirm (closes); throttling."""

from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import signing

from catalog.exceptions import ConflictError
from tests.factories import UserFactory
from tickets import services
from tickets.models import Ticket
from tickets.services.links import LinkInvalid, progress_link_ticket, progress_link_token, progress_link_url

from .followup_helpers import at, worked_ticket

INVALID = "This link is not valid."


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(at(3), tick=False) as traveller:
        yield traveller


@pytest.fixture
def engineer(team_a):
    user = UserFactory(username="li_wei", first_name="Wei", last_name="Secretname", roles=["agent"])
    team_a.members.add(user)
    return user


def path_of(ticket) -> str:
    return urlsplit(progress_link_url(ticket)).path


def test_a_valid_link_shows_the_ticket_team_and_promised_times(client, engineer, team_a, settings):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress", subject="Fridge too warm")
    Ticket.objects.filter(pk=ticket.pk).update(resolution_due_at=at(26))
    url = progress_link_url(ticket)
    assert url.startswith(f"{settings.SITE_URL}/c/p/")

    response = client.get(urlsplit(url).path)
    assert response.status_code == 200
    html = response.content.decode()
    assert ticket.external_id in html and "Fridge too warm" in html and "Team A" in html
    assert "In progress" in html
    assert "By 2025-06-03 11:00" in html  # resolution due, Shanghai time
    assert response["X-Robots-Tag"] == "noindex, nofollow" and "no-store" in response["Cache-Control"]


def test_internal_notes_and_staff_details_never_show(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress")
    services.ticket_comment(ticket_id=ticket.pk, actor=engineer, body="SECRET internal remark", public=False, at=at(2))
    services.ticket_comment(
        ticket_id=ticket.pk, actor=engineer, body="A technician comes tomorrow.", public=True, at=at(2.5)
    )

    html = client.get(path_of(ticket)).content.decode()
    assert "A technician comes tomorrow." in html
    assert "SECRET internal remark" not in html
    # Agents appear by first name only; no usernames, last names or assignment rows.
    assert "Wei" in html
    assert "Secretname" not in html and "li_wei" not in html


def test_a_tampered_link_is_a_plain_404(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress", subject="Oven door")
    token = progress_link_token(ticket)
    for i in (len(token) - 2, 3):
        forged = token[:i] + ("x" if token[i] != "x" else "y") + token[i + 1 :]
        response = client.get(f"/c/p/{forged}/")
        html = response.content.decode()
        assert response.status_code == 404
        assert INVALID in html and "Oven door" not in html and ticket.external_id not in html


def test_a_link_expires_after_90_days(client, engineer, team_a, _clock):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress")
    path = path_of(ticket)  # issued at T0 + 3 h
    _clock.move_to(at(2.99, days=90))
    assert client.get(path).status_code == 200
    _clock.move_to(at(3.01, days=90))
    response = client.get(path)
    assert response.status_code == 404 and INVALID in response.content.decode()


def test_a_revoked_link_is_refused_and_a_new_one_works(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress")
    old = path_of(ticket)
    services.ticket_links_revoke(ticket_id=ticket.pk, actor=engineer)
    assert client.get(old).status_code == 404
    ticket.refresh_from_db()
    assert client.get(path_of(ticket)).status_code == 200


def test_another_tickets_link_reaches_only_that_ticket(client, engineer, team_a):
    mine = worked_ticket(agent=engineer, team=team_a, status="in_progress", subject="My washer")
    theirs = worked_ticket(agent=engineer, team=team_a, status="in_progress", subject="Their dryer")
    html = client.get(path_of(theirs)).content.decode()
    assert "Their dryer" in html and "My washer" not in html and mine.external_id not in html
    # Posting through their link changes their ticket only.
    client.post(path_of(theirs), {"action": "reply", "body": "Hello"})
    assert not mine.events.filter(kind="customer_reply").exists()
    assert theirs.events.filter(kind="customer_reply").count() == 1
    # A survey token or a signature over a made-up id never opens a ticket.
    with pytest.raises(LinkInvalid):
        progress_link_ticket(signing.dumps({"t": mine.public_id.hex, "v": 1, "r": 0}, salt="tickets.links.survey"))
    with pytest.raises(LinkInvalid):
        progress_link_ticket(signing.dumps({"t": "f" * 32, "v": 1}, salt="tickets.links.progress"))
    with pytest.raises(LinkInvalid):
        progress_link_ticket(signing.dumps({"t": mine.pk, "v": 1}, salt="tickets.links.progress"))


def test_a_reply_resumes_a_waiting_ticket(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a, status="waiting_customer")
    response = client.post(path_of(ticket), {"action": "reply", "body": "The serial is SN123."})
    assert response.status_code == 302

    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    reply, resumed = ticket.events.order_by("-id")[:2][::-1]
    assert (reply.kind, reply.actor, reply.public, reply.comment, reply.at) == (
        "customer_reply",
        None,
        True,
        "The serial is SN123.",
        at(3),
    )
    assert (resumed.kind, resumed.from_value, resumed.to_value, resumed.actor) == (
        "status",
        "waiting_customer",
        "in_progress",
        None,
    )
    html = client.get(path_of(ticket)).content.decode()
    assert "The serial is SN123." in html and "You" in html


def test_a_reply_to_an_open_ticket_keeps_its_status_and_an_empty_one_is_refused(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress")
    client.post(path_of(ticket), {"action": "reply", "body": "Any news?"})
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and ticket.events.filter(kind="customer_reply").count() == 1
    response = client.post(path_of(ticket), {"action": "reply", "body": "   "})
    assert response.status_code == 400
    assert ticket.events.filter(kind="customer_reply").count() == 1


def test_confirming_closes_a_resolved_ticket(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a)
    html = client.get(path_of(ticket)).content.decode()
    assert 'value="confirm"' in html
    response = client.post(path_of(ticket), {"action": "confirm"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.closed_at) == ("closed", at(3))
    event = ticket.events.order_by("-id").first()
    assert (event.kind, event.from_value, event.to_value, event.actor) == ("status", "resolved", "closed", None)
    # Closed: no more confirming or replying.
    html = client.get(path_of(ticket)).content.decode()
    assert 'value="confirm"' not in html and 'value="reply"' not in html
    with pytest.raises(ConflictError):
        services.ticket_customer_reply(ticket_id=ticket.pk, body="Hello?")
    response = client.post(path_of(ticket), {"action": "reply", "body": "Hello?"})
    assert response.status_code == 400 and "This request is closed." in response.content.decode()
    assert not ticket.events.filter(kind="customer_reply").exists()


def test_confirming_an_unresolved_ticket_changes_nothing(client, engineer, team_a):
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress")
    response = client.post(path_of(ticket), {"action": "confirm"}, follow=True)
    assert "Only a resolved request can be confirmed." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"


def test_throttling_answers_429_after_the_rate(client, engineer, team_a, settings):
    settings.PUBLIC_LINK_RATE = "3/m"
    ticket = worked_ticket(agent=engineer, team=team_a, status="in_progress")
    path = path_of(ticket)
    assert [client.get(path).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(path)
    assert response.status_code == 429 and "Too many requests" in response.content.decode()
    # Both pages and invalid links share the budget of the client address.
    assert client.get("/c/s/nonsense/").status_code == 429
    # Another address is not affected.
    assert client.get(path, REMOTE_ADDR="10.0.0.9").status_code == 200
