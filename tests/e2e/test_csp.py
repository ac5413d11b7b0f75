"""The enforced Content-Security-Policy in a real browser: the main pages (charts,
htmx, Swagger UI, the admin) raise no `securitypolicyviolation` and log no error, and
the behaviours that replaced inline handlers still work (data-confirm, data-autosubmit)."""

import re

import pytest
from playwright.sync_api import expect

from improvements.models import Cause
from tests.security.test_csp import csp_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every violation is kept on the page, whatever the console says.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = e.sourceFile + ":" + e.lineNumber;
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + where);
});
"""
# What must be on screen before the page counts as done (its scripts ran).
READY = {
    "dashboard": "canvas",
    "trace batch": "#batch-comparison",
    "recall": "#completion-chart",
    "api docs": ".swagger-ui .info .title",
    "admin": "#site-name",
}


def test_main_pages_raise_no_policy_violation(page, live_server):
    world = csp_world()
    page.add_init_script(WATCH_VIOLATIONS)
    failed = []  # a blocked script or fetch would show here too
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    errors = []
    # Django's admin names no icon, so the browser asks for /favicon.ico (a 404, no policy matter).
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "favicon.ico" not in m.location["url"] else None,
    )
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "csp_boss")
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))

    for name, path in world["pages"].items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, name
        assert "script-src 'self'" in response.headers["content-security-policy"], name  # enforced
        if name in READY:
            page.wait_for_selector(READY[name], timeout=15_000)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], name
    assert failed == []
    assert errors == []


def test_confirm_and_autosubmit_work_without_inline_handlers(page, live_server):
    world = csp_world()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "csp_boss")
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))

    # data-confirm: dismissing keeps the cause, accepting deletes it.
    page.goto(f"{live_server.url}{world['pages']['issue']}")
    delete = page.locator("form[data-confirm] button[type=submit]").first
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    delete.click()
    page.wait_for_timeout(300)
    assert questions == ["Delete this cause?"]
    assert Cause.objects.filter(issue=world["issue"]).count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        delete.click()
    assert Cause.objects.filter(issue=world["issue"]).count() == 0

    # data-autosubmit: choosing a kind reloads the list filtered.
    page.goto(f"{live_server.url}/reports/")
    kind = page.locator("select[name=kind]")
    value = kind.locator("option").nth(1).get_attribute("value")
    with page.expect_navigation():
        kind.select_option(value)
    expect(page).to_have_url(re.compile(rf"kind={value}"))
    assert page.console_errors == []
