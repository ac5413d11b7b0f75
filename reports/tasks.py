"""Celery tasks of the reports app: thin, idempotent, they take ids and call one service."""

from celery import shared_task
from django.conf import settings

from catalog.tasks import DATABASE_RETRY

from . import services
from .models import ReportStatus

# Checks of a report found running in another worker: after these, it is left alone.
STALE_CHECKS = 3


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=STALE_CHECKS)
def report_generate_task(self, report_id: int) -> None:
    """Build one archived report. A second delivery finds it done and does nothing; one
    that finds it running elsewhere (e.g. redelivered after its worker was killed) looks
    again once that run would be stale, and then takes it over."""
    report = services.report_generate(report_id=report_id)
    if report is not None and report.status == ReportStatus.RUNNING:
        raise self.retry(countdown=settings.REPORT_STALE_SECONDS + 5)


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def subscription_deliver_task(subscription_id: int) -> None:
    """Run by the subscription's beat task: send the due period once (the delivery log's
    unique row makes a second run a no-op)."""
    services.subscription_deliver(subscription_id=subscription_id)
