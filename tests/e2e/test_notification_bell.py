"""The navbar bell: htmx loads the unread count after the page; the list marks a notice
read when it is opened. Screenshots in both languages."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import TeamFactory, TicketFactory, UserFactory
from tickets.services import notification_send

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_bell_count_list_and_open(page, live_server, screenshot_dir, language):
    team = TeamFactory(name="East Service")
    user = UserFactory(username="e2e_bell", roles=["agent"], language=language)
    team.members.add(user)
    ticket = TicketFactory(team=team, external_id="T-BELL", subject="Washer leaks")
    notification_send(
        recipients=[user],
        kind="sla.at_risk",
        title="Ticket T-BELL: resolution at risk",
        body="Due 2025-03-17 18:00.",
        url=f"/tickets/{ticket.pk}/",
        urgent=True,
    )
    notification_send(recipients=[user], kind="sla.breached", title="Ticket T-OTHER breached", urgent=True)

    login(page, live_server, "e2e_bell")
    badge = page.locator("#notification-badge .notification-count")
    expect(badge).to_have_text(re.compile(r"^2"))
    page.screenshot(
        path=str(screenshot_dir / f"notifications-bell-{language}.png"),
        clip={"x": 0, "y": 0, "width": 1400, "height": 70},
    )

    page.click("a.notification-bell")
    page.wait_for_url(re.compile(r"/tickets/notifications/$"))
    expect(page.locator(".notification-unread")).to_have_count(2)
    page.screenshot(path=str(screenshot_dir / f"notifications-list-{language}.png"), full_page=True)

    page.click("text=Ticket T-BELL: resolution at risk")
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/$"))
    expect(page.locator("#notification-badge .notification-count")).to_have_text(re.compile(r"^1"))
    assert page.console_errors == []
