"""Celery tasks of the import pages: thin, they call the import service."""

import logging
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from catalog.tasks import DATABASE_RETRY

from . import services
from .selectors import PROGRESS_KEY, PROGRESS_TIMEOUT

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def import_file_task(run_id: int, path: str) -> None:
    """Import a stored upload into its pending run. Idempotent: the run is claimed with one
    conditional UPDATE, so a second delivery (or a second worker) finds it no longer
    pending and does nothing. `path` is relative to MEDIA_ROOT (or absolute)."""
    run = services.import_run_claim(run_id=run_id)
    if run is None:
        logger.info("import run %s is no longer pending; nothing to do", run_id)
        return
    key = PROGRESS_KEY.format(run_id=run_id)

    def progress(rows_read: int) -> None:
        cache.set(key, rows_read, PROGRESS_TIMEOUT)

    try:
        services.import_file(
            entity=run.entity,
            path=Path(settings.MEDIA_ROOT) / path,
            mode=run.mode,
            profile=run.profile,
            user=run.user,
            dry_run=run.dry_run,
            source=run.source,
            run=run,
            progress=progress,
        )
    except Exception as error:
        services.import_run_mark_failed(run_id=run_id, message=f"{type(error).__name__}: {error}")
        raise


# Days a stored upload is kept after its last run finished (setting IMPORT_UPLOAD_RETENTION_DAYS).
UPLOAD_RETENTION_DAYS = 30


def upload_retention() -> timedelta:
    return timedelta(days=getattr(settings, "IMPORT_UPLOAD_RETENTION_DAYS", UPLOAD_RETENTION_DAYS))


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def import_uploads_purge_task() -> int:
    """Delete stored uploads past the retention (scheduled daily). Idempotent: a second
    run, or two at once, deletes nothing more."""
    return services.import_uploads_purge(older_than=upload_retention())
