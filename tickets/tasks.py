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
