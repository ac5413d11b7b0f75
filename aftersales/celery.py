"""The Celery app. Broker defaults to kombu's filesystem transport under var/ so a
single machine needs no Redis; CELERY_BROKER_URL switches to Redis or RabbitMQ."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")

app = Celery("aftersales")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
