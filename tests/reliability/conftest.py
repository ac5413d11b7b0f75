"""Workers shared by the reliability tests: started once per session (each costs ~3 s),
each on a queue of its own. Tests that kill a worker whole start their own."""

import os

import pytest
from django.conf import settings
from django.db import connection

from .harness import Worker


@pytest.fixture(scope="session")
def broker_url(django_db_setup, django_db_blocker) -> str:
    """The Redis broker the workers and this process share. Without PostgreSQL or Redis
    these tests skip; CI (REQUIRE_POSTGRES=1) must have both, so there it fails instead."""
    url = settings.CELERY_BROKER_URL
    with django_db_blocker.unblock():
        vendor = connection.vendor
    problem = None
    if vendor != "postgresql":
        problem = "needs PostgreSQL (set DATABASE_URL)"
    elif not url.startswith(("redis://", "rediss://")):
        problem = "needs a Redis broker (set CELERY_BROKER_URL=redis://127.0.0.1:6379/N)"
    else:
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            problem = f"Redis at {url} does not answer: {error}"
    if problem and os.environ.get("REQUIRE_POSTGRES"):
        pytest.fail(f"REQUIRE_POSTGRES is set but the reliability tests cannot run: {problem}")
    if problem:
        pytest.skip(problem)
    return url


@pytest.fixture(scope="session")
def pair_worker(broker_url, tmp_path_factory):
    """Two pool processes on one queue: duplicates and overlapping runs meet here."""
    worker = Worker(name="pair", tmp=tmp_path_factory.mktemp("pair"), broker_url=broker_url, concurrency=2)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def worker_factory(broker_url, tmp_path):
    """Workers a test starts (and may kill); stopped at its end."""
    started: list[Worker] = []

    def start(name: str, **kwargs) -> Worker:
        worker = Worker(name=name, tmp=tmp_path, broker_url=broker_url, **kwargs)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
