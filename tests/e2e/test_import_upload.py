"""A quality engineer imports customers through the upload page in a real browser: upload,
preview, dry run, the real import; the run page shows the counts; in both languages."""

import re

import pytest
from playwright.sync_api import expect

from catalog.models import Customer
from intake.models import ImportRun, ImportStatus
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CSV = (
    "external_id,name,region,segment,city,created_at,loyalty_card\n"
    "C-E2E-1,Zhang Wei,East,vip,Shanghai,2025-01-05T09:30:00+08:00,yes\n"
    "C-E2E-2,Li Na,华东,consumer,Hangzhou,2025-02-01,no\n"
    "C-E2E-3,Wang Fang,West,business,Chengdu,2025-03-01T10:00:00,yes\n"
)


@pytest.fixture
def importer(db, settings, tmp_path):
    # The task runs in the server's thread as soon as the run is committed.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return UserFactory(username="e2e_qe", first_name="Chen", last_name="Jing", roles=["quality_engineer"])


def login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-1234")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))


def test_engineer_uploads_checks_and_imports_customers(page, live_server, importer, screenshot_dir, tmp_path):
    csv_path = tmp_path / "customers.csv"
    csv_path.write_text(CSV, encoding="utf-8")
    login(page, live_server, "e2e_qe")

    page.click("nav a.nav-link:has-text('Import')")
    page.wait_for_url(re.compile(r"/intake/$"))
    page.select_option("#id_entity", "customers")
    page.set_input_files("#id_file", str(csv_path))
    page.screenshot(path=screenshot_dir / "import-upload-en.png", full_page=True)
    page.click("button:has-text('Upload and preview')")
    page.wait_for_url(re.compile(r"/intake/uploads/[0-9a-f]{32}/"))

    # The preview: the mapping of every header and the first rows.
    expect(page.locator(".mapping-table tbody tr")).to_have_count(7)
    expect(page.locator("tr.mapping-unknown")).to_contain_text("loyalty_card")
    expect(page.locator("tr.mapping-unknown")).to_contain_text("unknown: ignored")
    expect(page.locator(".preview-table tbody tr")).to_have_count(3)
    expect(page.locator(".preview-table")).to_contain_text("Wang Fang")
    page.screenshot(path=screenshot_dir / "import-preview-en.png", full_page=True)

    page.click("button[name=action][value=dry_run]")
    page.wait_for_url(re.compile(r"/intake/runs/\d+/$"))
    expect(page.locator("#count-created")).to_have_text("3", timeout=10_000)
    expect(page.locator("#run-status")).to_contain_text("Checked (dry run)")
    assert Customer.objects.count() == 0
    page.screenshot(path=screenshot_dir / "import-dry-run-en.png", full_page=True)

    page.click("button:has-text('Import for real')")
    page.wait_for_url(re.compile(r"/intake/runs/\d+/$"))
    expect(page.locator("#run-status")).to_contain_text("Written", timeout=10_000)
    expect(page.locator("#count-created")).to_have_text("3")
    expect(page.locator("#count-rejected")).to_have_text("0")
    page.screenshot(path=screenshot_dir / "import-run-en.png", full_page=True)

    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C-E2E-1", "C-E2E-2", "C-E2E-3"}
    runs = list(ImportRun.objects.order_by("pk").values_list("status", "dry_run", "created"))
    assert runs == [(ImportStatus.DRY_RUN, True, 3), (ImportStatus.SUCCEEDED, False, 3)]

    page.click("a:has-text('Import history')")
    expect(page.locator(".runs-table tbody tr")).to_have_count(2)
    page.screenshot(path=screenshot_dir / "import-history-en.png", full_page=True)
    assert page.console_errors == []


def test_import_pages_in_chinese(page, live_server, importer, screenshot_dir, tmp_path):
    csv_path = tmp_path / "客户.csv"
    csv_path.write_text(CSV.replace("created_at,", "created_at_x,", 1), encoding="utf-8")  # a required column missing
    login(page, live_server, "e2e_qe")
    page.click("form[action$='/i18n/setlang/'] button[value=zh-hans]")
    page.wait_for_load_state("networkidle")

    page.goto(f"{live_server.url}/intake/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    page.select_option("#id_entity", "customers")
    page.set_input_files("#id_file", str(csv_path))
    page.locator("#template-columns .accordion-button").first.click()
    page.screenshot(path=screenshot_dir / "import-upload-zh-hans.png", full_page=True)
    page.click("form[enctype] button[type=submit]")
    page.wait_for_url(re.compile(r"/intake/uploads/[0-9a-f]{32}/"))
    expect(page.locator("#missing-columns")).to_contain_text("created_at")
    page.screenshot(path=screenshot_dir / "import-preview-zh-hans.png", full_page=True)

    page.click("button[name=action][value=dry_run]")
    page.wait_for_url(re.compile(r"/intake/runs/\d+/$"))
    expect(page.locator("#run-status .badge")).to_be_visible(timeout=10_000)
    page.screenshot(path=screenshot_dir / "import-run-zh-hans.png", full_page=True)

    page.goto(f"{live_server.url}/intake/profiles/new/")
    page.fill("#id_name", "旧CRM")
    page.fill("#id_column_map", "客户编号 => external_id\n没有箭头")
    page.fill("#id_time_zone", "Mars/Base")
    page.click("form[method=post] button.btn-primary")
    expect(page.locator(".invalid-feedback").first).to_be_visible()
    page.screenshot(path=screenshot_dir / "import-profile-zh-hans.png", full_page=True)
    assert page.console_errors == []
