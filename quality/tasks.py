from celery import shared_task

from .services import kpi_snapshots_refresh, recall_units_remedied_sync


@shared_task(acks_late=True, ignore_result=True)
def kpi_snapshots_refresh_task(full: bool = False) -> dict:
    """Every 15 minutes incremental, nightly full; the state row lock makes overlapping
    runs wait, and a rerun rewrites the same rows."""
    return kpi_snapshots_refresh(full=full)


@shared_task(acks_late=True, ignore_result=True)
def recall_units_remedied_sync_task() -> int:
    """Daily: units whose remedy ticket was resolved count as remedied. One UPDATE that
    skips remedied units, so a rerun (or two workers at once) changes nothing more."""
    return recall_units_remedied_sync()
