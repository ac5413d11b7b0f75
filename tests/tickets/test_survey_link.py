"""The survey link and page: signed per ticket and resolution round; unanswered it lives
SURVEY_LINK_DAYS (30), answered its answer can be changed for SURVEY_CHANGE_DAYS (7);
a low CSAT creates one callback and one notice to the supervisor."""

from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import signing

from catalog.exceptions import ApplicationError, ConflictError
from tests.factories import UserFactory
from tickets import services
from tickets.models import Notification, ServiceTask, Survey, Ticket
from tickets.services.links import (
    LinkInvalid,
    progress_link_token,
    survey_link_ticket,
    survey_link_token,
    survey_link_url,
)

from .followup_helpers import at, worked_ticket

INVALID = "This link is not valid."


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(at(3), tick=False) as traveller:
        yield traveller


@pytest.fixture
def resolved(agent, team_a):
    return worked_ticket(agent=agent, team=team_a, subject="Dryer is noisy")


def page_path(url: str) -> str:
    return urlsplit(url).path


def test_a_valid_link_opens_the_form(client, resolved, settings):
    url = survey_link_url(resolved)
    assert url.startswith(f"{settings.SITE_URL}/c/s/")
    response = client.get(page_path(url))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Dryer is noisy" in html and 'name="csat"' in html and 'name="nps"' in html
    assert response["Cache-Control"].startswith("max-age=0") and response["Referrer-Policy"] == "same-origin"


def test_submitting_stores_one_survey_and_a_survey_event(client, resolved):
    path = page_path(survey_link_url(resolved))
    response = client.post(path, {"csat": "4", "nps": "9", "comment": "Quick and friendly."})
    assert response.status_code == 302

    survey = Survey.objects.get()
    assert survey.external_id == f"W-{resolved.external_id}-0"
    assert (survey.ticket, survey.customer) == (resolved, resolved.customer)
    assert (survey.csat, survey.nps, survey.comment) == (4, 9, "Quick and friendly.")
    assert survey.responded_at == at(3) and survey.changed_at is None
    event = resolved.events.filter(kind="survey").get()
    assert (event.to_value, event.actor, event.public) == ("CSAT 4 · NPS 9", None, False)

    html = client.get(path).content.decode()  # the thank-you state
    assert "Thank you for your feedback!" in html
    # Answered 2025-06-02 12:00 (Shanghai) + 7 days.
    assert "You can change your answer until 2025-06-09 12:00." in html
    assert 'data-answer="csat">4<' in html


def test_a_survey_needs_a_score_and_valid_ranges(client, resolved):
    path = page_path(survey_link_url(resolved))
    response = client.post(path, {"comment": "No scores"})
    assert response.status_code == 400
    assert "Please give at least one score." in response.content.decode()
    response = client.post(path, {"csat": "6", "nps": "11"})
    assert response.status_code == 400
    assert not Survey.objects.exists()

    with pytest.raises(ApplicationError) as refused:
        services.survey_submit(ticket=resolved, round=0, csat=0, nps=-1, comment="")
    assert set(refused.value.errors) == {"csat", "nps"}
    # NPS alone is an answer.
    services.survey_submit(ticket=resolved, round=0, csat=None, nps=0, comment="")
    assert Survey.objects.get().nps == 0


def test_the_answer_can_be_changed_for_7_days_then_the_link_expires(client, resolved, _clock):
    path = page_path(survey_link_url(resolved))
    client.post(path, {"csat": "3"})  # first answer at T0 + 3 h = 2025-06-02 12:00

    _clock.move_to(at(3, days=6))
    assert client.post(path, {"csat": "5", "nps": "10"}).status_code == 302
    survey = Survey.objects.get()
    assert (survey.csat, survey.nps) == (5, 10)
    assert survey.responded_at == at(3) and survey.changed_at == at(3, days=6)
    assert list(resolved.events.filter(kind="survey").values_list("from_value", "to_value")) == [
        ("", "CSAT 3"),
        ("CSAT 3", "CSAT 5 · NPS 10"),
    ]

    _clock.move_to(at(3.01, days=7))  # 7 days and 36 s after the first answer
    response = client.get(path)
    assert response.status_code == 404 and INVALID in response.content.decode()
    assert client.post(path, {"csat": "1"}).status_code == 404
    with pytest.raises(ConflictError):
        services.survey_submit(ticket=resolved, round=0, csat=1, nps=None, comment="")
    assert Survey.objects.get().csat == 5


