"""The customer pages on a phone: answer the survey and reply on the progress page in
headless Chromium at 390x844, in English and Chinese; nothing may scroll sideways.
Screenshots go to SHOTS (default /tmp/shots) for a look by eye."""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.factories import TeamFactory, UserFactory
from tests.tickets.followup_helpers import at, worked_ticket
from tickets import services
from tickets.models import Survey, Ticket
from tickets.services.links import progress_link_url, survey_link_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("CUSTOMER_SHOTS_DIR", "/tmp/shots"))
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()


@pytest.fixture
def desk(db):
    SHOTS.mkdir(parents=True, exist_ok=True)
    team = TeamFactory(name="East Service")
    agent = UserFactory(username="e2e_li", first_name="Li", last_name="Wei", roles=["agent"])
    team.members.add(agent)
    return {"team": team, "agent": agent}


def path(url: str, live_server) -> str:
    return live_server.url + urlsplit(url).path


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def switch_language(page, code: str) -> None:
    page.click(f"form[action$='/i18n/setlang/'] button[value={code}]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", code)


def test_survey_on_a_phone_in_both_languages(phone, live_server, desk):
    ticket = worked_ticket(agent=desk["agent"], team=desk["team"], subject="Washing machine leaks water")
    url = path(survey_link_url(ticket), live_server)

    phone.goto(url)
    expect(phone.get_by_text("How did we do?").first).to_be_visible()
    phone.click("label[for=csat-4]")
    phone.click("label[for=nps-9]")
    phone.fill("textarea[name=comment]", "The technician was on time.")
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "survey_en.png", full_page=True)
    phone.click("#survey-form button[type=submit]")
    phone.wait_for_load_state("networkidle")

    expect(phone.locator("#thanks")).to_be_visible()
    expect(phone.locator("[data-answer=csat]")).to_have_text("4")
    survey = Survey.objects.get()
    assert (survey.csat, survey.nps, survey.comment) == (4, 9, "The technician was on time.")
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "survey_thanks_en.png", full_page=True)

    # The language switch keeps the page (and its token); the form opens to change it.
    switch_language(phone, "zh-hans")
    phone.goto(url + "?change=1")
    expect(phone.locator("input[name=csat][value='4']")).to_be_checked()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "survey_zh.png", full_page=True)
    assert phone.console_errors == []


def test_progress_on_a_phone_reply_and_both_languages(phone, live_server, desk):
    agent = desk["agent"]
    ticket = worked_ticket(
        agent=agent, team=desk["team"], status="in_progress", subject="Air conditioner makes a rattling noise"
    )
    services.ticket_comment(
        ticket_id=ticket.pk, actor=agent, body="Please send us a photo of the serial plate.", public=True, at=at(2.5)
    )
    services.ticket_comment(ticket_id=ticket.pk, actor=agent, body="Internal: likely fan", public=False, at=at(2.6))
    services.ticket_transition(ticket_id=ticket.pk, to_status="waiting_customer", actor=agent, at=at(2.7))
    url = path(progress_link_url(ticket), live_server)

    phone.goto(url)
    expect(phone.get_by_text("Please send us a photo of the serial plate.")).to_be_visible()
    expect(phone.get_by_text("Internal: likely fan")).to_have_count(0)
    phone.fill("textarea[name=body]", "The serial is SN-2025-0042.")
    phone.click("button[name=action][value=reply]")
    phone.wait_for_load_state("networkidle")

    expect(phone.get_by_text("The serial is SN-2025-0042.")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "progress_en.png", full_page=True)

    switch_language(phone, "zh-hans")
    assert phone.url.startswith(url)
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "progress_zh.png", full_page=True)

    # Resolved: the customer confirms, which closes it.
    services.ticket_transition(ticket_id=ticket.pk, to_status="resolved", actor=agent)
    phone.goto(url)
    phone.click("button[name=action][value=confirm]")
    phone.wait_for_load_state("networkidle")
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "progress_closed_zh.png", full_page=True)
    assert phone.console_errors == []


def test_an_invalid_link_on_a_phone(phone, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    response = phone.goto(f"{live_server.url}/c/p/not-a-token/")
    assert response.status == 404
    expect(phone.get_by_text("This link is not valid.")).to_be_visible()
    assert no_sideways_scroll(phone)
    phone.screenshot(path=SHOTS / "invalid_en.png", full_page=True)


def test_the_staff_card_records_the_follow_up(page, live_server, desk):
    ticket = worked_ticket(agent=desk["agent"], team=desk["team"], subject="Dishwasher does not drain")
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "e2e_li")
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))

    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    card = page.locator("#customer-card")
    expect(card.locator("[data-task=follow_up]")).to_be_visible()
    expect(card.locator("textarea.customer-message")).to_have_value(re.compile(r"/c/p/.+/c/s/", re.S))
    page.screenshot(path=SHOTS / "staff_card_en.png", full_page=True)

    card.locator("textarea[name=outcome]").fill("Called: the drain works again.")
    card.get_by_role("button", name="Record follow-up").click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("The follow-up was recorded.")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).follow_up_at is not None
    expect(page.locator("#customer-card .done-task")).to_contain_text("Called: the drain works again.")
    assert page.console_errors == []
