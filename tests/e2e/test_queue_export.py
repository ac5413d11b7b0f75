"""The queue's export buttons follow the filters that htmx applies, and download the file."""

import csv
import io
import re

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.factories import TeamFactory, TicketFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_export_buttons_carry_the_current_filters(page, live_server):
    team = TeamFactory(name="East Service")
    team.members.add(UserFactory(username="e2e_exporter", roles=["agent"]))
    TicketFactory(team=team, external_id="T-URGENT", priority="urgent", subject="Smoke")
    TicketFactory(team=team, external_id="T-LOW", priority="low", subject="Squeak")

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "e2e_exporter")
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))

    csv_link = page.locator("a[data-export-format=csv]")
    expect(csv_link).to_have_attribute("href", "/tickets/export/?format=csv")
    page.select_option("#id_priority", "urgent")
    expect(page.locator("#queue-results")).not_to_contain_text("T-LOW")
    expect(csv_link).to_have_attribute("href", re.compile(r"priority=urgent.*format=csv$"))

    with page.expect_download() as download:
        page.click("a[data-export-format=xlsx]")
    assert re.fullmatch(r"tickets-\d{8}-\d{4}\.xlsx", download.value.suggested_filename)
    sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["Number", "T-URGENT"]

    with page.expect_download() as download:
        csv_link.click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text("utf-8-sig"), newline="")))
    assert [row[0] for row in rows] == ["Number", "T-URGENT"]
    assert page.console_errors == []