def test_an_unanswered_link_lives_30_days_an_answered_one_7_after_the_answer(client, resolved, _clock):
    token = survey_link_token(resolved)  # issued at T0 + 3 h
    _clock.move_to(at(3, days=29))
    assert survey_link_ticket(token) == (resolved, 0)
    services.survey_submit(ticket=resolved, round=0, csat=4, nps=None, comment="")
    _clock.move_to(at(3, days=35))  # past 30 days from the issue, within 7 of the answer
    assert survey_link_ticket(token) == (resolved, 0)

    other = worked_ticket(agent=resolved.assignee, team=resolved.team)
    stale = survey_link_token(other)
    _clock.move_to(at(3.01, days=35 + 30))
    with pytest.raises(LinkInvalid):
        survey_link_ticket(stale)


def test_a_tampered_link_is_refused(client, resolved):
    token = survey_link_token(resolved)
    # One character changed in the signature, and one in the payload.
    for i in (len(token) - 3, 5):
        forged = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        response = client.get(f"/c/s/{forged}/")
        assert response.status_code == 404
        html = response.content.decode()
        assert INVALID in html and "Dryer is noisy" not in html


def test_a_survey_link_of_an_unresolved_ticket_is_refused(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a, status="in_progress")
    with pytest.raises(LinkInvalid):
        survey_link_ticket(survey_link_token(ticket))


def test_the_link_of_a_past_round_is_refused(agent, resolved):
    old = survey_link_token(resolved)
    services.ticket_transition(ticket_id=resolved.pk, to_status="in_progress", actor=agent, at=at(2.5))
    with pytest.raises(LinkInvalid):  # reopened: nothing to rate
        survey_link_ticket(old)
    services.ticket_transition(ticket_id=resolved.pk, to_status="resolved", actor=agent, at=at(2.8))
    ticket = Ticket.objects.get(pk=resolved.pk)
    with pytest.raises(LinkInvalid):  # resolved again: round 1 now
        survey_link_ticket(old)
    assert survey_link_ticket(survey_link_token(ticket)) == (ticket, 1)
    services.survey_submit(ticket=ticket, round=1, csat=5, nps=None, comment="")
    assert Survey.objects.get().external_id == f"W-{ticket.external_id}-1"
    with pytest.raises(ConflictError):
        services.survey_submit(ticket=ticket, round=0, csat=5, nps=None, comment="")


def test_revoked_and_foreign_tokens_are_refused(agent, resolved):
    token = survey_link_token(resolved)
    # A progress token of the same ticket is not a survey token (distinct salts).
    with pytest.raises(LinkInvalid):
        survey_link_ticket(progress_link_token(resolved))
    # A well-signed token for a ticket that does not exist.
    ghost = signing.dumps({"t": "0" * 32, "v": 1, "r": 0}, salt="tickets.links.survey")
    with pytest.raises(LinkInvalid):
        survey_link_ticket(ghost)
    services.ticket_links_revoke(ticket_id=resolved.pk, actor=agent)
    with pytest.raises(LinkInvalid):
        survey_link_ticket(token)


def test_a_low_csat_creates_one_callback_and_one_notice_even_when_sent_twice(client, resolved, team_a, _clock):
    boss = UserFactory(username="boss_a", roles=["supervisor"])
    team_a.supervisor = boss
    team_a.save(update_fields=["supervisor"])
    path = page_path(survey_link_url(resolved))

    client.post(path, {"csat": "2", "comment": "Took too long."})
    _clock.move_to(at(4))
    client.post(path, {"csat": "1", "comment": "Still annoyed."})

    callback = ServiceTask.objects.get(kind="callback")
    assert (callback.ticket, callback.round, callback.team) == (resolved, 0, team_a)
    assert callback.due_at == at(3 + 24)  # 24 h after the first low answer
    notices = Notification.objects.filter(kind="survey.low_score")
    assert notices.count() == 1
    notice = notices.get()
    assert notice.recipient == boss and notice.urgent is False
    assert resolved.external_id in notice.title


def test_a_good_csat_creates_no_callback(client, resolved):
    client.post(page_path(survey_link_url(resolved)), {"csat": "3", "nps": "2"})
    assert not ServiceTask.objects.filter(kind="callback").exists()
    assert not Notification.objects.filter(kind="survey.low_score").exists()
