"""Fixtures of the import page, API and task tests: uploads land in a temporary
MEDIA_ROOT, Celery runs tasks in the test's thread, the progress cache is in memory."""

import pytest

from tests.factories import UserFactory


@pytest.fixture
def intake_env(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return settings


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe_li", first_name="Li", last_name="Ming", roles=["quality_engineer"])
