"""Celery tasks of the service operation: thin, idempotent, acks_late; each calls a service."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def sla_sweep_task() -> None:
    from .services.escalation import sla_sweep

    sla_sweep()


@shared_task(acks_late=True, ignore_result=True)
def notifications_deliver_task() -> None:
    from .services.notifications import notifications_deliver

    notifications_deliver()


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def survey_email_task(ticket_id: int, round: int) -> None:
    # OSError covers SMTP and connection failures; the service sends at most once.
    from .services.surveys import survey_email_send

    survey_email_send(ticket_id=ticket_id, round=round)
