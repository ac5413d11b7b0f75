"""An agent records the repair of a failure on a repair ticket in a real browser: the
failure with its parts appears on the ticket, and a second failure of the same mode on
the same unit inside the repeat window carries the REPEAT badge."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from quality.models import Failure
from tests.factories import ComponentFactory, CustomerFactory, FailureModeFactory, TeamFactory, UnitFactory, UserFactory
from tickets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bench(db):
    team = TeamFactory(name="East Service")
    agent = UserFactory(username="e2e_fixer", first_name="Li", last_name="Wei", roles=["agent"])
    team.members.add(agent)
    customer = CustomerFactory(name="Zhang Hua")
    unit = UnitFactory(customer=customer, serial="SN-E2E-0042")
    FailureModeFactory(code="MECH-BEARING", name_en="Bearing wear")
    ComponentFactory(code="WB-BRG-02", name="Drum bearing")
    tickets = [
        services.ticket_create(
            actor=agent,
            customer=customer,
            unit=unit,
            team=team,
            assignee=agent,
            subject=subject,
            type="repair",
            channel="phone",
            dispatch=False,
        )
        for subject in ("Drum noise", "Drum noise again")
    ]
    return {"agent": agent, "unit": unit, "tickets": tickets}


def record(page, live_server, ticket, *, occurred: dt.datetime, repaired: dt.datetime):
    page.goto(f"{live_server.url}/tickets/{ticket.pk}/")
    form = page.locator("form[action$='/failures/']")
    form.locator("select[name=failure_mode]").select_option("MECH-BEARING")
    form.locator("select[name=component]").select_option("WB-BRG-02")
    form.locator("input[name=occurred_at]").fill(timezone.localtime(occurred).strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=repaired_at]").fill(timezone.localtime(repaired).strftime("%Y-%m-%dT%H:%M"))
    form.locator("textarea[name=repair_action]").fill("Replaced the drum bearing.")
    form.locator("input[name=labor_hours]").fill("1.5")
    form.locator("input[name=part_number_0]").fill("BRG-6205")
    form.locator("input[name=quantity_0]").fill("2")
    form.locator("input[name=unit_cost_0]").fill("35")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/tickets/{ticket.pk}/"))


def test_agent_records_a_failure_and_a_repeat_is_flagged(page, live_server, bench, screenshot_dir):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "e2e_fixer")
    page.fill("input[name=password]", "pass-1234")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(re.compile(r"/tickets/"))
    first, second = bench["tickets"]
    now = timezone.now().replace(second=0, microsecond=0)

    record(page, live_server, first, occurred=now - dt.timedelta(days=10), repaired=now - dt.timedelta(days=9))
    expect(page.get_by_text("BRG-6205 × 2 @ 35.00")).to_be_visible()
    failure = Failure.objects.get(ticket=first)
    assert (failure.failure_mode.code, failure.component.code, str(failure.parts_cost)) == (
        "MECH-BEARING",
        "WB-BRG-02",
        "70.00",
    )
    assert failure.repeat_of is None

    record(page, live_server, second, occurred=now - dt.timedelta(days=2), repaired=now - dt.timedelta(days=1))
    expect(page.get_by_text("REPEAT").first).to_be_visible()
    assert Failure.objects.get(ticket=second).repeat_of == failure
    page.screenshot(path=screenshot_dir / "failure-repeat-en.png", full_page=True)
    assert page.console_errors == []
