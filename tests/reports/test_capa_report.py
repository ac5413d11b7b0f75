"""The 8D / CAPA report of an improvement issue: its text holds the issue, the root
cause, the verdict and the verification's figures; zh-hans shows Chinese data; pages
are not blank; the download view archives the report and scopes it like the issue."""

import datetime as dt

import pytest
from django.urls import reverse

from improvements.models import Action, ActionKind, ActionStatus, State, Verdict
from improvements.services.issues import issue_create
from quality.kpi.registry import kpi_lookup
from reports.builders.capa import capa_report_pdf
from reports.capa_data import action_timing, capa_report_data
from reports.models import GeneratedReport, ReportKind, ReportStatus
from tests.factories import UserFactory
from tests.improvements.conftest import T0, advance
from tests.reports.r2_helpers import dark_pixels_per_page, pdf_text


@pytest.fixture
def engineer(team_a):
    user = UserFactory(username="engineer", roles=["quality_engineer"])
    team_a.members.add(user)
    return user


@pytest.fixture
def committee(db):
    return UserFactory(username="chair", first_name="Min", last_name="Li", roles=["committee_member"])


def _closed_issue(engineer, committee, team_a, *, title="Bearing noise"):
    issue = issue_create(title=title, actor=engineer, owner=engineer, team=team_a, at=T0)
    issue = advance(issue, State.CLOSED, actor=engineer, committee=committee)
    # The verification's figures, as the test service would have stored them.
    issue.verifications.update(
        filters={"batch": "B1"},
        before_numerator=179,
        before_denominator=27642,
        after_numerator=28,
        after_denominator=28184,
        before_value=194.2696,
        after_value=29.8041,
        effect=0.1534,
        relative_change=-0.8466,
        ci_low=0.0991,
        ci_high=0.2294,
        p_value=0.0123,
        verdict=Verdict.EFFECTIVE,
    )
    issue.baseline_kpi = "failures_per_1000"
    issue.baseline_value = 21.3056
    issue.save(update_fields=["baseline_kpi", "baseline_value"])
    return issue


def test_capa_report_text_has_the_issue_root_cause_verdict_and_verification(engineer, committee, team_a):
    issue = _closed_issue(engineer, committee, team_a)
    pdf, pages = capa_report_pdf(issue_id=issue.pk, language="en", user=engineer)
    text = pdf_text(pdf)
    assert pdf.startswith(b"%PDF-") and pages >= 1
    assert issue.code in text
    assert "Undersized bearing" in text  # the verified cause (conftest.verified_cause)
    assert "Teardown of 12 returns" in text  # its evidence
    assert "Effective" in text
    # Verification: before/after values (2 decimals per 1000 units) with their counts,
    # the rate ratio, its CI, the relative change and p.
    assert "194.27 (179 / 27,642)" in text
    assert "29.80 (28 / 28,184)" in text
    assert "0.153" in text and "0.099 – 0.229" in text
    assert "-84.7%" in text and "0.0123" in text
    assert "21.31" in text  # the baseline
    for heading in ("D1", "D4", "D8"):
        assert heading in text
    assert f"Page 1 of {pages}" in text


def test_capa_report_in_chinese_has_chinese_data(engineer, committee, team_a):
    issue = _closed_issue(engineer, committee, team_a, title="滚筒轴承异响")
    pdf, _pages = capa_report_pdf(issue_id=issue.pk, language="zh-hans", user=engineer)
    text = pdf_text(pdf)
    assert "滚筒轴承异响" in text
    assert kpi_lookup("failures_per_1000").name_zh in text  # the baseline and verified KPI in Chinese
    assert "技术" in text or "Technology" in text  # the fishbone bone (name_zh of the default set when present)


def test_capa_pages_render_not_blank(engineer, committee, team_a, tmp_path):
    issue = _closed_issue(engineer, committee, team_a)
    pdf, pages = capa_report_pdf(issue_id=issue.pk, language="en", user=engineer)
    counts = dark_pixels_per_page(pdf, tmp_path)
    assert len(counts) == pages
    assert all(count > 100 for count in counts), counts


def test_action_timing_counts_against_the_original_due_date(engineer, committee, team_a):
    issue = _closed_issue(engineer, committee, team_a)
    today = dt.date(2026, 5, 1)
    action = Action(
        issue=issue,
        kind=ActionKind.CORRECTIVE,
        title="x",
        owner=engineer,
        due_on=dt.date(2026, 4, 1),
        current_due_on=dt.date(2026, 4, 20),
        status=ActionStatus.DONE,
        completed_on=dt.date(2026, 4, 10),
    )
    assert action_timing(action, today=today) == "late"  # before the moved date, after the original
    action.completed_on = dt.date(2026, 4, 1)
    assert action_timing(action, today=today) == "on_time"
    action.status, action.completed_on = ActionStatus.OPEN, None
    assert action_timing(action, today=today) == "overdue"
    action.current_due_on = dt.date(2026, 6, 1)
    assert action_timing(action, today=today) == "open"


def test_capa_data_closure_days_and_out_of_scope(engineer, committee, team_a, agent_b):
    issue = _closed_issue(engineer, committee, team_a)
    data = capa_report_data(issue_id=issue.pk, user=engineer)
    assert data["closure_days"] == pytest.approx((issue.closed_at - issue.detected_at).total_seconds() / 86400)
    assert sum(row["days"] for row in data["phases"]) == pytest.approx(data["closure_days"], abs=1e-6)
    # No meeting discussed it (advance() approves the plan directly): no cycle, but the
    # approver is a reviewer.
    assert data["review_cycles"] == 0
    assert data["team"]["reviewers"] == ["Min Li"] and data["plan_approved_by"] == "Min Li"
    from django.http import Http404

    with pytest.raises(Http404):
        capa_report_data(issue_id=issue.pk, user=agent_b)


def test_capa_download_archives_and_scopes(client, engineer, committee, team_a, agent_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    issue = _closed_issue(engineer, committee, team_a)
    url = reverse("reports:capa_pdf", args=[issue.pk])
    assert url == f"/reports/capa/{issue.pk}.pdf"

    client.force_login(engineer)
    response = client.get(url, {"lang": "zh-hans"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    report = GeneratedReport.objects.get()
    assert (report.kind, report.status, report.language) == (ReportKind.CAPA, ReportStatus.DONE, "zh-hans")
    assert report.parameters == {"issue_id": issue.pk}
    assert report.requested_by == engineer
    assert report.size == len(response.content) and report.pages >= 1 and report.file.name

    # An unknown language is refused (400), nothing archived.
    assert client.get(url, {"lang": "xx"}).status_code == 400
    assert GeneratedReport.objects.count() == 1

    # Out of scope (an agent of another team): 404, nothing archived.
    client.force_login(agent_b)
    assert client.get(url).status_code == 404
    assert client.get(reverse("reports:capa_pdf", args=[issue.pk + 999])).status_code == 404
    assert GeneratedReport.objects.count() == 1


def test_issue_page_links_the_8d_report(client, engineer, committee, team_a):
    issue = _closed_issue(engineer, committee, team_a)
    client.force_login(engineer)
    page = client.get(reverse("improvements:issue-detail", args=[issue.pk]))
    assert page.status_code == 200
    assert f'href="/reports/capa/{issue.pk}.pdf"' in page.content.decode()
