"""The recall status report: the completion rate is the KPI engine's (equal to
kpi_values for the same recall), the status counts and open units are the campaign's,
zh-hans shows Chinese data, pages are not blank; the download view archives the
report and is for readers of recalls only."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from quality.kpi.registry import kpi_lookup
from quality.models import Recall, RecallState, RecallUnit, RecallUnitStatus
from quality.selectors import kpi_values
from reports.builders.recall import recall_report_pdf
from reports.models import GeneratedReport, ReportKind, ReportStatus
from reports.recall_data import completion_window, recall_report_data
from tests.factories import BatchFactory, CustomerFactory, RegionFactory, UnitFactory, UserFactory
from tests.reports.r2_helpers import dark_pixels_per_page, pdf_text

TZ = ZoneInfo("Asia/Shanghai")
OPENED = dt.datetime(2026, 1, 5, 9, 0, tzinfo=TZ)
NOW = dt.datetime(2026, 2, 20, 12, 0, tzinfo=TZ)


@pytest.fixture
def recall(db):
    """6 units of one batch: East x3 (remedied, remedied, notified), West x1 (pending),
    one unsold unit (unreachable), and a West unit made after the launch, so without a
    RecallUnit row. The KPI counts every unit of the recalled batch: 2 of 6 = 33.3 %;
    the campaign's status counts cover its 5 affected units."""
    east, west = RegionFactory(name="华东"), RegionFactory(name="West")
    batch = BatchFactory(code="WM-L15")
    units = [UnitFactory(batch=batch, customer=CustomerFactory(region=east)) for _ in range(3)]
    units.append(UnitFactory(batch=batch, customer=CustomerFactory(region=west)))
    units.append(UnitFactory(batch=batch, customer=None))
    UnitFactory(batch=batch, customer=CustomerFactory(region=west))
    recall = Recall.objects.create(
        code="RC-9",
        title="轴承更换召回",
        severity="class_ii",
        opened_at=OPENED,
        launched_at=OPENED,
        state=RecallState.LAUNCHED,
        reason="Bearing wear",
        remedy="Replace the bearing",
    )
    recall.batches.add(batch)
    statuses = [
        (RecallUnitStatus.REMEDIED, OPENED + dt.timedelta(days=3)),
        (RecallUnitStatus.REMEDIED, OPENED + dt.timedelta(days=20)),
        (RecallUnitStatus.NOTIFIED, None),
        (RecallUnitStatus.PENDING, None),
        (RecallUnitStatus.UNREACHABLE, None),
    ]
    for unit, (status, remedied_at) in zip(units, statuses, strict=True):
        RecallUnit.objects.create(
            recall=recall,
            unit=unit,
            status=status,
            remedied_at=remedied_at,
            notified_at=OPENED + dt.timedelta(days=1) if status == RecallUnitStatus.NOTIFIED else None,
        )
    return recall


@pytest.fixture
def manager(db):
    return UserFactory(username="mgr", roles=["manager"])


def test_completion_equals_the_engine_and_hand_counts(recall, manager):
    data = recall_report_data(recall_id=recall.pk, user=manager, now=NOW)
    grain, start, end = completion_window(recall, now=NOW)
    assert (grain, start, end) == ("week", dt.date(2026, 1, 5), dt.date(2026, 2, 23))
    engine = kpi_values(
        user=manager,
        kpi=kpi_lookup("recall_completion_rate"),
        grain=grain,
        start=start,
        end=end,
        filters={"recall": "RC-9"},
    )
    assert data["completion_rate"] == engine["rows"][-1]["value"] == pytest.approx(200 / 6)
    # The curve: 1 remedied in week 1, 2 from week 3 on (of 6).
    assert [row["value"] for row in data["curve"]][:4] == pytest.approx([100 / 6, 100 / 6, 200 / 6, 200 / 6])
    f = data["figures"]
    assert (f["affected"], f["remedied"], f["notified"], f["pending"], f["unreachable"]) == (5, 2, 3, 1, 1)
    assert data["open_count"] == 3 and len(data["open_units"]) == 3
    regions = {row.get("region"): row["value"] for row in data["by_region"]}
    assert regions["华东"] == pytest.approx(200 / 3) and regions["West"] == pytest.approx(0.0)
    assert data["by_batch"][0]["batch"] == "WM-L15" and data["by_batch"][0]["affected"] == 5
    assert data["by_batch"][0]["completion_rate"] == pytest.approx(200 / 6)


def test_recall_report_text_shows_the_engine_rate(recall, manager):
    pdf, pages = recall_report_pdf(recall_id=recall.pk, language="en", user=manager)
    text = pdf_text(pdf)
    data = recall_report_data(recall_id=recall.pk, user=manager)
    engine_rate = data["completion_rate"]
    assert f"{engine_rate:.1f}%" == "33.3%" and "33.3%" in text  # as the dashboard rounds it
    assert "2 of 6 units remedied" in text
    assert "RC-9" in text and "WM-L15" in text and "Bearing wear" in text
    assert f"Page 1 of {pages}" in text


def test_recall_report_in_chinese(recall, manager):
    pdf, _pages = recall_report_pdf(recall_id=recall.pk, language="zh-hans", user=manager)
    text = pdf_text(pdf)
    assert "轴承更换召回" in text and "华东" in text
    assert kpi_lookup("recall_completion_rate").name_zh in text  # 召回完成率


def test_recall_pages_render_not_blank(recall, manager, tmp_path):
    pdf, pages = recall_report_pdf(recall_id=recall.pk, language="en", user=manager)
    counts = dark_pixels_per_page(pdf, tmp_path)
    assert len(counts) == pages and all(count > 100 for count in counts), counts


def test_recall_download_archives_and_scopes(client, recall, manager, agent, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    url = reverse("reports:recall_pdf", args=[recall.pk])
    assert url == f"/reports/recall/{recall.pk}.pdf"
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    report = GeneratedReport.objects.get()
    assert (report.kind, report.status, report.language) == (ReportKind.RECALL, ReportStatus.DONE, "en")
    assert report.parameters == {"recall_id": recall.pk} and report.requested_by == manager
    assert report.size == len(response.content)
    # Agents do not read recalls: 404 (not 403: nothing to enumerate), nothing archived.
    client.force_login(agent)
    assert client.get(url).status_code == 404
    assert GeneratedReport.objects.count() == 1


def test_recall_page_links_the_status_report(client, recall, manager):
    client.force_login(manager)
    page = client.get(reverse("recalls:detail", args=[recall.code]))
    assert page.status_code == 200
    assert f'href="/reports/recall/{recall.pk}.pdf"' in page.content.decode()
