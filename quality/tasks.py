from celery import shared_task
from django.utils import timezone

from catalog.tasks import DATABASE_RETRY

from .alert_selectors import alert_rules_for
from .kpi.periods import local_midnight
from .models import AlertSchedule
from .services import alert_evaluations_purge, alert_rules_evaluate, kpi_snapshots_refresh, recall_units_remedied_sync


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def kpi_snapshots_refresh_task(full: bool = False) -> dict:
    """Every 15 minutes incremental, nightly full; the state row lock makes overlapping
    runs wait, and a rerun rewrites the same rows."""
    result = kpi_snapshots_refresh(full=full)
    # The after-refresh alert rules run as their own task: a failing evaluation must
    # not fail (or retry) the refresh.
    alerts_evaluate_task.delay(schedule=AlertSchedule.AFTER_REFRESH.value)
    return result


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def recall_units_remedied_sync_task() -> int:
    """Daily: units whose remedy ticket was resolved count as remedied. One UPDATE that
    skips remedied units, so a rerun (or two workers at once) changes nothing more."""
    return recall_units_remedied_sync()


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def alerts_evaluate_task(schedule: str | None = None) -> int:
    """Hourly: the hourly rules, and the daily rules not yet evaluated today; after each
    KPI refresh: the after_refresh rules. A rerun logs another evaluation but opens no
    second alert (one open alert per rule and member) and, within the re-notification
    interval, sends nothing."""
    if schedule is not None:
        return len(alert_rules_evaluate(schedule=schedule))
    today = local_midnight(timezone.localdate())
    rules = [
        rule
        for rule in alert_rules_for()
        if rule.schedule == AlertSchedule.HOURLY
        or (rule.schedule == AlertSchedule.DAILY and (rule.last_evaluated_at is None or rule.last_evaluated_at < today))
    ]
    return len(alert_rules_evaluate(rules=rules))


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def alert_evaluations_purge_task() -> int:
    """Daily: drop evaluation log rows past ALERT_EVALUATION_RETENTION_DAYS."""
    return alert_evaluations_purge()
