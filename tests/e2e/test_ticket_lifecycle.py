"""An agent works a ticket from creation to closure in a real browser, in both languages."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory, TeamFactory, UnitFactory, UserFactory
from tickets.models import EventKind, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(db):
    team = TeamFactory(name="East Service")
    agent = UserFactory(username="e2e_agent", first_name="Li", last_name="Wei", roles=["agent"])
    team.members.add(agent)
    customer = CustomerFactory(name="Zhang Hua", external_id="C-E2E-1")
    unit = UnitFactory(customer=customer, serial="SN-E2E-0001")
    return {"team": team, "agent": agent, "customer": customer, "unit": unit}


def login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))


def act(page, to_status):
    page.click(f"button[name=to_status][value={to_status}]")
    page.wait_for_load_state("networkidle")


def test_agent_creates_works_and_closes_a_ticket(page, live_server, desk, screenshot_dir):
    login(page, live_server, "e2e_agent")

    page.goto(f"{live_server.url}/tickets/new/")
    page.fill("#id_customer_q", "Zhang")
    # htmx fills the customer list from the type-ahead; a single match is chosen at once
    # and its units are loaded.
    expect(page.locator("#id_customer")).to_have_value(str(desk["customer"].pk), timeout=10_000)
    expect(page.locator(f"#id_unit option[value='{desk['unit'].pk}']")).to_have_count(1, timeout=10_000)
    page.select_option("#id_unit", str(desk["unit"].pk))
    page.select_option("#id_type", "repair")
    page.select_option("#id_channel", "phone")
    page.select_option("#id_priority", "high")
    page.fill("#id_subject", "Washer stops mid-cycle")
    page.fill("#id_description", "Error E21 after ten minutes.")
    page.select_option("#id_team", str(desk["team"].pk))
    page.screenshot(path=screenshot_dir / "create-en.png", full_page=True)
    page.click("form:has(#id_subject) button[type=submit].btn-primary")
    page.wait_for_url(re.compile(r"/tickets/\d+/$"))

    ticket = Ticket.objects.get(subject="Washer stops mid-cycle")
    # Auto-dispatch gave it to the team's only agent on shift (a team without shifts
    # counts every agent as on shift).
    assert ticket.status == "assigned" and ticket.unit == desk["unit"] and ticket.priority == "high"
    assert ticket.assignee == desk["agent"] and ticket.dispatch_method == "auto"
    # An assigned ticket is started before it can be resolved.
    expect(page.locator("button[name=to_status][value=resolved]")).to_have_count(0)
    act(page, "in_progress")
    page.fill("form[action$='/comment/'] textarea[name=body]", "We will send a technician tomorrow.")
    page.click("form[action$='/comment/'] button[value=public]")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=screenshot_dir / "ticket-in-progress-en.png", full_page=True)
    act(page, "resolved")
    act(page, "closed")

    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert ticket.assignee == desk["agent"] and ticket.dispatch_method == "auto"
    assert ticket.first_response_at is not None and ticket.resolved_at and ticket.closed_at
    kinds = list(ticket.events.values_list("kind", "to_value"))
    assert kinds == [
        (EventKind.CREATED, "new"),
        (EventKind.ASSIGNED, "e2e_agent"),
        (EventKind.STATUS, "in_progress"),
        (EventKind.REPLY, ""),
        (EventKind.STATUS, "resolved"),
        (EventKind.STATUS, "closed"),
    ]
    # A closed ticket can only be reopened.
    buttons = page.locator("button[name=to_status]")
    expect(buttons).to_have_count(1)
    assert buttons.first.get_attribute("value") == "in_progress"
    expect(page.get_by_text("We will send a technician tomorrow.")).to_be_visible()

    # The queue opens on open tickets; the closed one shows under "any status".
    page.goto(f"{live_server.url}/tickets/")
    expect(page.get_by_text("Washer stops mid-cycle")).to_have_count(0)
    page.goto(f"{live_server.url}/tickets/?status=")
    expect(page.get_by_text("Washer stops mid-cycle")).to_be_visible()
    page.screenshot(path=screenshot_dir / "queue-en.png", full_page=True)
    assert page.console_errors == []


def test_pages_follow_the_chosen_language(page, live_server, desk, screenshot_dir):
    login(page, live_server, "e2e_agent")
    page.goto(f"{live_server.url}/tickets/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The language switch in the navbar posts to Django's set_language view.
    page.click("form[action$='/i18n/setlang/'] button[value=zh-hans]")
    page.wait_for_load_state("networkidle")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("link", name=re.compile("新建工单")).first).to_be_visible()
    page.screenshot(path=screenshot_dir / "queue-zh-hans.png", full_page=True)

    page.goto(f"{live_server.url}/tickets/new/")
    expect(page.get_by_text("客户").first).to_be_visible()
    page.screenshot(path=screenshot_dir / "create-zh-hans.png", full_page=True)
    assert page.console_errors == []
