"""Reads of the import history, its rejected rows, the progress of running imports and
the mapping profiles. Import history is not scoped per user: every role that may read
it (intake.view_importrun) reads all of it."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet

from .models import ImportMode, ImportRowError, ImportRun, ImportStatus, MappingProfile

# Written by intake.tasks.import_file_task while an import runs (rows read so far), and
# when it is queued (the rows the preview expects); both processes share the cache.
PROGRESS_KEY = "intake:progress:{run_id}"
TOTAL_KEY = "intake:total:{run_id}"
PROGRESS_TIMEOUT = 3600
UPLOAD_DIR = "imports"
UPLOAD_SUFFIXES = (".csv", ".xlsx")
FINISHED = frozenset({ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.DRY_RUN, ImportStatus.FAILED})
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class StoredUpload:
    token: str
    name: str  # the safe file name
    relative_path: str  # under MEDIA_ROOT, e.g. imports/<token>/customers.csv
    path: Path
    size: int


def import_run_list(*, filters: Mapping[str, str] | None = None) -> QuerySet[ImportRun]:
    """Newest first; `filters` may hold entity, status and source (blank = any)."""
    runs = ImportRun.objects.select_related("user", "profile").order_by("-started_at", "-id")
    for name in ("entity", "status", "source"):
        if value := (filters or {}).get(name):
            runs = runs.filter(**{name: value})
    return runs


def import_run_get(*, run_id) -> ImportRun | None:
    try:
        return import_run_list().get(pk=run_id)
    except (ImportRun.DoesNotExist, ValueError, TypeError):
        return None


def import_run_errors(*, run: ImportRun) -> QuerySet[ImportRowError]:
    return run.errors.order_by("row", "id")


def import_run_is_finished(run: ImportRun) -> bool:
    return run.status in FINISHED


def import_run_passed_dry_run(run: ImportRun) -> bool:
    """A dry run whose file can be imported as it is: the file itself was readable and
    complete (no row-0 error), and no row was rejected (or lenient mode will skip them)."""
    if not run.dry_run or run.status != ImportStatus.DRY_RUN:
        return False
    if run.rejected and run.mode != ImportMode.LENIENT:
        return False
    return not run.errors.filter(row=0).exists()


def import_progress(*, run: ImportRun) -> dict:
    """What the progress bar shows: status, rows read so far (from the cache while the
    import runs), the expected rows when the preview could tell, and a percentage."""
    finished = import_run_is_finished(run)
    rows_read = run.rows if finished else cache.get(PROGRESS_KEY.format(run_id=run.pk)) or run.processed
    total = run.rows if finished else cache.get(TOTAL_KEY.format(run_id=run.pk))
    if finished:
        percent = 100
    elif total:
        percent = min(99, int(100 * rows_read / total))  # an estimate: never "done" before it is
    else:
        percent = None
    return {"status": run.status, "finished": finished, "rows_read": rows_read, "total": total, "percent": percent}


def import_upload_get(*, token: str) -> StoredUpload | None:
    """The file stored by services.import_upload_store under this token, if any."""
    if not _TOKEN.match(str(token)):
        return None
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_DIR / token
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in UPLOAD_SUFFIXES:
            return StoredUpload(
                token=token,
                name=path.name,
                relative_path=f"{UPLOAD_DIR}/{token}/{path.name}",
                path=path,
                size=path.stat().st_size,
            )
    return None


def import_stored_file_path(relative_path: str) -> Path | None:
    """Where a run's stored upload is on disk, if it is still there."""
    if not relative_path:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def mapping_profile_list(*, entity: str | None = None) -> QuerySet[MappingProfile]:
    """All profiles; for an entity, those made for it and those for every entity."""
    profiles = MappingProfile.objects.order_by("name")
    if entity:
        profiles = profiles.filter(Q(entity=entity) | Q(entity=""))
    return profiles


def mapping_profile_get(*, profile_id) -> MappingProfile | None:
    try:
        return MappingProfile.objects.get(pk=profile_id)
    except (MappingProfile.DoesNotExist, ValueError, TypeError):
        return None
