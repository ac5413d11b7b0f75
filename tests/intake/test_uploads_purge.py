"""Stored uploads (MEDIA_ROOT/imports/<uuid>/<name>) are deleted once past the retention:
the files of finished runs (their stored_file cleared) and files no run names; never the
file of a pending or running run (intake.services.import_uploads_purge, its task and its
command)."""

import datetime as dt
import os
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from catalog.exceptions import ApplicationError
from intake.models import ImportRun, ImportSource, ImportStatus
from intake.services import import_run_import_for_real, import_uploads_purge
from intake.tasks import import_uploads_purge_task

pytestmark = pytest.mark.django_db

NOW = timezone.now()
KEEP = dt.timedelta(days=30)
OLD = NOW - dt.timedelta(days=31)
RECENT = NOW - dt.timedelta(days=29)


def _media() -> Path:
    return Path(settings.MEDIA_ROOT)


def _stored(*, modified: dt.datetime = OLD, name: str = "tickets.csv") -> str:
    """A stored upload, last modified at `modified`; returns its path under MEDIA_ROOT."""
    relative = f"imports/{uuid.uuid4().hex}/{name}"
    path = _media() / relative
    path.parent.mkdir(parents=True)
    path.write_text("external_id\nT1\n", encoding="utf-8")
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    os.utime(path.parent, (modified.timestamp(), modified.timestamp()))
    return relative


def _run(stored_file: str, *, status=ImportStatus.SUCCEEDED, finished=OLD, started=None, **extra) -> ImportRun:
    run = ImportRun.objects.create(
        entity="tickets",
        file_name="tickets.csv",
        stored_file=stored_file,
        source=ImportSource.WEB,
        status=status,
        finished_at=finished,
        **extra,
    )
    ImportRun.objects.filter(pk=run.pk).update(started_at=started or (finished or NOW) - dt.timedelta(minutes=1))
    return run


def _exists(relative: str) -> bool:
    return (_media() / relative).is_file()


@pytest.mark.parametrize(
    "status", [ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.DRY_RUN, ImportStatus.FAILED]
)
def test_the_file_of_a_finished_run_past_the_retention_is_deleted(intake_env, status):
    old = _run(_stored(), status=status, finished=OLD)
    recent = _run(_stored(), status=status, finished=RECENT)
    old_file, recent_file = old.stored_file, recent.stored_file

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 1

    assert not _exists(old_file)
    assert not (_media() / old_file).parent.exists()  # the upload's folder goes with it
    old.refresh_from_db()
    assert old.stored_file == ""
    assert _exists(recent_file)
    recent.refresh_from_db()
    assert recent.stored_file == recent_file


@pytest.mark.parametrize("status", [ImportStatus.PENDING, ImportStatus.RUNNING])
def test_the_file_of_a_pending_or_running_run_is_never_deleted(intake_env, status):
    stored = _stored(modified=NOW - dt.timedelta(days=400))
    waiting = _run(stored, status=status, finished=None, started=NOW - dt.timedelta(days=400))
    # A dry run of the same file, finished long ago, queued for real: the file is in use.
    dry = _run(stored, status=ImportStatus.DRY_RUN, finished=NOW - dt.timedelta(days=300), dry_run=True)

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 0
    assert import_uploads_purge(older_than=dt.timedelta(0), now=NOW) == 0

    assert _exists(stored)
    assert set(ImportRun.objects.filter(pk__in=[waiting.pk, dry.pk]).values_list("stored_file", flat=True)) == {stored}


def test_a_file_shared_with_a_recent_run_is_kept_until_that_one_is_old_too(intake_env):
    stored = _stored()
    dry = _run(stored, status=ImportStatus.DRY_RUN, finished=OLD - dt.timedelta(days=5), dry_run=True)
    real = _run(stored, status=ImportStatus.SUCCEEDED, finished=RECENT)

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 0
    assert _exists(stored)

    later = NOW + dt.timedelta(days=2)
    assert import_uploads_purge(older_than=KEEP, now=later) == 1
    assert not _exists(stored)
    assert list(ImportRun.objects.filter(pk__in=[dry.pk, real.pk]).values_list("stored_file", flat=True)) == ["", ""]


def test_a_finished_run_without_a_finish_time_counts_from_its_start(intake_env):
    run = _run(_stored(), status=ImportStatus.FAILED, finished=None, started=OLD)

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 1
    run.refresh_from_db()
    assert run.stored_file == ""


