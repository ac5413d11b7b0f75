"""Celery tasks of the service operation: thin, idempotent, acks_late; each calls a service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from catalog.tasks import DATABASE_RETRY


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def sla_sweep_task() -> None:
    from .services.escalation import sla_sweep

    sla_sweep()


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def notifications_deliver_task() -> None:
    from .services.notifications import notifications_deliver

    notifications_deliver()


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def survey_email_task(ticket_id: int, round: int) -> None:
    # OSError covers SMTP and connection failures, the others a lost database; the
    # service sends at most once (a database lost between the send and the commit of
    # its mark is the one case that sends again).
    from .services.surveys import survey_email_send

    survey_email_send(ticket_id=ticket_id, round=round)
