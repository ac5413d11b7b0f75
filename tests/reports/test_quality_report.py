"""The management quality report (reports/builders/quality.py) on a tiny demo: the text
pypdf extracts holds the values the KPI API gives for the same period and filters
(formatted as the dashboard does), Chinese KPI names in a zh-hans report, a header and
a footer on every page, pages that render to non-blank images, progress callbacks, and
the skip-if-empty test of subscriptions."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from pypdf import PdfReader
from rest_framework.test import APIClient

from catalog.models import Region, User
from quality.kpi.registry import kpi_lookup
from reports.builders.charts import nice_ticks
from reports.builders.quality import format_kpi_value, quality_report_is_empty, quality_report_pdf, with_unit

AS_OF = dt.date(2026, 3, 18)
START, END = dt.date(2026, 2, 1), dt.date(2026, 3, 1)
CODES = ("csat", "first_response_hours", "sla_compliance", "failures_per_1000", "backlog", "resolution_hours")


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One `seed_demo --scale tiny` for the module, in a transaction rolled back at the
    end (as tests/intake/test_improvement_demo.py does)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
                call_command(
                    "seed_demo", "--scale", "tiny", "--seed", "42", "--as-of", AS_OF.isoformat(), stdout=StringIO()
                )
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def reports(seeded, django_db_blocker):
    """The reports the tests read, built once: en and zh-hans for all, en for a region."""
    with django_db_blocker.unblock():
        region = Region.objects.order_by("name").values_list("name", flat=True).first()
        built = {
            "en": quality_report_pdf(start=START, end=END, language="en"),
            "zh": quality_report_pdf(start=START, end=END, language="zh-hans"),
            "region": quality_report_pdf(start=START, end=END, filters={"region": region}, language="en"),
        }
    return {"region_name": region, **built}


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def summary_lines(pdf: bytes) -> list[str]:
    # The summary table's cells come out one per line: a KPI name, then its value.
    return [line.strip() for line in "\n".join(pages_text(pdf)[1:3]).splitlines()]


def number(cell: str) -> str:
    """The number of a value cell ("82.8%", "3.8 hours", "7.74 per 1000" wrapped)."""
    return cell.split(" ")[0].removesuffix("%")


def api_value(code: str, **filters) -> dict:
    client = APIClient()
    client.force_authenticate(User.objects.get(username="manager"))
    params = {"grain": "month", "start": START.isoformat(), "end": END.isoformat(), **filters}
    response = client.get(f"/api/v1/kpis/{code}/values/", params)
    assert response.status_code == 200, response.content
    rows = response.json()["rows"]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.django_db
def test_the_summary_shows_the_api_values(reports):
    lines = summary_lines(reports["en"][0])
    for code in CODES:
        kpi = kpi_lookup(code)
        row = api_value(code)
        assert row["value"] is not None
        at = lines.index(kpi.name_en)
        assert number(lines[at + 1]) == format_kpi_value(row["value"], kpi.unit), code
        assert number(lines[at + 2]) == format_kpi_value(row["target"], kpi.unit), code


@pytest.mark.django_db
def test_a_filtered_report_shows_the_filtered_api_values(reports):
    region = reports["region_name"]
    lines = summary_lines(reports["region"][0])
    differs = 0
    for code in CODES:
        kpi = kpi_lookup(code)
        row = api_value(code, region=region)
        shown = format_kpi_value(row["value"], kpi.unit)
        assert number(lines[lines.index(kpi.name_en) + 1]) == shown, code
        differs += shown != format_kpi_value(api_value(code)["value"], kpi.unit)
    assert differs >= 3  # the filter changed the numbers: the test compares scoped values
    # A KPI without the region dimension is not shown with a value, as on the dashboard.
    recall_rate = kpi_lookup("recall_rate")
    assert lines[lines.index(recall_rate.name_en) + 1] == "Not available for these filters"
    assert f"Region: {region}" in pages_text(reports["region"][0])[0].replace("region: ", "Region: ")


@pytest.mark.django_db
def test_the_zh_report_has_chinese_kpi_names_and_the_same_numbers(reports):
    text = "\n".join(pages_text(reports["zh"][0]))
    for code in ("csat", "nps", "first_response_hours", "sla_compliance", "failures_per_1000"):
        assert kpi_lookup(code).name_zh in text
    assert "客户满意度" in text
    lines = summary_lines(reports["zh"][0])
    csat = kpi_lookup("csat")
    assert lines[lines.index("客户满意度") + 1] == with_unit(api_value("csat")["value"], "%", "%")
    assert number(lines[lines.index("首次响应时长") + 1]) == format_kpi_value(
        api_value("first_response_hours")["value"], "h"
    )
    # The appendix gives the Chinese definitions.
    assert csat.definition_zh.split("：")[0][:10] in text
    assert "Customer satisfaction" not in text
    # The report's own titles come from the zh-hans catalogue.
    for title in ("管理质量报告", "执行摘要", "指标趋势", "故障模式（帕累托）", "附录：指标口径"):
        assert title in text


@pytest.mark.django_db
def test_every_page_has_the_header_and_the_footer(reports):
    for key in ("en", "zh"):
        pdf, pages = reports[key]
        texts = pages_text(pdf)
        assert len(texts) == pages >= 5
        for number, text in enumerate(texts, start=1):
            assert "2026-02-01 – 2026-02-28" in text  # the header: title and period
            footer = f"Page {number} of {pages}" if key == "en" else f"第 {number} 页，共 {pages} 页"
            assert footer in text or f"Page {number} of {pages}" in text
            assert "Generated" in text or "生成于" in text


@pytest.mark.django_db
def test_the_sections_are_there(reports):
    text = "\n".join(pages_text(reports["en"][0]))
    for title in (
        "Executive summary",
        "KPI trends",
        "Failure modes (Pareto)",
        "Batch failure comparison",
        "Nevada chart",
        "Recall status",
        "Top alerts",
        "Improvement status",
        "Appendix: KPI definitions",
    ):
        assert text.count(title) >= 2, title  # the contents and the section


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
@pytest.mark.django_db
def test_every_page_renders_and_is_not_blank(reports, tmp_path):
    for key in ("en", "zh"):
        pdf, pages = reports[key]
        path = tmp_path / f"{key}.pdf"
        path.write_bytes(pdf)
        subprocess.run([shutil.which("pdftoppm"), "-gray", "-r", "30", str(path), str(tmp_path / key)], check=True)
        images = sorted(tmp_path.glob(f"{key}-*.pgm"))
        assert len(images) == pages
        for image in images:
            dark = _dark_pixels(image.read_bytes())
            # More than the header and footer lines alone (about 600 pixels at 30 dpi).
            assert dark > 1500, (image.name, dark)


def _dark_pixels(pgm: bytes) -> int:
    """Pixels darker than near-white in a binary PGM (P5, 8 bits)."""
    parts, pos = [], 0
    while len(parts) < 4:  # magic, width, height, maxval
        while pgm[pos : pos + 1].isspace():
            pos += 1
        if pgm[pos : pos + 1] == b"#":
            pos = pgm.index(b"\n", pos) + 1
            continue
        end = pos
        while not pgm[end : end + 1].isspace():
            end += 1
        parts.append(pgm[pos:end])
        pos = end
    assert parts[0] == b"P5"
    pixels = pgm[pos + 1 :]
    return sum(1 for value in pixels if value < 200)


@pytest.mark.django_db
def test_progress_goes_up_to_100(seeded):
    seen = []
    quality_report_pdf(start=START, end=END, progress=lambda percent, stage: seen.append((percent, stage)))
    percents = [p for p, _s in seen]
    assert percents == sorted(percents) and percents[0] > 0 and percents[-1] == 100
    assert {"summary", "trends", "pareto", "nevada", "alerts", "done"} <= {s for _p, s in seen}


@pytest.mark.django_db
def test_is_empty(seeded):
    assert not quality_report_is_empty(start=START, end=END)
    assert quality_report_is_empty(start=dt.date(2010, 1, 1), end=dt.date(2010, 2, 1))
    assert quality_report_is_empty(start=START, end=END, filters={"region": "No such region"})
    region = Region.objects.order_by("name").values_list("name", flat=True).first()
    assert not quality_report_is_empty(start=START, end=END, filters={"region": region})


def test_numbers_are_rounded_as_the_dashboard_rounds():
    # Intl.NumberFormat: half away from zero, thousands separators, sign on changes.
    assert format_kpi_value(2.25, "%") == "2.3"
    assert format_kpi_value(1234.5, "tickets") == "1,235"
    assert format_kpi_value(-0.04, "%", signed=True) == "0.0"
    assert format_kpi_value(1.26, "h", signed=True) == "+1.3"
    assert format_kpi_value(-3, "currency", signed=True) == "-3.00"
    assert format_kpi_value(None, "%") == "–"
    assert with_unit(82.849, "%", "%") == "82.8%"
    assert with_unit(7.7449, "per_1000_units", "per 1000 units") == "7.74 per 1000 units"


def test_nice_ticks():
    assert nice_ticks(0, 55) == [0, 20, 40, 60]
    assert nice_ticks(80, 92) == [80, 85, 90, 95]  # a span of 12 in 4 steps: 3, rounded up to 5
    assert nice_ticks(80, 90) == [80, 82.5, 85, 87.5, 90]
    assert nice_ticks(0, 1, integer=True) == [0, 1]
