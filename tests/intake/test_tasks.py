"""import_file_task: claims its run once (idempotent), publishes progress, leaves a crash
as a failed run, and is queued only when the run is committed."""

import threading
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from catalog.models import Customer
from intake import services
from intake.models import ImportMode, ImportRun, ImportSource, ImportStatus
from intake.selectors import PROGRESS_KEY
from intake.tasks import import_file_task

from .web_support import CUSTOMERS_CSV

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake_env")]


def stored_file(text: str = CUSTOMERS_CSV, name: str = "customers.csv") -> str:
    relative = f"imports/{'a' * 32}/{name}"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return relative


def pending_run(relative: str, **kwargs) -> ImportRun:
    values = {"entity": "customers", "file_name": Path(relative).name, "stored_file": relative, "source": "web"}
    return ImportRun.objects.create(**{**values, **kwargs})


def test_the_task_is_acks_late():
    assert import_file_task.acks_late is True


def test_a_second_delivery_does_nothing():
    relative = stored_file()
    run = pending_run(relative)
    with mock.patch("intake.services.import_file", return_value=run) as engine:
        import_file_task(run.pk, relative)
        import_file_task(run.pk, relative)
    assert engine.call_count == 1
    kwargs = engine.call_args.kwargs
    assert kwargs["run"].pk == run.pk and kwargs["entity"] == "customers" and kwargs["source"] == ImportSource.WEB
    assert Path(kwargs["path"]) == Path(settings.MEDIA_ROOT) / relative


@pytest.mark.parametrize("status", [ImportStatus.RUNNING, ImportStatus.SUCCEEDED, ImportStatus.FAILED])
def test_a_run_that_is_not_pending_is_left_alone(status):
    relative = stored_file()
    run = pending_run(relative, status=status)
    with mock.patch("intake.services.import_file") as engine:
        import_file_task(run.pk, relative)
    engine.assert_not_called()
    run.refresh_from_db()
    assert run.status == status


def test_a_deleted_run_is_a_no_op():
    with mock.patch("intake.services.import_file") as engine:
        import_file_task(12345, "imports/x/customers.csv")
    engine.assert_not_called()


def test_progress_is_published_to_the_shared_cache():
    relative = stored_file()
    run = pending_run(relative)

    def engine(*, progress, run, **kwargs):
        progress(500)
        assert cache.get(PROGRESS_KEY.format(run_id=run.pk)) == 500
        progress(1000)
        return run

    with mock.patch("intake.services.import_file", side_effect=engine):
        import_file_task(run.pk, relative)
    assert cache.get(f"intake:progress:{run.pk}") == 1000


def test_a_crash_leaves_the_run_failed_not_running():
    relative = stored_file()
    run = pending_run(relative)
    engine = mock.patch("intake.services.import_file", side_effect=RuntimeError("disk on fire"))
    with engine, pytest.raises(RuntimeError):
        import_file_task(run.pk, relative)
    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED and "disk on fire" in run.message and run.finished_at


def test_the_task_is_queued_only_when_the_run_is_committed(engineer, django_capture_on_commit_callbacks):
    relative = stored_file()
    with mock.patch("intake.services.import_file") as engine:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            run = services.import_run_queue(
                entity="customers", stored_file=relative, file_name="customers.csv", user=engineer
            )
        engine.assert_not_called()
        assert len(callbacks) == 1
        callbacks[0]()
    assert engine.call_count == 1 and engine.call_args.kwargs["run"].pk == run.pk


def test_the_real_import_runs_once_when_delivered_twice(engineer):
    relative = stored_file()
    run = pending_run(relative, user=engineer, mode=ImportMode.STRICT)
    import_file_task(run.pk, relative)
    run.refresh_from_db()
    assert (run.status, run.rows, run.created) == (ImportStatus.SUCCEEDED, 3, 3)
    finished_at = run.finished_at

    import_file_task(run.pk, relative)
    run.refresh_from_db()
    assert (run.status, run.created, run.finished_at) == (ImportStatus.SUCCEEDED, 3, finished_at)
    assert Customer.objects.count() == 3
    assert ImportRun.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivered_the_same_task_import_once():
    """Two threads (two workers given the same message) claim the run at the same moment:
    the conditional UPDATE lets exactly one of them import."""
    relative = stored_file()
    run = pending_run(relative)
    barrier = threading.Barrier(2)
    calls: list[int] = []

    def engine(*, run, **kwargs):
        calls.append(run.pk)
        return run

    def worker():
        try:
            barrier.wait(timeout=10)
            import_file_task(run.pk, relative)
        finally:
            connection.close()

    with mock.patch("intake.services.import_file", side_effect=engine):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert calls == [run.pk]
    run.refresh_from_db()
    assert run.status == ImportStatus.RUNNING  # the mock engine did not finish it
