"""/healthz: database, broker and beat freshness; 200 only when all three answer."""

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from catalog import health


def beat_ran(seconds_ago: float) -> None:
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="worker-heartbeat",
        defaults={
            "task": "catalog.tasks.worker_heartbeat",
            "interval": every_minute,
            "enabled": True,
            "last_run_at": timezone.now() - dt.timedelta(seconds=seconds_ago),
        },
    )


@pytest.mark.django_db
def test_healthy_when_the_database_the_broker_and_beat_answer(client):
    beat_ran(30)
    response = client.get("/healthz")  # no login: the load balancer asks
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "beat": "ok",
    }
    assert 25 <= body["checks"]["beat"]["age_seconds"] <= 60
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_a_stale_or_missing_beat_is_a_503_with_the_reason(client, settings):
    settings.HEALTH_BEAT_MAX_AGE_SECONDS = 600
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "never run" in response.json()["checks"]["beat"]["error"]
    beat_ran(601)
    beat = client.get("/healthz").json()["checks"]["beat"]
    assert beat["status"] == "fail" and "601 s ago" in beat["error"]
    PeriodicTask.objects.update(enabled=False)  # a disabled task's old run does not count either
    beat_ran(10)
    PeriodicTask.objects.filter(name="worker-heartbeat").update(enabled=False)
    assert client.get("/healthz").status_code == 503


@pytest.mark.django_db
def test_an_unreachable_broker_is_a_503_not_a_500(client, monkeypatch):
    beat_ran(5)

    def refused():
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(health, "_broker", refused)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"] == {
        "status": "fail",
        "error": "ConnectionRefusedError: [Errno 111] Connection refused",
        "ms": body["checks"]["broker"]["ms"],
    }


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_checks_parameter_runs_only_the_named_checks(client):
    # No beat run exists: the full probe fails, the load balancer's subset does not.
    assert client.get("/healthz").status_code == 503
    response = client.get("/healthz?checks=database,broker")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) == {"database", "broker"}


@pytest.mark.django_db
def test_unknown_check_name_is_a_400_naming_it(client):
    response = client.get("/healthz?checks=database,disk")
    assert response.status_code == 400
    assert "disk" in response.json()["errors"]["checks"][0]
    assert client.get("/healthz?checks=").status_code == 400
