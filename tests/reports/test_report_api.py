# ruff: noqa: F811  (fixtures imported from report_fixtures are redefined as test arguments)
"""The reports API: 202 on request, 400 with fields, scoped archive (404 out of scope),
409 download before done, never a 500 on garbage; subscriptions CRUD and their log."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from reports import services
from reports.models import DeliveryStatus, GeneratedReport, ReportStatus, ReportSubscription, SubscriptionDelivery
from tests.conftest import api_for
from tests.factories import UserFactory
from tests.reports.report_fixtures import (  # noqa: F401 (fixtures)
    QUALITY_PARAMS,
    agent_user,
    engineer_user,
    manager_user,
    report_env,
)

LIST = "/api/v1/reports/"
SUBSCRIPTIONS = "/api/v1/report-subscriptions/"


def test_request_answers_202_and_the_report_gets_done(report_env, engineer_user, django_capture_on_commit_callbacks):
    api = api_for(engineer_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(LIST, {"kind": "quality", "parameters": QUALITY_PARAMS, "language": "en"}, format="json")
    assert response.status_code == 202
    body = response.json()
    report = GeneratedReport.objects.get()
    assert body["id"] == report.pk and body["status"] == "queued" and body["progress"] == 0
    assert body["url"] == f"{LIST}{report.pk}/" and body["download_url"] is None
    assert body["page_url"] == reverse("reports:detail", args=[report.pk])
    assert body["requested_by"] == "qe_zhou" and body["parameters"] == QUALITY_PARAMS
    # 409 while it is not done.
    conflict = api.get(f"{LIST}{report.pk}/download/")
    assert conflict.status_code == 409 and conflict.json()["errors"] == {"status": ["the report is queued"]}
    for callback in callbacks:
        callback()
    detail = api.get(body["url"]).json()
    assert detail["status"] == "done" and detail["progress"] == 100 and detail["pages"] == 2
    download = api.get(detail["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    data = b"".join(download.streaming_content)
    assert data.startswith(b"%PDF-") and len(data) == detail["size"]


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"kind": "quality", "parameters": {"start": "2026-03-01", "end": "2026-02-01"}}, {"end"}),
        (
            {"kind": "quality", "parameters": {"start": "2026-01-01", "end": "2026-02-01", "filters": {"x": "y"}}},
            {"filters"},
        ),
        (
            {"kind": "quality", "parameters": {"start": "2026-01-01", "end": "2026-02-01"}, "language": "klingon"},
            {"language"},
        ),
        ({"kind": "novel", "parameters": {}}, {"kind"}),
        ({"parameters": {}}, {"kind"}),
        ({"kind": "capa", "parameters": {"issue_id": 12345}}, {"issue_id"}),
        ({"kind": "recall", "parameters": {"recall_id": [1, 2]}}, {"recall_id"}),
        ({"kind": "quality", "parameters": "2026"}, {"parameters"}),
    ],
)
def test_bad_requests_are_400_with_the_fields(report_env, engineer_user, payload, fields):
    response = api_for(engineer_user).post(LIST, payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == fields
    assert not GeneratedReport.objects.exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b"null",
        b'{"kind": {"a": 1}, "parameters": {"start": [], "end": {}}}',
        b'{"kind": "quality", "parameters": {"start": "9999-99-99", "end": "2026-01-01", "filters": {"region": 5.5}}}',
        b'{"kind": "capa", "parameters": {"issue_id": 99999999999999999999999}}',
    ],
)
def test_garbage_is_never_a_500(report_env, engineer_user, raw):
    response = api_for(engineer_user).post(LIST, raw, content_type="application/json")
    assert response.status_code == 400, response.content


def test_the_archive_is_scoped_and_404_out_of_scope(report_env, engineer_user, manager_user, agent_user):
    own = GeneratedReport.objects.create(kind="quality", parameters=QUALITY_PARAMS, requested_by=engineer_user)
    other = GeneratedReport.objects.create(kind="quality", parameters=QUALITY_PARAMS, requested_by=manager_user)
    engineer = api_for(engineer_user)
    assert [r["id"] for r in engineer.get(LIST).json()["results"]] == [own.pk]
    assert engineer.get(f"{LIST}{other.pk}/").status_code == 404
    assert engineer.get(f"{LIST}{other.pk}/download/").status_code == 404
    assert {r["id"] for r in api_for(manager_user).get(LIST).json()["results"]} == {own.pk, other.pk}
    agent = api_for(agent_user)
    assert agent.get(LIST).json()["results"] == []
    assert agent.post(LIST, {"kind": "quality", "parameters": QUALITY_PARAMS}, format="json").status_code == 403
    assert api_for(manager_user).get(f"{LIST}999999/").status_code == 404


def test_the_archive_list_has_a_constant_query_count(report_env, manager_user, django_assert_num_queries):
    api = api_for(manager_user)
    for _ in range(2):
        GeneratedReport.objects.create(kind="quality", parameters=QUALITY_PARAMS, requested_by=manager_user)
    api.get(LIST)  # warm the permission cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        api.get(LIST)
    other = UserFactory(username="qe_many", roles=["quality_engineer"])
    for _ in range(10):
        GeneratedReport.objects.create(kind="quality", parameters=QUALITY_PARAMS, requested_by=other)
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get(LIST).json()["count"] == 12


def test_a_failed_report_cannot_be_downloaded(report_env, engineer_user):
    report = GeneratedReport.objects.create(
        kind="quality", parameters=QUALITY_PARAMS, requested_by=engineer_user, status=ReportStatus.FAILED, error="boom"
    )
    response = api_for(engineer_user).get(f"{LIST}{report.pk}/download/")
    assert response.status_code == 409 and response.json()["errors"] == {"status": ["the report is failed"]}


# --- subscriptions ----------------------------------------------------------------------------


def test_subscriptions_crud_and_deliveries(report_env, manager_user):
    api = api_for(manager_user)
    created = api.post(
        SUBSCRIPTIONS,
        {
            "name": "East weekly",
            "schedule": "weekly",
            "scope": {"region": "East"},
            "recipients": ["boss@example.com"],
            "language": "zh-hans",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["owner"] == "mgr_wang" and body["kind"] == "quality" and body["skip_if_empty"] is True
    subscription = ReportSubscription.objects.get()
    assert json.loads(subscription.periodic_task.kwargs) == {"subscription_id": subscription.pk}
    assert subscription.periodic_task.crontab.day_of_week == "1"

    patched = api.patch(
        f"{SUBSCRIPTIONS}{subscription.pk}/", {"schedule": "cron", "cron": "15 6 1,15 * *"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["recipients"] == ["boss@example.com"] and patched.json()["scope"] == {"region": "East"}
    subscription.refresh_from_db()
    crontab = subscription.periodic_task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month) == ("15", "6", "1,15")

    bad = api.patch(f"{SUBSCRIPTIONS}{subscription.pk}/", {"cron": "every day"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"cron"}
    bad = api.post(SUBSCRIPTIONS, {"name": "x", "schedule": "weekly", "recipients": ["@@"]}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"recipients"}

    SubscriptionDelivery.objects.create(
        subscription=subscription,
        period_start=dt.date(2026, 2, 1),
        period_end=dt.date(2026, 3, 1),
        status=DeliveryStatus.SENT,
        recipients=["boss@example.com"],
    )
    log = api.get(f"{SUBSCRIPTIONS}{subscription.pk}/deliveries/").json()
    assert [(d["period_start"], d["period_end"], d["status"]) for d in log["results"]] == [
        ("2026-02-01", "2026-03-01", "sent")
    ]
    other = api_for(UserFactory(username="mgr_two", roles=["manager"]))
    assert other.get(f"{SUBSCRIPTIONS}{subscription.pk}/").status_code == 404
    assert other.get(SUBSCRIPTIONS).json()["results"] == []

    assert api.delete(f"{SUBSCRIPTIONS}{subscription.pk}/").status_code == 204
    assert (
        not ReportSubscription.objects.exists() and not PeriodicTask.objects.filter(name__startswith="report-").exists()
    )


def test_engineers_may_not_subscribe(report_env, engineer_user):
    response = api_for(engineer_user).post(SUBSCRIPTIONS, {"name": "x", "schedule": "weekly"}, format="json")
    assert response.status_code == 403


def test_the_service_and_api_agree_on_a_delivered_subscription(report_env, manager_user):
    subscription = services.subscription_save(
        owner=manager_user, name="M", schedule="monthly", recipients=["a@example.com"]
    )
    delivery = services.subscription_deliver(
        subscription_id=subscription.pk, now=dt.datetime(2026, 3, 10, 1, tzinfo=dt.UTC)
    )
    log = api_for(manager_user).get(f"{SUBSCRIPTIONS}{subscription.pk}/deliveries/").json()["results"]
    assert log[0]["report"] == delivery.report_id and log[0]["status"] == "sent"
    assert api_for(manager_user).get(f"{LIST}{delivery.report_id}/").json()["subscription"] == subscription.pk
