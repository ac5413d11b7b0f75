from celery import shared_task

from .services import kpi_snapshots_refresh


@shared_task(acks_late=True, ignore_result=True)
def kpi_snapshots_refresh_task(full: bool = False) -> dict:
    """Every 15 minutes incremental, nightly full; the state row lock makes overlapping
    runs wait, and a rerun rewrites the same rows."""
    return kpi_snapshots_refresh(full=full)
