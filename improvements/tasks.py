"""Celery tasks of the improvement loop: thin, idempotent, calling one service each."""

from celery import shared_task

from catalog.tasks import DATABASE_RETRY

from .services import actions_remind, recurrence_watch


@shared_task(acks_late=True, **DATABASE_RETRY)
def actions_remind_task() -> dict:
    return actions_remind()


@shared_task(acks_late=True, **DATABASE_RETRY)
def recurrence_watch_task() -> dict:
    return recurrence_watch()
