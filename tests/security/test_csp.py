"""Content-Security-Policy: every page is served with the enforced policy, its inline
scripts carry that response's nonce, and no template has an inline event handler (the
policy runs none; static/js/behaviours.js does data-confirm / data-autosubmit)."""

import datetime as dt
import re
from pathlib import Path

import lxml.html
import pytest
from django.test import Client
from django.utils import timezone

from improvements.services import cause_add
from improvements.services.issues import issue_create
from quality import services as quality_services
from reports import services as report_services
from tests.factories import (
    BatchFactory,
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    TeamFactory,
    TicketFactory,
    UnitFactory,
    UserFactory,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
JS_TYPES = {None, "", "text/javascript", "module"}


def csp_world() -> dict:
    """One object behind each page that has an inline script or a confirm/autosubmit
    control; returns the user (password "pass-1234") and the pages' paths."""
    boss = UserFactory(username="csp_boss", roles=["admin", "supervisor"], is_staff=True, is_superuser=True)
    team = TeamFactory(name="CSP team")
    team.members.add(boss)
    batch = BatchFactory(code="CSP-B1")
    unit = UnitFactory(serial="CSP-SN-1", batch=batch)
    ticket = TicketFactory(team=team, external_id="CSP-T1", customer=unit.customer)
    mode = FailureModeFactory(code="CSP-FM")
    component = ComponentFactory()
    FailureFactory(ticket=ticket, unit=unit, failure_mode=mode, component=component)
    at = timezone.now() - dt.timedelta(days=1)
    recall = quality_services.recall_create(
        actor=boss, code="RC-CSP", title="Seal", severity="class_ii", batch_codes=[batch.code], at=at
    )
    issue = issue_create(title="Noisy fan", actor=boss, at=at)
    cause_add(issue_id=issue.pk, actor=boss, category="people", description="Loose screw", at=at)
    subscription = report_services.subscription_save(
        owner=boss, name="Weekly", schedule="weekly", scope={}, recipients=["boss@example.com"], language="en"
    )
    pages = {
        "dashboard": "/dashboards/",
        "queue": "/tickets/",
        "ticket": f"/tickets/{ticket.pk}/",
        "trace batch": f"/trace/batches/{batch.code}/",
        "trace mode": f"/trace/modes/{mode.code}/",
        "trace supplier": f"/trace/suppliers/{component.supplier.code}/",
        "recall": f"/recalls/{recall.code}/",
        "issue": f"/improvements/issues/{issue.pk}/",
        "reports": "/reports/",
        "report form": "/reports/new/",
        "subscription": f"/reports/subscriptions/{subscription.pk}/",
        "api docs": "/api/docs/",
        "admin": "/admin/",
    }
    return {"user": boss, "pages": pages, "ticket": ticket, "issue": issue}


def nonce_of(header: str) -> str | None:
    """The nonce in script-src; django-csp adds one only when the page used it."""
    match = re.search(r"script-src [^;]*'nonce-([^']+)'", header)
    return match.group(1) if match else None


@pytest.fixture
def world(db):
    return csp_world()


@pytest.fixture
def boss_client(world):
    client = Client()
    client.force_login(world["user"])
    return client


def directives_of(response) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def test_the_policy_is_enforced_with_the_expected_directives(world, boss_client):
    # A page without inline script gets no nonce; one with a script gets a fresh one.
    login = Client().get("/login/")
    assert login.status_code == 200
    assert "Content-Security-Policy-Report-Only" not in login
    assert directives_of(login)["script-src"] == "'self'"
    response = boss_client.get(world["pages"]["trace batch"])
    directives = directives_of(response)
    assert directives["default-src"] == "'self'"
    assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9+/]{22}=='", directives["script-src"]), directives["script-src"]
    assert "unsafe-eval" not in directives["script-src"] and "unsafe-inline" not in directives["script-src"]
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert directives["form-action"] == "'self'"


def test_each_response_gets_its_own_nonce(world, boss_client):
    path = world["pages"]["recall"]
    first = nonce_of(boss_client.get(path)["Content-Security-Policy"])
    second = nonce_of(boss_client.get(path)["Content-Security-Policy"])
    assert first and second and first != second


def test_main_pages_inline_scripts_carry_the_nonce_and_no_inline_handlers(world, boss_client):
    inline_scripts = 0
    for name, path in world["pages"].items():
        response = boss_client.get(path)
        assert response.status_code == 200, (name, path, response.status_code)
        nonce = nonce_of(response["Content-Security-Policy"])
        tree = lxml.html.fromstring(response.content)
        for script in tree.iter("script"):
            if script.get("src") or script.get("type") not in JS_TYPES:
                continue  # a file from 'self', or data (json_script) that never runs
            inline_scripts += 1
            assert nonce and script.get("nonce") == nonce, (name, (script.text or "")[:80])
        handlers = [
            (element.tag, attribute)
            for element in tree.iter()
            if isinstance(element.tag, str)
            for attribute in element.attrib
            if attribute.lower().startswith("on")
        ]
        assert handlers == [], (name, handlers)
        assert "javascript:" not in response.content.decode(), name
    # trace pages, the recall, the report and subscription forms: the check above ran.
    assert inline_scripts >= 5


def test_confirm_and_autosubmit_controls_use_data_attributes(world, boss_client):
    ticket_page = boss_client.get(world["pages"]["ticket"]).content.decode()
    assert 'data-confirm="Revoke every customer link of this ticket? The customer will need new ones."' in ticket_page
    assert 'data-confirm="Delete this failure record?"' in ticket_page
    issue_page = boss_client.get(world["pages"]["issue"]).content.decode()
    assert 'data-confirm="Delete this cause?"' in issue_page
    reports = lxml.html.fromstring(boss_client.get("/reports/").content)
    assert reports.xpath("//select[@name='kind'][@data-autosubmit]")
    assert '/static/js/behaviours.js"' in ticket_page


def test_api_docs_have_no_inline_script_and_serve_their_script_as_a_file(world, boss_client):
    page = boss_client.get("/api/docs/")
    tree = lxml.html.fromstring(page.content)
    sources = [script.get("src") for script in tree.iter("script")]
    assert all(sources), sources
    script = boss_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content


def test_no_template_has_an_inline_handler_or_a_script_without_nonce():
    handler = re.compile(r"<[a-zA-Z][^>]*\son[a-z]+\s*=", re.S)
    bare_script = re.compile(r"<script(?![^>]*\b(?:src|nonce)=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>")
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if handler.search(text) or bare_script.search(text):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []
