"""/healthz: what a load balancer or an orchestrator asks before sending traffic.

Three checks, each with its time: the database answers, the broker accepts a connection,
and beat ran recently (the newest `last_run_at` of the enabled django-celery-beat tasks:
the heartbeat task runs every minute, and the database scheduler writes run times every
few minutes). 200 when all pass, 503 with the failing check's reason otherwise.

`?checks=database,broker` runs only those: a load balancer must not take every web
machine out of service because beat (a separate process) stopped."""

from __future__ import annotations

import time

from celery import current_app
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from catalog.metrics import health_checks_record


def _timed(check) -> dict:
    started = time.monotonic()
    try:
        detail = check()
        result = {"status": "ok", **(detail or {})}
    except Exception as error:  # noqa: BLE001 - any failure is the answer, not a 500
        result = {"status": "fail", "error": f"{type(error).__name__}: {error}"[:300]}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:
    with current_app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_BROKER_TIMEOUT_SECONDS)


def _beat() -> dict:
    from django_celery_beat.models import PeriodicTask

    last = PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))["last"]
    if last is None:
        raise RuntimeError("beat has never run")
    age = (timezone.now() - last).total_seconds()
    if age > settings.HEALTH_BEAT_MAX_AGE_SECONDS:
        raise RuntimeError(f"beat last ran {age:.0f} s ago")
    return {"last_run_at": last.isoformat(), "age_seconds": round(age)}


CHECKS = ("database", "broker", "beat")


@never_cache
@require_GET
def healthz(request):
    names = [name.strip() for name in request.GET.get("checks", ",".join(CHECKS)).split(",") if name.strip()]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown or not names:
        reason = f"unknown: {', '.join(unknown)}" if unknown else "empty"
        return JsonResponse({"errors": {"checks": [f"{reason}; choose from {', '.join(CHECKS)}"]}}, status=400)
    run = {"database": _database, "broker": _broker, "beat": _beat}
    checks = {name: _timed(run[name]) for name in CHECKS if name in names}
    health_checks_record(checks)
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503)