def test_orphan_files_are_deleted_only_when_old_and_unnamed(intake_env):
    old_orphan = _stored(modified=OLD)
    recent_orphan = _stored(modified=RECENT)
    named = _stored(modified=OLD)
    _run(named, status=ImportStatus.PENDING, finished=None)
    old_empty = _media() / "imports" / uuid.uuid4().hex
    fresh_empty = _media() / "imports" / uuid.uuid4().hex  # an upload being saved right now
    for folder, moment in ((old_empty, OLD), (fresh_empty, NOW)):
        folder.mkdir()
        os.utime(folder, (moment.timestamp(), moment.timestamp()))
    elsewhere = _media() / "reports" / "q1.pdf"  # not the import folder: not ours
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"%PDF")
    os.utime(elsewhere, (OLD.timestamp(), OLD.timestamp()))

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 1

    assert not _exists(old_orphan) and not (_media() / old_orphan).parent.exists()
    assert _exists(recent_orphan)
    assert _exists(named)
    assert not old_empty.exists()
    assert fresh_empty.is_dir()
    assert elsewhere.is_file()
    assert (_media() / "imports").is_dir()


def test_a_run_naming_a_file_outside_the_import_folder_is_left_alone(intake_env):
    outside = _media() / "other" / "tickets.csv"
    outside.parent.mkdir(parents=True)
    outside.write_text("x", encoding="utf-8")
    run = _run("other/tickets.csv", finished=OLD)
    escape = _run("imports/../other/tickets.csv", finished=OLD)

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 0

    assert outside.is_file()
    run.refresh_from_db()
    escape.refresh_from_db()
    assert (run.stored_file, escape.stored_file) == ("other/tickets.csv", "imports/../other/tickets.csv")


def test_the_purge_is_idempotent(intake_env):
    finished = _run(_stored(), finished=OLD)
    orphan = _stored(modified=OLD)
    kept = _run(_stored(), finished=RECENT)

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 2
    before = list(ImportRun.objects.order_by("pk").values_list("pk", "stored_file"))
    files = sorted(p for p in _media().rglob("*"))

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 0
    assert list(ImportRun.objects.order_by("pk").values_list("pk", "stored_file")) == before
    assert sorted(p for p in _media().rglob("*")) == files
    assert not _exists(orphan)
    assert ImportRun.objects.get(pk=finished.pk).stored_file == ""
    assert _exists(kept.stored_file)


def test_a_file_already_gone_is_cleared_and_not_counted(intake_env):
    stored = _stored()
    run = _run(stored, finished=OLD)
    (_media() / stored).unlink()

    assert import_uploads_purge(older_than=KEEP, now=NOW) == 0
    run.refresh_from_db()
    assert run.stored_file == ""


def test_without_an_upload_folder_nothing_happens(intake_env):
    assert not (_media() / "imports").exists()
    assert import_uploads_purge(older_than=KEEP, now=NOW) == 0


def test_a_purged_dry_run_can_no_longer_be_imported_for_real(intake_env):
    dry = _run(_stored(), status=ImportStatus.DRY_RUN, finished=OLD, dry_run=True)

    import_uploads_purge(older_than=KEEP, now=NOW)

    dry.refresh_from_db()
    with pytest.raises(ApplicationError, match="no longer available"):
        import_run_import_for_real(run=dry, user=None)


def test_the_task_keeps_uploads_for_the_configured_days(intake_env):
    intake_env.IMPORT_UPLOAD_RETENTION_DAYS = 5
    six = _run(_stored(), finished=timezone.now() - dt.timedelta(days=6))
    four = _run(_stored(), finished=timezone.now() - dt.timedelta(days=4))

    import_uploads_purge_task.delay()

    six.refresh_from_db()
    four.refresh_from_db()
    assert six.stored_file == ""
    assert four.stored_file != "" and _exists(four.stored_file)


def test_the_task_keeps_uploads_30_days_by_default(intake_env):
    if hasattr(intake_env, "IMPORT_UPLOAD_RETENTION_DAYS"):
        del intake_env.IMPORT_UPLOAD_RETENTION_DAYS
    old = _run(_stored(), finished=timezone.now() - dt.timedelta(days=31))
    young = _run(_stored(), finished=timezone.now() - dt.timedelta(days=29))

    assert import_uploads_purge_task() == 1

    assert ImportRun.objects.get(pk=old.pk).stored_file == ""
    assert _exists(ImportRun.objects.get(pk=young.pk).stored_file)


def test_the_command_runs_the_same_purge(intake_env):
    old = _run(_stored(), finished=timezone.now() - dt.timedelta(days=3))
    out = StringIO()

    call_command("purge_import_uploads", "--days", "7", stdout=out)
    assert ImportRun.objects.get(pk=old.pk).stored_file != ""
    call_command("purge_import_uploads", "--days", "2", stdout=out)
    assert ImportRun.objects.get(pk=old.pk).stored_file == ""
    assert out.getvalue().splitlines()[-1].startswith("1 stored upload(s) deleted")
