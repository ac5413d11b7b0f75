"""Follow-ups (回访): created by the resolve gate, recorded once, one per resolution
round; the survey e-mail queued on commit; the customer card on the staff ticket page."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from catalog.exceptions import ApplicationError, ConflictError
from tests.factories import UserFactory
from tickets import services
from tickets.models import ServiceTask, Ticket, TicketEvent
from tickets.services.followups import NotAllowed
from tickets.services.surveys import survey_email_send

from .followup_helpers import T0, at, worked_ticket


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(at(3), tick=False):
        yield


def test_resolve_creates_the_follow_up_due_72_hours_later(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)  # resolved at T0 + 2 h

    task = ServiceTask.objects.get(ticket=ticket)
    assert (task.kind, task.round, task.team, task.done_at) == ("follow_up", 0, team_a, None)
    # 2025-06-02 11:00 + 72 h = 2025-06-05 11:00 (Shanghai), whatever the calendar.
    assert task.due_at == at(2 + 72)
    assert task.created_at == at(2)


def test_follow_up_hours_come_from_the_settings(agent, team_a, settings):
    settings.FOLLOW_UP_HOURS = 24
    ticket = worked_ticket(agent=agent, team=team_a)
    assert ServiceTask.objects.get(ticket=ticket).due_at == at(2 + 24)


def test_waiting_for_the_customer_creates_no_follow_up(agent, team_a):
    worked_ticket(agent=agent, team=team_a, status="waiting_customer")
    assert not ServiceTask.objects.exists()


def test_the_hook_is_idempotent(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    again = services.ticket_resolved_followups(ticket=ticket, at=at(2.5))
    assert ServiceTask.objects.filter(ticket=ticket).count() == 1
    assert again.due_at == at(74)  # the first one, untouched


def test_recording_the_follow_up_sets_follow_up_at_once(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    task = ServiceTask.objects.get(ticket=ticket)
    version = ticket.version

    services.service_task_complete(task_id=task.pk, actor=agent, outcome="Customer happy, unit runs fine.", at=at(30))

    ticket.refresh_from_db()
    task.refresh_from_db()
    assert ticket.follow_up_at == at(30)
    assert ticket.version == version + 1
    assert (task.done_at, task.done_by, task.outcome) == (at(30), agent, "Customer happy, unit runs fine.")
    event = ticket.events.order_by("-id").first()
    assert (event.kind, event.actor, event.at, event.public) == ("follow_up", agent, at(30), False)
    assert event.comment == "Customer happy, unit runs fine."

    events = TicketEvent.objects.filter(ticket=ticket).count()
    with pytest.raises(ConflictError) as refused:
        services.service_task_complete(task_id=task.pk, actor=agent, outcome="Again", at=at(31))
    assert refused.value.status_code == 409
    ticket.refresh_from_db()
    task.refresh_from_db()
    assert ticket.follow_up_at == at(30) and task.outcome == "Customer happy, unit runs fine."
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_an_empty_outcome_is_refused_and_writes_nothing(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    task = ServiceTask.objects.get(ticket=ticket)
    with pytest.raises(ApplicationError) as refused:
        services.service_task_complete(task_id=task.pk, actor=agent, outcome="   ", at=at(30))
    assert "outcome" in refused.value.errors
    task.refresh_from_db()
    assert task.done_at is None and Ticket.objects.get(pk=ticket.pk).follow_up_at is None


def test_only_the_team_or_staff_record_it(agent, agent_b, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    task = ServiceTask.objects.get(ticket=ticket)
    with pytest.raises(NotAllowed) as refused:
        services.service_task_complete(task_id=task.pk, actor=agent_b, outcome="Called", at=at(30))
    assert refused.value.status_code == 403
    staff = UserFactory(username="staffer", is_staff=True)
    services.service_task_complete(task_id=task.pk, actor=staff, outcome="Called", at=at(30))
    assert Ticket.objects.get(pk=ticket.pk).follow_up_at == at(30)


def test_a_callback_just_completes(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    callback = ServiceTask.objects.create(ticket=ticket, kind="callback", round=0, team=team_a, due_at=at(26))
    version = Ticket.objects.get(pk=ticket.pk).version
    services.service_task_complete(task_id=callback.pk, actor=agent, outcome="Apologised, sent a voucher.", at=at(5))
    callback.refresh_from_db()
    ticket.refresh_from_db()
    assert callback.done_at == at(5)
    assert ticket.follow_up_at is None and ticket.version == version


def test_resolving_again_after_a_reopen_makes_a_new_round(agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    services.ticket_transition(ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=at(5))
    services.ticket_transition(ticket_id=ticket.pk, to_status="resolved", actor=agent, at=at(8))

    rounds = list(ServiceTask.objects.filter(ticket=ticket).order_by("round").values_list("round", "due_at"))
    assert rounds == [(0, at(74)), (1, at(80))]


def test_the_survey_email_is_queued_on_commit_and_sent_once(
    agent, team_a, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = worked_ticket(agent=agent, team=team_a, email="zhang@example.com")
    assert len(callbacks) == 1
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["zhang@example.com"]
    assert ticket.external_id in mail.subject
    assert f"{settings.SITE_URL}/c/s/" in mail.body

    # A duplicated or retried task sends nothing more.
    assert survey_email_send(ticket_id=ticket.pk, round=0) is False
    assert len(mailoutbox) == 1
    sent = ticket.events.filter(kind="survey", to_value="emailed:0")
    assert sent.count() == 1 and not sent.get().public


def test_no_email_is_queued_without_an_address(agent, team_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        worked_ticket(agent=agent, team=team_a)
    assert callbacks == []


# The customer card on the staff ticket page.


def test_the_card_shows_an_overdue_follow_up_and_the_links(client, agent, team_a, settings):
    ticket = worked_ticket(agent=agent, team=team_a)
    client.force_login(agent)
    with time_machine.travel(at(2 + 73), tick=False):
        html = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert 'data-task="follow_up"' in html
    assert "Overdue" in html
    assert "2025-06-05 11:00" in html  # due, in Shanghai time
    # Progress and survey links, absolute, ready to copy.
    assert f"{settings.SITE_URL}/c/p/" in html and f"{settings.SITE_URL}/c/s/" in html
    assert "Revoke customer links" in html


def test_a_reader_sees_no_links_and_no_forms(client, agent, team_a, manager):
    ticket = worked_ticket(agent=agent, team=team_a)
    client.force_login(manager)
    html = client.get(reverse("tickets:detail", args=[ticket.pk])).content.decode()
    assert 'data-task="follow_up"' in html
    assert "/c/p/" not in html and "/c/s/" not in html
    assert reverse("tickets:links_revoke", args=[ticket.pk]) not in html


def test_recording_from_the_page(client, agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    task = ServiceTask.objects.get(ticket=ticket)
    client.force_login(agent)
    url = reverse("tickets:task_complete", args=[ticket.pk, task.pk])
    response = client.post(url, {"outcome": "Called, all good."})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).follow_up_at == at(3)
    # A second post is refused with a message and changes nothing.
    response = client.post(url, {"outcome": "Called again."}, follow=True)
    assert "already recorded" in response.content.decode()
    assert ServiceTask.objects.get(pk=task.pk).outcome == "Called, all good."


def test_another_teams_agent_gets_a_404(client, agent, agent_b, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    task = ServiceTask.objects.get(ticket=ticket)
    client.force_login(agent_b)
    response = client.post(reverse("tickets:task_complete", args=[ticket.pk, task.pk]), {"outcome": "x"})
    assert response.status_code == 404
    assert client.post(reverse("tickets:links_revoke", args=[ticket.pk])).status_code == 404
    assert ServiceTask.objects.get(pk=task.pk).done_at is None


def test_revoking_from_the_page_raises_the_link_version(client, agent, team_a):
    ticket = worked_ticket(agent=agent, team=team_a)
    client.force_login(agent)
    response = client.post(reverse("tickets:links_revoke", args=[ticket.pk]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.link_version == 2
    note = ticket.events.order_by("-id").first()
    assert (note.kind, note.public, note.actor) == ("note", False, agent)


def test_times_are_hand_checked():
    # Guards the helper the tests above rely on.
    assert at(2 + 72) == T0 + dt.timedelta(hours=74)
    assert at(2 + 72).isoformat() == "2025-06-05T11:00:00+08:00"
