"""Platform housekeeping tasks."""

from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

# Options of every task whose service is idempotent: a lost database connection (a
# restart, a failover, a terminated backend) is retried with backoff (about 2, 4, 8 ...
# s, jittered, at most 120 s apart), 6 times at most, then the task fails. Any other
# error fails at once. The worker logs each retry (INFO) and each failure (ERROR).
DATABASE_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "max_retries": 6,
}


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
