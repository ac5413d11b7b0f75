"""The KPI dashboards in a real browser, on the tiny demo data set: every chart of the
overview is drawn with data, a filter redraws them, a drill-down from a bar ends on the
record list, the Chinese page too, and the console stays clean."""

import csv
import io
import re
import threading

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from intake.demo import demo_seed
from quality import selectors
from quality.kpi.registry import kpi_registry

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every canvas on the page: does it hold a Chart, with how many points, how many of them set.
CHARTS = """() => Array.from(document.querySelectorAll('canvas')).map((canvas) => {
  const chart = Chart.getChart(canvas);
  if (!chart) return null;
  const data = chart.data.datasets[0].data;
  return {labels: chart.data.labels.length, points: data.length, set: data.filter((v) => v !== null).length};
})"""


@pytest.fixture(autouse=True)
def _one_request_at_a_time(monkeypatch):
    """On SQLite the live server hands the test's in-memory connection to every request
    thread, and a dashboard fetches its charts at once: one SQLite connection used by two
    threads at a time can hang. So requests take turns here (PostgreSQL needs nothing)."""
    if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
        return
    lock = threading.Lock()
    handle = WSGIHandler.__call__

    def in_turn(self, environ, start_response):
        with lock:
            return handle(self, environ, start_response)

    monkeypatch.setattr(WSGIHandler, "__call__", in_turn)


@pytest.fixture
def demo(db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    demo_seed(scale="tiny", as_of=timezone.localdate(), log=lambda _message: None)


@pytest.fixture
def failures_quality(monkeypatch):
    """A data-quality score below 100 for the failure records (the intake app provides the
    real one): the failure KPIs' cards show a badge."""

    def provider(model):
        return {"score": 87.4, "label": "87 / 100"} if model == "quality.Failure" else None

    monkeypatch.setattr(selectors, "_DATA_QUALITY", [provider])


def login(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo")
    page.click("form:has(input[name=password]) button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/"))


def wait_for_cards(page):
    page.wait_for_selector("[data-widget=cards] .kpi-card", timeout=30_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('canvas')).every((c) => Chart.getChart(c))", timeout=30_000
    )


def click_bar(page, widget, index=0):
    """Click the index-th bar of a widget's chart, where Chart.js drew it."""
    canvas = page.locator(f"[data-widget={widget}] canvas")
    canvas.scroll_into_view_if_needed()
    page.wait_for_function(
        "(w) => { const c = document.querySelector(`[data-widget=${w}] canvas`); const ch = c && Chart.getChart(c);"
        " return ch && ch.getDatasetMeta(0).data.length > 0; }",
        arg=widget,
        timeout=30_000,
    )
    point = page.evaluate(
        """([widget, index]) => {
          const canvas = document.querySelector(`[data-widget=${widget}] canvas`);
          const bar = Chart.getChart(canvas).getDatasetMeta(0).data[index].getCenterPoint();
          const box = canvas.getBoundingClientRect();
          return {x: box.left + bar.x, y: box.top + bar.y};
        }""",
        [widget, index],
    )
    page.mouse.click(point["x"], point["y"])


