"""Celery tasks of the reports app (helper R3): thin, idempotent."""
