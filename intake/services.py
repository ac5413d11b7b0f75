"""Imports of the standard template (DATA_CONTRACT.md). Three doors share these
services: the `import_data` command, the upload page (through a Celery task) and the
REST bulk endpoints. Every import is recorded as an ImportRun with its rejected rows."""

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from catalog.models import User

from .models import ImportMode, ImportRun, ImportSource, MappingProfile


def import_file(
    *,
    entity: str,
    path: str | Path,
    mode: str = ImportMode.STRICT,
    profile: MappingProfile | None = None,
    user: User | None = None,
    dry_run: bool = False,
    source: str = ImportSource.COMMAND,
    run: ImportRun | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportRun:
    """Import one CSV/XLSX file of one entity and return its finished ImportRun.

    strict: one bad row rejects the file and nothing is written (status rejected);
    lenient: good rows are written, bad rows reported (status succeeded). dry_run
    validates everything and writes no domain row (status dry_run). A file-level problem
    (encoding, missing required columns, empty file, unreadable XLSX) is an ImportRowError
    with row 0. `run` lets a caller (the upload page's task) create the run first;
    `progress(rows_read)` is called after every batch, outside the data transaction's
    visibility, so a caller can publish it (e.g. to the cache) for a progress bar."""
    raise NotImplementedError


def import_records(
    *,
    entity: str,
    records: Iterable[Mapping[str, object]],
    mode: str = ImportMode.STRICT,
    user: User | None = None,
    dry_run: bool = False,
    source: str = ImportSource.API,
) -> ImportRun:
    """Import JSON-like records with the template's columns (the REST bulk endpoints);
    the same validation, upsert and history as import_file."""
    raise NotImplementedError


def import_directory(
    *,
    directory: str | Path,
    mode: str = ImportMode.STRICT,
    profile: MappingProfile | None = None,
    user: User | None = None,
    dry_run: bool = False,
) -> list[ImportRun]:
    """Import every ENTITY.csv / ENTITY.xlsx present in the directory, in contract order."""
    raise NotImplementedError


def import_run_summary(run: ImportRun) -> dict:
    """The `import_data --json` object of INTERFACES.md for one run."""
    return {
        "entity": run.entity,
        "file": run.file_name,
        "mode": run.mode,
        "rows": run.rows,
        "created": run.created,
        "updated": run.updated,
        "rejected": run.rejected,
        "errors": [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in run.errors.all()],
    }