def test_overview_draws_every_chart_filters_redraw_and_a_bar_drills_to_the_records(
    page, live_server, demo, failures_quality, screenshot_dir
):
    login(page, live_server, "manager")
    page.click("nav a.nav-link:has-text('Dashboards')")
    page.wait_for_url(re.compile(r"/dashboards/$"))  # a manager's home is the overview
    wait_for_cards(page)

    # Every KPI of the catalogue has a card, grouped in the categories, each with a sparkline
    # of the twelve months holding values.
    catalogue = page.evaluate("() => fetch('/api/v1/kpis/').then((r) => r.json())")
    expect(page.locator(".kpi-card")).to_have_count(len(catalogue))
    expect(page.locator(".kpi-category h2")).to_have_count(len({kpi["category"] for kpi in catalogue}))
    charts = page.evaluate(CHARTS)
    assert len(charts) == len(catalogue)
    assert all(chart and chart["labels"] == chart["points"] == 12 for chart in charts), charts
    assert all(chart["set"] > 0 for chart in charts), charts
    csat = page.locator(".kpi-card[data-kpi=csat]")
    expect(csat.locator(".kpi-value")).to_have_text(re.compile(r"^\d+\.\d$"))
    expect(csat.locator("[data-slot=link]")).to_have_attribute("href", re.compile(r"/dashboards/kpi/csat/\?"))
    expect(csat.locator("a[data-export=xlsx]")).to_have_attribute(
        "href", re.compile(r"/api/v1/kpis/csat/values/export/\?format=xlsx&grain=month&start=")
    )
    # A data-quality badge on the KPIs counting failures, and only there.
    failure_kpis = [code for code, kpi in kpi_registry().items() if kpi.numerator.model == "quality.Failure"]
    assert "failures_per_1000" in failure_kpis
    expect(page.locator(".kpi-dq")).to_have_count(len(failure_kpis))
    for code in failure_kpis:
        expect(page.locator(f".kpi-card[data-kpi={code}] .kpi-dq")).to_have_text("DQ 87")
    page.screenshot(path=screenshot_dir / "dashboard-overview-en.png", full_page=True)

    # A filter redraws every chart in place, and the URL carries it. A KPI that cannot be
    # sliced by region (recall_rate: by product only) says so instead of drawing.
    page.evaluate("() => { window.firstChart = Chart.getChart(document.querySelector('canvas')); }")
    region = "East"  # the demo's planted slow team is there: a backlog to drill into
    page.select_option("#id_region", region)
    page.wait_for_url(re.compile(r"region=East"))
    page.wait_for_function("() => Chart.getChart(document.querySelector('canvas')) !== window.firstChart")
    wait_for_cards(page)
    expect(page.locator(".kpi-card")).to_have_count(len(catalogue))
    without_region = [kpi["code"] for kpi in catalogue if "region" not in kpi["dims"]]
    assert "recall_rate" in without_region
    expect(page.locator(".kpi-card.kpi-card-na")).to_have_count(len(without_region))
    for code in without_region:
        expect(page.locator(f".kpi-card[data-kpi={code}]")).to_contain_text("Not available for these filters")
    charts = page.evaluate(CHARTS)
    assert len(charts) == len(catalogue) - len(without_region)
    assert all(chart and chart["points"] == 12 and chart["set"] > 0 for chart in charts), charts
    page.wait_for_timeout(500)  # let the sparklines finish drawing before the picture
    page.screenshot(path=screenshot_dir / "dashboard-overview-east-en.png", full_page=True)

    # From a card to its KPI page, with the filter; then bar after bar down the drill path
    # region -> team -> assignee, and the records of that value.
    page.click(".kpi-card[data-kpi=backlog] [data-slot=link]")
    page.wait_for_url(re.compile(rf"/dashboards/kpi/backlog/\?.*region={re.escape(region)}"))
    page.select_option("#breakdown-dim", "team")
    page.wait_for_function("() => new URLSearchParams(location.search).get('by') === 'team'")
    page.wait_for_timeout(1000)  # the bars grow for a moment
    page.screenshot(path=screenshot_dir / "dashboard-kpi-en.png", full_page=True)
    # The chart's data as a file: the same period, filter and dimension.
    breakdown = page.locator("[data-widget=breakdown]")
    breakdown.locator(".dropdown-toggle").click()
    with page.expect_download() as download:
        breakdown.locator("a[data-export=csv]").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["period_start", "team", "value"]
    shown = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-widget=breakdown] canvas')).data.labels.length"
    )
    assert len(rows) - 1 == shown
    click_bar(page, "breakdown")
    page.wait_for_url(re.compile(r"team=.*by=assignee|by=assignee.*team="))
    expect(page.locator("[data-chip=team]")).to_have_count(0)  # team is a field of the bar
    click_bar(page, "breakdown")
    page.wait_for_url(re.compile(r"/dashboards/kpi/backlog/records/\?.*assignee="))
    rows = page.locator("[data-widget=records] tbody tr")
    expect(rows.first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-chip=assignee]")).to_have_count(1)
    expect(page.locator("[data-widget=records] [data-slot=count]")).to_have_text(re.compile(r"\d+"))
    expect(rows.first.locator("a")).to_have_attribute("href", re.compile(r"^/tickets/\d+/$"))
    page.screenshot(path=screenshot_dir / "dashboard-records-en.png", full_page=True)

    # The same overview in Chinese, from the navbar's language switch.
    page.goto(f"{live_server.url}/dashboards/")
    page.click(".lang-switch button[value=zh-hans]")
    page.wait_for_url(re.compile(r"/dashboards/"))
    wait_for_cards(page)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator(".kpi-card[data-kpi=csat] [data-slot=link]")).to_have_text("客户满意度")
    page.screenshot(path=screenshot_dir / "dashboard-overview-zh.png", full_page=True)

    assert page.console_errors == []


def test_a_quality_engineer_drills_from_a_batch_to_its_failures(page, live_server, demo, screenshot_dir):
    login(page, live_server, "quality")
    page.goto(f"{live_server.url}/dashboards/home/?range=last_4_quarters&grain=quarter")
    wait_for_cards(page)
    expect(page.locator(".kpi-card")).to_have_count(5)
    page.wait_for_function(
        "() => { const c = document.querySelector('[data-widget=breakdown][data-by=batch] canvas');"
        " return c && Chart.getChart(c) && Chart.getChart(c).data.labels.length > 0; }",
        timeout=30_000,
    )
    page.wait_for_timeout(1000)  # the bars grow for a moment
    page.screenshot(path=screenshot_dir / "dashboard-home-quality-en.png", full_page=True)
    # A batch is the end of its drill path: the failures of that batch in the last quarter.
    batch = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-widget=breakdown][data-by=batch] canvas')).data.labels[0]"
    )
    click_bar(page, "breakdown")
    page.wait_for_url(re.compile(rf"/dashboards/kpi/failures_per_1000/records/\?.*batch={re.escape(batch)}"))
    expect(page.locator("[data-side=numerator]")).to_have_attribute("aria-current", "true")
    expect(page.locator("[data-widget=records] tbody tr").first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-widget=records] [data-slot=model]")).to_have_text("Failures")
    assert page.console_errors == []
