"""A manager downloads the management quality report from the dashboard in a real
browser: "Download PDF" on the overview, the report page shows the queued and running
progress, then the download link, and the file is a PDF. The archive, the report page
and the subscriptions page are photographed in English and Chinese.

The worker is the test itself: the page is polled while the test moves the report on
(marks it running, then runs the generation service with R1's builder), so every state
the page shows is seen. On SQLite the live server shares the test's in-memory
connection, so requests and the test's writes take turns through one lock."""

import datetime as dt
import re
import threading
from contextlib import nullcontext

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from reports import services, tasks
from reports.models import DeliveryStatus, GeneratedReport, ReportStatus, SubscriptionDelivery
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def turns(monkeypatch):
    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        return nullcontext
    lock = threading.RLock()
    handle = WSGIHandler.__call__

    def in_turn(self, environ, start_response):
        with lock:
            return handle(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", in_turn)
    return lambda: lock


@pytest.fixture
def reporting(db, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    queued: list[int] = []
    # No worker: the request leaves the report queued; the test plays the worker.
    monkeypatch.setattr(tasks.report_generate_task, "delay_on_commit", queued.append)
    UserFactory(username="e2e_manager", first_name="Wang", last_name="Fang", roles=["manager"])
    return queued


def login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/(tickets|dashboards)/"))


def test_manager_downloads_the_dashboard_pdf(page, live_server, reporting, turns, screenshot_dir, tmp_path):
    login(page, live_server, "e2e_manager")
    page.goto(f"{live_server.url}/dashboards/?range=&start=2026-01-01&end=2026-04-01&grain=month")
    button = page.locator("form.dashboard-pdf button[type=submit]")
    expect(button).to_contain_text("Download PDF")
    # A filter change redraws the body; the action's form follows it (out of band).
    page.select_option("#id_grain", "quarter")
    expect(page.locator("form.dashboard-pdf input[name=grain]")).to_have_value("quarter")
    page.screenshot(path=screenshot_dir / "report-dashboard-button-en.png")
    button.click()
    page.wait_for_url(re.compile(r"/reports/\d+/$"))
    report = GeneratedReport.objects.get()
    assert reporting == [report.pk]
    assert report.parameters == {"start": "2026-01-01", "end": "2026-04-01", "grain": "quarter", "filters": {}}
    expect(page.locator("#report-status")).to_contain_text("Queued")
    expect(page.locator("#report-progress .progress")).to_be_visible()

    with turns():
        GeneratedReport.objects.filter(pk=report.pk).update(
            status=ReportStatus.RUNNING, started_at=timezone.now(), progress=45, stage="Drawing the charts"
        )
    expect(page.locator("#report-status")).to_contain_text("Running", timeout=5_000)
    expect(page.locator("#report-progress")).to_contain_text("Drawing the charts")
    expect(page.locator("#report-progress .progress-bar")).to_have_text("45%")
    page.screenshot(path=screenshot_dir / "report-running-en.png", full_page=True)

    with turns():
        GeneratedReport.objects.filter(pk=report.pk).update(status=ReportStatus.QUEUED, started_at=None)
        services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.DONE, report.error
    link = page.locator("#report-download")
    expect(link).to_be_visible(timeout=5_000)
    expect(page.locator("#report-progress .progress")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "report-done-en.png", full_page=True)
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "quality-report-2026-01-01_2026-03-31-en.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")

    # The archive and a subscription with its log, in both languages.
    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.get(username="e2e_manager")
    with turns():
        subscription = services.subscription_save(
            owner=manager,
            name="East monthly",
            schedule="monthly",
            scope={"region": "East"},
            recipients=["boss@example.com", "quality@example.com"],
            language="zh-hans",
        )
        SubscriptionDelivery.objects.create(
            subscription=subscription,
            period_start=dt.date(2026, 2, 1),
            period_end=dt.date(2026, 3, 1),
            status=DeliveryStatus.SENT,
            recipients=subscription.recipients,
            sent_at=timezone.now(),
            report=report,
        )
        SubscriptionDelivery.objects.create(
            subscription=subscription,
            period_start=dt.date(2026, 1, 1),
            period_end=dt.date(2026, 2, 1),
            status=DeliveryStatus.SKIPPED,
            recipients=subscription.recipients,
        )
    for language in ("en", "zh-hans"):
        if language == "zh-hans":
            page.click("form.lang-switch button[value=zh-hans]")
            page.wait_for_load_state()
        page.goto(f"{live_server.url}/reports/")
        expect(page.locator(f'tr[data-report="{report.pk}"]')).to_be_visible()
        page.screenshot(path=screenshot_dir / f"report-archive-{language}.png", full_page=True)
        page.goto(f"{live_server.url}/reports/{report.pk}/")
        expect(page.locator("#report-download")).to_be_visible()
        page.screenshot(path=screenshot_dir / f"report-page-{language}.png", full_page=True)
        page.goto(f"{live_server.url}/reports/subscriptions/")
        expect(page.locator(".delivery-log tbody tr")).to_have_count(2)
        page.screenshot(path=screenshot_dir / f"report-subscriptions-{language}.png", full_page=True)
        page.goto(f"{live_server.url}/reports/new/")
        page.screenshot(path=screenshot_dir / f"report-new-{language}.png", full_page=True)
        page.goto(f"{live_server.url}/reports/subscriptions/{subscription.pk}/")
        page.screenshot(path=screenshot_dir / f"report-subscription-edit-{language}.png", full_page=True)
    assert page.console_errors == []
