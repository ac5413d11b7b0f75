"""The customer links (/c/p/<token>/ progress, /c/s/<token>/ survey) as an attacker
sees them: every refusal is the same plain 404 page on both pages — tampered, signature
stripped, garbage, very long, the other page's token, another secret key, a ticket that
does not exist, revoked (through the ticket page's button), expired — and a refused POST
changes nothing.

Covered in tests/tickets already, not repeated here: one-character tampering and the
expiry days of each page (test_progress_link.py::test_a_tampered_link_is_a_plain_404,
::test_a_link_expires_after_90_days, test_survey_link.py::test_a_tampered_link_is_refused,
::test_an_unanswered_link_lives_30_days_an_answered_one_7_after_the_answer), another
ticket's link reaching only that ticket (::test_another_tickets_link_reaches_only_that_ticket)
and the salts at the service level (::test_revoked_and_foreign_tokens_are_refused)."""

import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import signing
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import UserFactory
from tests.tickets.followup_helpers import at, worked_ticket
from tickets.models import Survey, TicketEvent
from tickets.services.links import (
    PROGRESS_SALT,
    progress_link_token,
    progress_link_url,
    survey_link_token,
    survey_link_url,
)

pytestmark = pytest.mark.django_db
INVALID = "This link is not valid."


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(at(3), tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    # The pages' throttle (tested in tests/tickets) must not turn a refusal into a 429.
    settings.PUBLIC_LINK_RATE = "100000/m"


@pytest.fixture
def people(team_a):
    agent = UserFactory(username="m_link_agent", first_name="Mei", roles=["agent"])
    team_a.members.add(agent)
    return agent


@pytest.fixture
def tickets(people, team_a):
    """Two resolved tickets (a survey is open for each) of different customers."""
    mine = worked_ticket(agent=people, team=team_a, subject="Washer leaks MINE")
    theirs = worked_ticket(agent=people, team=team_a, subject="Dryer squeaks THEIRS")
    return mine, theirs


def get(client: Client, path: str):
    cache.clear()
    return client.get(path)


def _refusal(response, *tickets) -> str:
    """Assert the plain 404 naming nothing; return its body to compare with others
    (without the per-request CSRF token and the language form's return path)."""
    html = response.content.decode()
    assert response.status_code == 404, response.status_code
    assert INVALID in html
    for ticket in tickets:
        assert ticket.subject not in html and ticket.external_id not in html
        assert ticket.customer.name not in html and ticket.public_id.hex not in html
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
    return re.sub(r'name="next" type="hidden" value="[^"]*"', "", html)


def test_valid_links_open_their_own_ticket_only(client, tickets):
    mine, theirs = tickets
    for url in (progress_link_url(mine), survey_link_url(mine)):
        response = get(client, urlsplit(url).path)
        html = response.content.decode()
        assert response.status_code == 200
        assert mine.external_id in html and theirs.external_id not in html and theirs.subject not in html


def test_every_kind_of_bad_token_is_the_same_plain_404(client, tickets):
    mine, theirs = tickets
    progress, survey = progress_link_token(mine), survey_link_token(mine)
    payload, _, _signature = progress.rpartition(":")
    with override_settings(SECRET_KEY="another-secret-key-" + "x" * 40):
        foreign_key = progress_link_token(mine)  # signed with another SECRET_KEY
    bad = {
        "signature stripped": payload,
        "empty signature": payload + ":",
        "signature of another token": payload + ":" + survey.rpartition(":")[2],
        "garbage": "not-a-token",
        "very long": "A" * 10_000,
        "only colons": ":::",
        "another secret key": foreign_key,
        "ticket that does not exist": signing.dumps({"t": "0" * 32, "v": 1}, salt=PROGRESS_SALT),
        "pk instead of the public id": signing.dumps({"t": mine.pk, "v": 1}, salt=PROGRESS_SALT),
        "not a dict": signing.dumps(["t", mine.public_id.hex], salt=PROGRESS_SALT),
        "unsigned payload": signing.b64_encode(b'{"t":"%s","v":1}' % mine.public_id.hex.encode()).decode(),
    }
    pages = set()
    for prefix in ("/c/p/", "/c/s/"):
        for name, token in bad.items():
            response = get(client, f"{prefix}{token}/")
            pages.add(_refusal(response, mine, theirs))
            assert response["X-Robots-Tag"] == "noindex, nofollow", name
    # The progress token on the survey page and the survey token on the progress page.
    pages.add(_refusal(get(client, f"/c/s/{progress}/"), mine, theirs))
    pages.add(_refusal(get(client, f"/c/p/{survey}/"), mine, theirs))
    assert len(pages) == 1  # one page for every refusal: nothing tells the reasons apart


def test_links_revoked_on_the_ticket_page_are_refused_and_posts_change_nothing(client, people, tickets):
    mine, theirs = tickets
    old_progress, old_survey = progress_link_url(mine), survey_link_url(mine)
    staff = Client()
    staff.force_login(people)
    assert staff.post(reverse("tickets:links_revoke", args=[mine.pk])).status_code == 302
    events = TicketEvent.objects.count()

    for url in (old_progress, old_survey):
        _refusal(get(client, urlsplit(url).path), mine, theirs)
    cache.clear()
    refused = client.post(urlsplit(old_progress).path, {"action": "reply", "body": "Through a revoked link"})
    assert refused.status_code == 404
    cache.clear()
    assert client.post(urlsplit(old_progress).path, {"action": "confirm"}).status_code == 404
    cache.clear()
    assert client.post(urlsplit(old_survey).path, {"csat": 1, "comment": "revoked"}).status_code == 404
    assert TicketEvent.objects.count() == events  # no reply, no close, no survey event
    assert not Survey.objects.exists()
    mine.refresh_from_db()
    assert mine.status == "resolved"
    # The other ticket's links were not touched; this ticket's new links work.
    assert get(client, urlsplit(progress_link_url(theirs)).path).status_code == 200
    assert get(client, urlsplit(progress_link_url(mine)).path).status_code == 200


def test_expired_links_are_the_same_404(client, tickets, settings, _clock):
    mine, theirs = tickets
    progress, survey = urlsplit(progress_link_url(mine)).path, urlsplit(survey_link_url(mine)).path
    _clock.move_to(at(3, days=settings.SURVEY_LINK_DAYS + 1))
    survey_page = _refusal(get(client, survey), mine, theirs)
    assert get(client, progress).status_code == 200  # the progress link lives longer
    _clock.move_to(at(3, days=settings.PROGRESS_LINK_DAYS + 1))
    assert _refusal(get(client, progress), mine, theirs) == survey_page


def test_other_methods_are_refused_without_a_server_error(client, tickets):
    path = urlsplit(progress_link_url(tickets[0])).path
    for method in ("put", "patch", "delete"):
        cache.clear()
        assert getattr(client, method)(path).status_code == 405
