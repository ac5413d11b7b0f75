"""Platform housekeeping tasks."""

from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone


@shared_task(ignore_result=True)
def worker_heartbeat() -> str:
    """Record that a worker consumed a task (scheduled by beat; read by health checks).
    Overwriting one file makes a repeated or duplicated run harmless."""
    stamp = timezone.now().isoformat()
    path = Path(settings.VAR_DIR) / "worker-heartbeat"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(stamp, encoding="utf-8")
    tmp.replace(path)
    return stamp
