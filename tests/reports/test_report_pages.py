# ruff: noqa: F811  (fixtures imported from report_fixtures are redefined as test arguments)
"""Report pages: the archive (scoped), the new-report form (errors shown), the report
page and its progress partial, the download (requester, managers; others 404), the
dashboard's "Download PDF" and My subscriptions."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from reports import services
from reports.forms import period_dates
from reports.models import DeliveryStatus, GeneratedReport, ReportStatus, ReportSubscription, SubscriptionDelivery
from tests.factories import UserFactory
from tests.reports.report_fixtures import (  # noqa: F401 (fixtures)
    CALLS,
    QUALITY_PARAMS,
    agent_user,
    engineer_user,
    manager_user,
    report_env,
)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _done_report(user, **kwargs) -> GeneratedReport:
    report = GeneratedReport.objects.create(kind="quality", parameters=QUALITY_PARAMS, requested_by=user, **kwargs)
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    return report


def test_period_presets_are_whole_months_before_today():
    today = dt.date(2026, 5, 14)
    assert period_dates("last_month", today) == (dt.date(2026, 4, 1), dt.date(2026, 5, 1))
    assert period_dates("last_quarter", today) == (dt.date(2026, 1, 1), dt.date(2026, 4, 1))
    assert period_dates("last_quarter", dt.date(2026, 2, 3)) == (dt.date(2025, 10, 1), dt.date(2026, 1, 1))
    assert period_dates("last_12_months", today) == (dt.date(2025, 5, 1), dt.date(2026, 5, 1))


def test_the_new_report_form_queues_a_report(report_env, engineer_user, django_capture_on_commit_callbacks):
    client = client_for(engineer_user)
    page = client.get(reverse("reports:create"))
    assert page.status_code == 200 and b'name="period"' in page.content
    data = {
        "kind": "quality",
        "period": "custom",
        "start": "2026-01-01",
        "end": "2026-02-01",
        "grain": "week",
        "region": "",
        "channel": "phone",
        "language": "zh-hans",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:create"), data)
    report = GeneratedReport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:detail", args=[report.pk])
    assert report.parameters == {
        "start": "2026-01-01",
        "end": "2026-02-01",
        "grain": "week",
        "filters": {"channel": "phone"},
    }
    assert report.language == "zh-hans" and report.requested_by == engineer_user
    assert GeneratedReport.objects.get().status == ReportStatus.DONE


def test_form_errors_are_shown_on_their_fields(report_env, engineer_user):
    client = client_for(engineer_user)
    response = client.post(
        reverse("reports:create"),
        {
            "kind": "quality",
            "period": "custom",
            "start": "2026-03-01",
            "end": "2026-02-01",
            "grain": "month",
            "language": "en",
        },
    )
    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()
    assert 'id="id_end"' in response.content.decode() and "is-invalid" in response.content.decode()
    response = client.post(
        reverse("reports:create"), {"kind": "quality", "period": "custom", "grain": "month", "language": "en"}
    )
    assert response.status_code == 400 and response.content.decode().count("This field is required.") == 2
    assert not GeneratedReport.objects.exists()


def test_agents_may_not_generate(report_env, agent_user):
    client = client_for(agent_user)
    assert client.get(reverse("reports:create")).status_code == 403
    assert (
        client.post(reverse("reports:from_dashboard"), {"start": "2026-01-01", "end": "2026-02-01"}).status_code == 403
    )
    assert client.get(reverse("reports:list")).status_code == 200


def test_the_archive_lists_what_the_user_may_see(report_env, manager_user, engineer_user):
    own = _done_report(engineer_user)
    other = _done_report(manager_user)
    engineer_page = client_for(engineer_user).get(reverse("reports:list")).content.decode()
    assert f'data-report="{own.pk}"' in engineer_page and f'data-report="{other.pk}"' not in engineer_page
    manager_page = client_for(manager_user).get(reverse("reports:list")).content.decode()
    assert f'data-report="{own.pk}"' in manager_page and f'data-report="{other.pk}"' in manager_page
    # Parameters shown readably: the period, the grain and the scope.
    assert "2026-03-01 – 2026-03-31" in manager_page and "Region: East" in manager_page
    assert "Zhou Min" in manager_page


def test_the_archive_page_has_a_constant_number_of_queries(report_env, manager_user, django_assert_max_num_queries):
    for _ in range(3):
        _done_report(manager_user)
    client = client_for(manager_user)
    client.get(reverse("reports:list"))
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("reports:list"))
    for _ in range(6):
        _done_report(manager_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("reports:list"))


def test_the_progress_partial_polls_until_done(report_env, engineer_user):
    report = GeneratedReport.objects.create(
        kind="quality",
        parameters=QUALITY_PARAMS,
        requested_by=engineer_user,
        status=ReportStatus.RUNNING,
        started_at=timezone.now(),
        progress=42,
        stage="Charts",
    )
    client = client_for(engineer_user)
    partial = client.get(reverse("reports:progress", args=[report.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in partial and 'aria-valuenow="42"' in partial and "Charts" in partial
    assert "report-download" not in partial
    GeneratedReport.objects.filter(pk=report.pk).update(status=ReportStatus.QUEUED, started_at=None)
    services.report_generate(report_id=report.pk)
    partial = client.get(reverse("reports:progress", args=[report.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in partial and reverse("reports:download", args=[report.pk]) in partial
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert 'id="report-download"' in page and "2 pages" in page


def test_a_failed_report_shows_its_error(report_env, engineer_user):
    report = GeneratedReport.objects.create(
        kind="quality",
        parameters=QUALITY_PARAMS,
        requested_by=engineer_user,
        status=ReportStatus.FAILED,
        error="ValueError: boom",
    )
    page = client_for(engineer_user).get(reverse("reports:detail", args=[report.pk])).content.decode()
    assert "The report could not be generated." in page and "ValueError: boom" in page and "every 1s" not in page


def test_download_for_the_requester_and_managers_only(report_env, engineer_user, manager_user, agent_user):
    report = _done_report(engineer_user)
    url = reverse("reports:download", args=[report.pk])
    for user in (engineer_user, manager_user):
        response = client_for(user).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert b"".join(response.streaming_content).startswith(b"%PDF-")
        assert response["Content-Disposition"] == ('attachment; filename="quality-report-2026-03-01_2026-03-31-en.pdf"')
    other_engineer = UserFactory(username="qe_other", roles=["quality_engineer"])
    for user in (other_engineer, agent_user):
        assert client_for(user).get(url).status_code == 404
        assert client_for(user).get(reverse("reports:detail", args=[report.pk])).status_code == 404
    assert Client().get(url).status_code == 302  # to the login


def test_download_before_done_is_404(report_env, engineer_user):
    report = GeneratedReport.objects.create(kind="quality", parameters=QUALITY_PARAMS, requested_by=engineer_user)
    assert client_for(engineer_user).get(reverse("reports:download", args=[report.pk])).status_code == 404


def test_the_dashboard_offers_download_pdf_with_its_filters(report_env, manager_user, agent_user):
    url = reverse("quality:overview") + "?range=&start=2026-01-01&end=2026-03-01&grain=month&region=East&batch=B-7"
    page = client_for(manager_user).get(url).content.decode()
    assert 'class="m-0 dashboard-pdf"' in page and "Download PDF" in page
    assert 'name="start" value="2026-01-01"' in page and 'name="end" value="2026-03-01"' in page
    assert 'name="region" value="East"' in page and 'name="batch" value="B-7"' in page
    # The htmx redraw of the body carries the form again, out of band.
    partial = client_for(manager_user).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="dashboard-actions" class="d-flex flex-wrap gap-2 dashboard-actions" hx-swap-oob="true"' in partial
    assert 'name="batch" value="B-7"' in partial
    kpi_page = client_for(manager_user).get(reverse("quality:kpi", args=["csat"]) + "?region=West").content.decode()
    assert "dashboard-pdf" in kpi_page and 'name="region" value="West"' in kpi_page
    # Agents read dashboards but do not generate reports: no button.
    assert "dashboard-pdf" not in client_for(agent_user).get(url).content.decode()


def test_download_pdf_from_the_dashboard_requests_the_report(
    report_env, manager_user, django_capture_on_commit_callbacks
):
    client = client_for(manager_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("reports:from_dashboard"),
            {
                "start": "2026-01-01",
                "end": "2026-03-01",
                "grain": "month",
                "region": "East",
                "batch": "B-7",
                "next": "/dashboards/overview/",
            },
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    report = GeneratedReport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("reports:detail", args=[report.pk])
    assert report.parameters["filters"] == {"region": "East", "batch": "B-7"}
    assert report.status == ReportStatus.DONE
    # Garbage from a tampered form: a message and back to the dashboard, never a 500.
    response = client.post(
        reverse("reports:from_dashboard"), {"start": "x", "end": "", "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("quality:overview")
    assert GeneratedReport.objects.count() == 1


def test_my_subscriptions_create_edit_delete(report_env, manager_user):
    client = client_for(manager_user)
    assert client.get(reverse("reports:subscription_list")).status_code == 200
    data = {
        "name": "Weekly all",
        "schedule": "cron",
        "cron": "0 7 * * 99",
        "language": "en",
        "recipients": "a@example.com\nb@example.com",
        "skip_if_empty": "on",
        "active": "on",
    }
    response = client.post(reverse("reports:subscription_create"), data)
    assert response.status_code == 400 and "Not a valid cron expression" in response.content.decode()
    data["recipients"] = "a@example.com, nope"
    data["cron"] = "0 7 * * 1"
    response = client.post(reverse("reports:subscription_create"), data)
    assert response.status_code == 400 and "Not an e-mail address: nope" in response.content.decode()
    data["recipients"] = "a@example.com\nb@example.com"
    response = client.post(reverse("reports:subscription_create"), data)
    subscription = ReportSubscription.objects.get()
    assert response.status_code == 302
    assert subscription.recipients == ["a@example.com", "b@example.com"] and subscription.cron == "0 7 * * 1"
    assert subscription.periodic_task.crontab.day_of_week == "1"
    SubscriptionDelivery.objects.create(
        subscription=subscription,
        period_start=dt.date(2026, 3, 2),
        period_end=dt.date(2026, 3, 9),
        status=DeliveryStatus.SKIPPED,
    )
    edit = client.get(reverse("reports:subscription_edit", args=[subscription.pk])).content.decode()
    assert "2026-03-02 – 2026-03-08" in edit and "Skipped (empty)" in edit
    listing = client.get(reverse("reports:subscription_list")).content.decode()
    assert "Weekly all" in listing and "2026-03-02 – 2026-03-08" in listing
    data.update({"schedule": "monthly", "active": ""})
    client.post(reverse("reports:subscription_edit", args=[subscription.pk]), data)
    subscription.refresh_from_db()
    assert subscription.schedule == "monthly" and subscription.cron == "" and not subscription.active
    assert subscription.periodic_task.enabled is False
    other = UserFactory(username="mgr_other", roles=["manager"])
    assert client_for(other).get(reverse("reports:subscription_edit", args=[subscription.pk])).status_code == 404
    client.post(reverse("reports:subscription_delete", args=[subscription.pk]))
    assert (
        not ReportSubscription.objects.exists() and not PeriodicTask.objects.filter(name__startswith="report-").exists()
    )


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_pages_render_in_both_languages(report_env, manager_user, language):
    report = _done_report(manager_user)
    client = client_for(manager_user)
    for url in (
        reverse("reports:list"),
        reverse("reports:create"),
        reverse("reports:detail", args=[report.pk]),
        reverse("reports:subscription_list"),
        reverse("reports:subscription_create"),
    ):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        assert f'<html lang="{language}">' in response.content.decode()
