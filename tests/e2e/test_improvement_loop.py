"""The closed loop in a real browser. A batch whose failure rate drops to a quarter after
a fix, with an open alert on it; the quality engineer opens an issue from the alert,
triages it, analyses the root cause (fishbone cause, 5-why chain, verified with
evidence), plans a corrective action; the committee member holds a review meeting whose
automatic agenda carries the plan and approves it; the engineer implements, marks the
action done with evidence, runs an effectiveness verification (before/after windows)
that comes out effective, and closes the issue. The board shows it closed, the closure
waterfall is drawn, the console stays clean; screenshots in English and Chinese."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from pathlib import Path

import pytest
import time_machine
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from improvements.models import ImprovementIssue, State, Verdict
from quality.models import Alert, AlertRule
from tests.factories import (
    BatchFactory,
    CustomerFactory,
    FailureFactory,
    FailureModeFactory,
    ProductModelFactory,
    TeamFactory,
    TicketFactory,
    UnitFactory,
    UserFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("IMPROVEMENT_SHOTS", "/tmp/shots"))
PASSWORD = "pass-1234"
BATCH = "E2E-L15"
UNITS = 200
BEFORE, AFTER = 40, 10  # failures in 90 days before the fix, in 75 days after it


@pytest.fixture(autouse=True)
def _one_request_at_a_time(monkeypatch):
    """On SQLite the live server hands the test's in-memory connection to every request
    thread: requests take turns (PostgreSQL needs nothing). As in test_dashboards."""
    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        return
    lock = threading.Lock()
    handle = WSGIHandler.__call__

    def in_turn(self, environ, start_response):
        with lock:
            return handle(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", in_turn)


@pytest.fixture
def scenario(db):
    """A batch of 200 units sold 400 days ago: 40 bearing failures in [today-180,
    today-90), 10 in [today-75, today); an open critical alert on the batch."""
    today = timezone.localdate()
    model = ProductModelFactory(code="WX300")
    batch = BatchFactory(code=BATCH, product_model=model, quantity=UNITS, produced_on=today - dt.timedelta(days=420))
    customer = CustomerFactory()
    team = TeamFactory(name="Field Service")
    units = [UnitFactory(batch=batch, customer=customer, sold_on=today - dt.timedelta(days=400)) for _ in range(UNITS)]
    mode = FailureModeFactory(code="MECH-BEARING", name_en="Bearing wear")

    def fail(unit, day):
        occurred = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
        ticket = TicketFactory(customer=customer, team=team, created_at=occurred)
        FailureFactory(unit=unit, ticket=ticket, failure_mode=mode, occurred_at=occurred)

    for n in range(BEFORE):
        fail(units[n], today - dt.timedelta(days=180 - 2 * n))
    for n in range(AFTER):
        fail(units[BEFORE + n], today - dt.timedelta(days=75 - 7 * n))
    rule = AlertRule.objects.create(
        code="e2e-batch",
        name="Batch failure anomaly",
        kind="anomaly",
        kpi="failures_per_1000",
        split_by="batch",
        grain="month",
        params={"method": "poisson", "baseline_periods": 12, "min_count": 3, "alpha": 0.001},
        severity="critical",
    )
    first = timezone.now() - dt.timedelta(days=150)
    alert = Alert.objects.create(
        rule=rule,
        member={"batch": BATCH},
        member_key=f"batch={BATCH}",
        severity="critical",
        status="firing",
        first_fired_at=first,
        last_fired_at=first,
        period_start=timezone.localdate(first).replace(day=1),
        value=33.0,
        baseline=2.1,
    )
    engineer = UserFactory(username="qe", first_name="Lin", last_name="Wei", roles=["quality_engineer"])
    committee = UserFactory(username="cm", first_name="Zhao", last_name="Min", roles=["committee_member"])
    return {"alert": alert, "engineer": engineer, "committee": committee, "today": today}


def login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))


def submit(page, selector):
    with page.expect_navigation():
        page.click(selector)


def move(page, state):
    submit(page, f'#issue-moves form button[data-transition="{state}"]')
    expect(page.locator("#issue-state")).to_have_attribute("data-state", state)


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"improvements_{name}.png"), full_page=True)


def test_alert_to_closed_verified_issue(browser, page, live_server, scenario):
    today = scenario["today"]
    # The clock moves on between the steps (so the closure waterfall has phases to draw);
    # it never moves more than a few days, so sessions stay valid.
    with time_machine.travel(timezone.now(), tick=True) as clock:
        login(page, live_server, "qe")

        # The alert page offers the issue; creating it lands on the issue page.
        page.goto(f"{live_server.url}/alerts/{scenario['alert'].pk}/")
        expect(page.locator("#alert-improvement-panel")).to_be_visible()
        submit(page, "#create-improvement")
        expect(page).to_have_url(re.compile(r"/improvements/issues/\d+/$"))
        issue = ImprovementIssue.objects.get()
        issue_url = page.url
        expect(page.locator("#scope")).to_contain_text(BATCH)
        expect(page.locator("#evidence")).to_contain_text(f"#{scenario['alert'].pk}")

        clock.shift(dt.timedelta(days=1))
        move(page, State.TRIAGE)
        clock.shift(dt.timedelta(days=1))
        move(page, State.ROOT_CAUSE)
        # The plan's button is disabled with the guard's reason.
        expect(page.locator('[data-refused="action_plan"]')).to_contain_text("root cause must be verified")

        # Root cause: a cause on the fishbone, its 5-why chain, verified with evidence.
        page.select_option("#cause-category", "technology")
        page.fill("#cause-description", "Bearing WB-BRG-02 under-greased at the supplier")
        submit(page, "#cause-form button[type=submit]")
        cause = page.locator("#causes [data-cause]").first
        cause.locator("summary", has_text="5-why chain").click()
        whys = [
            "The drum bearing wears out after a few months",
            "The grease film breaks down under load",
            "Too little grease is applied",
            "The supplier's dosing station was re-set",
            "No incoming inspection of grease quantity",
        ]
        for n, text in enumerate(whys, start=1):
            cause.locator(f"input[name=why_{n}]").fill(text)
        submit(page, "#causes [data-cause] .why-form button")
        cause = page.locator("#causes [data-cause]").first
        expect(cause.locator(".why-chain li")).to_have_count(5)
        cause.locator("summary", has_text="Verify with evidence").click()
        cause.locator("textarea[name=evidence]").fill("Teardown of 12 returned units: grease below 40 % of spec")
        submit(page, "#causes [data-cause] .verify-form button")
        expect(page.locator("#causes [data-verified]")).to_have_count(1)
        expect(page.locator('.bone[data-bone="technology"] .bi-check-circle-fill')).to_have_count(1)

        clock.shift(dt.timedelta(days=2))
        move(page, State.ACTION_PLAN)
        page.select_option("#action-form [name=kind]", "corrective")
        page.fill("#action-form [name=title]", "Supplier adds a grease-weight check; re-grease stock")
        page.fill("#action-form [name=due_on]", (today + dt.timedelta(days=14)).isoformat())
        submit(page, "#action-form button[type=submit]")
        expect(page.locator("#actions-table [data-action]")).to_have_count(1)
        expect(page.locator('[data-refused="implementation"]')).to_contain_text("not approved")

        # The committee member: a meeting, its automatic agenda, the plan approved.
        clock.shift(dt.timedelta(days=1))
        committee_page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US").new_page()
        errors = page.console_errors
        committee_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        login(committee_page, live_server, "cm")
        committee_page.goto(f"{live_server.url}/improvements/meetings/new/")
        committee_page.fill("#id_title", "Quality committee, weekly")
        committee_page.fill("#id_held_on", timezone.localdate().isoformat())
        submit(committee_page, "main form button[type=submit]")
        submit(committee_page, "#build-agenda")
        item = committee_page.locator("[data-item]", has_text=issue.code).first
        item.locator("select").select_option("approve_plan")
        item.locator("textarea").fill("Plan approved; supplier to report weekly.")
        with committee_page.expect_navigation():
            item.locator("button[type=submit]").click()
        expect(committee_page.locator("[data-decision=approve_plan]")).to_have_count(1)
        shoot(committee_page, "meeting_en")
        committee_page.context.close()

        # The engineer: implementation, the action done with evidence, verification.
        clock.shift(dt.timedelta(days=1))
        page.goto(issue_url)
        expect(page.locator("#plan-approved")).to_be_visible()
        move(page, State.IMPLEMENTATION)
        clock.shift(dt.timedelta(days=3))
        page.click('#actions-table [data-bs-target^="#action-forms-"]')
        form = page.locator(".action-status-form").first
        expect(form).to_be_visible()
        form.locator("[name=status]").select_option("done")
        form.locator("[name=completed_on]").fill(timezone.localdate().isoformat())
        form.locator("[name=evidence]").fill("Supplier ECN-2291 released; 480 bearings re-greased")
        submit(page, ".action-status-form button[type=submit]")
        expect(page.locator("#actions-table [data-action]")).to_have_attribute("data-status", "done")
        move(page, State.VERIFICATION)

        # The verification: failures per 1000 units of the batch, 90 days before against 75 after.
        page.click("#verification-open")
        page.select_option("#v-kpi", "failures_per_1000")
        page.fill("#v-filters", f"batch={BATCH}")
        page.fill("#v-before-start", (today - dt.timedelta(days=180)).isoformat())
        page.fill("#v-before-end", (today - dt.timedelta(days=90)).isoformat())
        page.fill("#v-after-start", (today - dt.timedelta(days=75)).isoformat())
        page.fill("#v-after-end", today.isoformat())
        submit(page, "#verification-submit")
        expect(page.locator("#verification-table")).to_contain_text("Effective")
        assert issue.verifications.get().verdict == Verdict.EFFECTIVE

        move(page, State.CLOSED)
        page.wait_for_function("() => Chart.getChart(document.getElementById('waterfall-chart'))")
        bars = page.evaluate(
            "() => Chart.getChart(document.getElementById('waterfall-chart')).data.datasets[0].data"
            ".filter((v) => v && v[1] > v[0]).length"
        )
        assert bars >= 6  # six phases visited, and the total
        shoot(page, "issue_en")

        page.goto(f"{live_server.url}/improvements/")
        expect(page.locator(f'[data-state="closed"] [data-issue="{issue.code}"]')).to_be_visible()
        shoot(page, "board_en")
        page.goto(f"{live_server.url}/improvements/actions/mine/")
        expect(page.locator('[data-group="done"] [data-action]')).to_have_count(1)
        shoot(page, "my_actions_en")

        # The same pages in Chinese.
        submit(page, 'form.lang-switch button[value="zh-hans"]')
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        shoot(page, "my_actions_zh")
        page.goto(f"{live_server.url}/improvements/")
        shoot(page, "board_zh")
        page.goto(issue_url)
        page.wait_for_function("() => Chart.getChart(document.getElementById('waterfall-chart'))")
        shoot(page, "issue_zh")

    issue.refresh_from_db()
    assert issue.state == State.CLOSED and issue.closed_at is not None
    assert issue.triage_days == pytest.approx(1, abs=0.05) and issue.root_cause_days == pytest.approx(2, abs=0.05)
    assert page.console_errors == []
