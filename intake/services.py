"""Imports of the standard template (DATA_CONTRACT.md). Three doors share these
services: the `import_data` command, the upload page (through a Celery task) and the
REST bulk endpoints. Every import is recorded as an ImportRun with its rejected rows.

How one file goes in:

- The ImportRun (history) is written outside the data transaction: it is created (status
  running) before, and finished (counts, errors, warnings) after, so a rejected, failed or
  killed import still leaves its history row. The domain writes of one file happen in ONE
  transaction: a crash mid-file writes nothing. A killed import leaves its run "running";
  `import_runs_reap` (called at the start of every import) marks runs without progress
  for 10 minutes as failed ("interrupted").
- Rows are streamed in batches (BATCH_SIZE). Per batch: every cell is parsed and
  validated in Python (intake/contract.py), each referenced entity is resolved with one
  query (`key IN (...)`), the existing records of the batch's keys are loaded with one
  query, cross-field rules run on the merged record (existing values with the file's over
  them), then new rows are bulk-inserted and changed rows bulk-updated. A row whose values
  all equal the stored ones is "unchanged" and is not written at all, so importing a file
  twice leaves the database exactly as after the first import.
- Writing runs one batch behind validation (_Engine.process_batch); on PostgreSQL a
  batch's rows go in with binary COPY from a second thread (intake/bulk.py) while the next
  batch is read and checked, each batch in a savepoint with its foreign keys checked
  before the next one lands.
- strict: after the first bad row nothing more is written and the transaction is rolled
  back at the end (every error is still reported); lenient: good rows are written;
  dry run: everything is done, then rolled back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import os
import time
import uuid
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter, methodcaller
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, connection, reset_queries, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError
from catalog.models import User, region_key
from catalog.services import region_resolve
from quality.models import Failure, FailureMode
from quality.services import failure_repeats_mark
from tickets.models import OPEN_STATUSES, EventKind, SlaDueSource, Status, Team, TicketEvent

from . import bulk
from .columns import all_columns, entity_columns
from .contract import (
    ENTITIES,
    LOOKUPS,
    REF,
    REFS,
    UNCLASSIFIED,
    CellError,
    Entity,
    Lookup,
    cell_text,
    header_key,
    make_parser,
    ticket_status,
)
from .models import (
    ENTITY_ORDER,
    ImportMode,
    ImportRowError,
    ImportRun,
    ImportSource,
    ImportStatus,
    MappingProfile,
    RowErrorCode,
)
from .readers import FileError, open_table
from .selectors import (
    FINISHED,
    PROGRESS_TIMEOUT,
    TOTAL_KEY,
    UPLOAD_DIR,
    UPLOAD_SUFFIXES,
    StoredUpload,
    import_run_passed_dry_run,
    import_stored_file_path,
    import_upload_get,
)

log = logging.getLogger(__name__)

# Rows validated and written together. Bigger batches mean fewer queries (10,000 against
# 5,000: 8 % faster on PostgreSQL, a few MB more memory); the IN lists (two for a key of
# two columns) stay below SQLite's 32,766 bound parameters.
BATCH_SIZE = 10_000
# A run still "running" without progress for this long was killed (import_runs_reap).
STALE_AFTER = timedelta(minutes=10)
# Problems kept per run (all are counted): a file of a million bad rows would otherwise
# hold them all in memory until the run is finished.
MAX_STORED_ERRORS = 100_000
# Reference keys remembered per referenced entity for the run (memory stays bounded).
REF_CACHE = 200_000
# Batches between two garbage collections during an import (_gc_paused): a pass over the
# live batches costs some 40 ms; the garbage it finds (reference cycles of database
# cursors) is a few kB a batch.
GC_EVERY = 20
MAX_REASON = ImportRowError._meta.get_field("reason").max_length


# --- public services -----------------------------------------------------------------


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
    batch_size: int = BATCH_SIZE,
) -> ImportRun:
    """Import one CSV/XLSX file of one entity and return its finished ImportRun.

    strict: one bad row rejects the file and nothing is written (status rejected);
    lenient: good rows are written, bad rows reported (status succeeded). dry_run
    validates everything and writes no domain row (status dry_run). A file-level problem
    (encoding, missing required columns, empty file, unreadable XLSX) is an ImportRowError
    with row 0. `run` lets a caller (the upload page's task) create the run first;
    `progress(rows_read)` is called after every batch, outside the data transaction's
    visibility, so a caller can publish it (e.g. to the cache) for a progress bar."""
    spec = _entity(entity)
    _check_profile(profile, entity)
    path = Path(path)
    run = _run_start(
        run=run,
        entity=entity,
        file_name=path.name,
        mode=mode,
        dry_run=dry_run,
        source=source,
        profile=profile,
        user=user,
    )
    import_runs_reap()  # after this run's first heartbeat: a run queued long ago is not taken for dead

    def feed(engine: _Engine) -> None:
        with open_table(path, entity=entity) as table:
            engine.outcome.warnings.extend(table.warnings)
            engine.start(table.header, ragged=table.ragged)
            for cells in table.rows:
                engine.add_cells(cells)

    return _run_execute(
        run,
        spec=spec,
        mode=mode,
        profile=profile,
        rollback=dry_run,
        feed=feed,
        progress=progress,
        batch_size=batch_size,
    )


def import_records(
    *,
    entity: str,
    records: Iterable[Mapping[str, object]],
    mode: str = ImportMode.STRICT,
    user: User | None = None,
    dry_run: bool = False,
    source: str = ImportSource.API,
    profile: MappingProfile | None = None,
    file_name: str = "",
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportRun:
    """Import JSON-like records with the template's columns (the REST bulk endpoints);
    the same validation, upsert and history as import_file. Row numbers are the 1-based
    positions in `records`; a record's missing keys are columns not given (a required one
    is an error of that row); values may be strings or JSON numbers, booleans and null."""
    spec = _entity(entity)
    _check_profile(profile, entity)
    run = _run_start(
        run=None,
        entity=entity,
        file_name=file_name,
        mode=mode,
        dry_run=dry_run,
        source=source,
        profile=profile,
        user=user,
    )
    import_runs_reap()

    def feed(engine: _Engine) -> None:
        for record in records:
            engine.add_record(record)

    return _run_execute(
        run,
        spec=spec,
        mode=mode,
        profile=profile,
        rollback=dry_run,
        feed=feed,
        progress=progress,
        batch_size=batch_size,
    )


def import_directory(
    *,
    directory: str | Path,
    mode: str = ImportMode.STRICT,
    profile: MappingProfile | None = None,
    user: User | None = None,
    dry_run: bool = False,
    source: str = ImportSource.COMMAND,
    progress: Callable[[int], None] | None = None,
) -> list[ImportRun]:
    """Import every ENTITY.csv / ENTITY.xlsx present in the directory, in contract order.

    Each file commits before the next one starts, so later files can refer to records of
    earlier ones. A dry run keeps that promise too: all files run inside one transaction
    that is rolled back at the end. The profile applies to the files of its entity (or to
    all of them when its entity is blank)."""
    files = directory_files(directory=directory)
    if not dry_run:
        return [
            import_file(
                entity=entity,
                path=path,
                mode=mode,
                profile=_profile_for(profile, entity),
                user=user,
                source=source,
                progress=progress,
            )
            for entity, path in files
        ]

    import_runs_reap()
    runs = [
        _run_start(
            run=None,
            entity=entity,
            file_name=path.name,
            mode=mode,
            dry_run=True,
            source=source,
            profile=_profile_for(profile, entity),
            user=user,
        )
        for entity, path in files
    ]
    outcomes: list[_Outcome] = []

    def everything() -> list[_Outcome]:
        try:
            with transaction.atomic():
                for (entity, path), run in zip(files, runs, strict=True):

                    def feed(engine: _Engine, path=path, entity=entity) -> None:
                        with open_table(path, entity=entity) as table:
                            engine.outcome.warnings.extend(table.warnings)
                            engine.start(table.header, ragged=table.ragged)
                            for cells in table.rows:
                                engine.add_cells(cells)

                    outcomes.append(
                        _import(
                            run=run,
                            spec=ENTITIES[entity],
                            mode=mode,
                            profile=_profile_for(profile, entity),
                            rollback=False,
                            feed=feed,
                            progress=progress,
                            batch_size=BATCH_SIZE,
                        )
                    )
                raise _Rollback
        except _Rollback:
            pass
        return outcomes

    try:
        everything()
    except Exception as exc:
        for run in runs[len(outcomes) :]:
            _run_fail(run, exc)
        for run, outcome in zip(runs, outcomes, strict=False):
            _run_finish(run, outcome)
        raise
    return [_run_finish(run, outcome) for run, outcome in zip(runs, outcomes, strict=True)]


def directory_files(*, directory: str | Path) -> list[tuple[str, Path]]:
    """(entity, path) of the ENTITY.csv / ENTITY.xlsx files in a directory (names matched
    case-insensitively), in contract order; CSV before XLSX for the same entity."""
    directory = Path(directory)
    present = {(p.stem.casefold(), p.suffix.casefold()): p for p in sorted(directory.iterdir()) if p.is_file()}
    return [
        (entity, present[(entity, suffix)])
        for entity in ENTITY_ORDER
        for suffix in (".csv", ".xlsx")
        if (entity, suffix) in present
    ]


def import_runs_reap(*, stale_after: timedelta = STALE_AFTER, now: datetime | None = None) -> int:
    """Mark runs left "running" by a killed process as failed ("interrupted"): runs that
    started more than `stale_after` ago and have published no progress since (the
    heartbeat in the cache, written after every batch). Returns how many were marked.
    Their data transaction died with the process, so they wrote nothing."""
    now = now or timezone.now()
    cutoff = now - stale_after
    reaped = 0
    for run_id, started_at in ImportRun.objects.filter(status=ImportStatus.RUNNING, started_at__lte=cutoff).values_list(
        "id", "started_at"
    ):
        beat = _heartbeat_get(run_id, started_at)
        if beat is not None and beat > cutoff.timestamp():
            continue
        with translation.override(settings.LANGUAGE_CODE):  # no user here: the site's language
            message = _("interrupted")
        reaped += ImportRun.objects.filter(pk=run_id, status=ImportStatus.RUNNING).update(
            status=ImportStatus.FAILED, message=message, finished_at=now
        )
    return reaped


def import_run_summary(run: ImportRun) -> dict:
    """The `import_data --json` object of INTERFACES.md for one run, plus three
    extensions: "unchanged" (rows whose values were already stored: neither created nor
    updated nor rejected), "status" and "warnings"."""
    return {
        "entity": run.entity,
        "file": run.file_name,
        "mode": str(run.mode),
        "rows": run.rows,
        "created": run.created,
        "updated": run.updated,
        "rejected": run.rejected,
        "errors": [{"row": e.row, "column": e.column, "value": e.value, "reason": e.reason} for e in run.errors.all()],
        "unchanged": import_run_unchanged(run),
        "status": str(run.status),
        "warnings": list(run.warnings or []),
    }


def import_run_unchanged(run: ImportRun) -> int:
    """Rows already stored exactly as given (neither created, updated nor rejected). A
    rejected file wrote nothing and compared nothing: none of its rows is "unchanged"."""
    if run.status == ImportStatus.REJECTED:
        return 0
    return max(run.rows - run.created - run.updated - run.rejected, 0)


# --- runs (history) ------------------------------------------------------------------


class _Rollback(Exception):
    """Raised inside a data transaction to undo it (strict rejection, dry run)."""


@dataclass
class _Outcome:
    rows: int = 0
    last_row: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[tuple[int, str, str, str, str]] = field(default_factory=list)  # row, column, value, reason, code
    errors_dropped: int = 0
    warnings: list[str] = field(default_factory=list)
    # Warnings about records the import created (teams, failure modes, ...): only true
    # when the data was committed (or, in a dry run, would have been).
    created_notes: list[str] = field(default_factory=list)
    file_error: str = ""
    strict: bool = True
    dry_run: bool = False
    committed: bool = False

    def error(self, row: int, column: str, value: object, reason: str, code: str) -> None:
        if len(self.errors) >= MAX_STORED_ERRORS:
            self.errors_dropped += 1
            return
        self.errors.append(
            (row, _storable(column)[:120], _storable(cell_text(value)), _storable(reason)[:MAX_REASON], code)
        )

    @property
    def written(self) -> bool:
        """Whether the rows counted as created/updated are (or, dry, would be) stored."""
        return not self.file_error and not (self.strict and self.rejected)


def _entity(entity: str) -> Entity:
    try:
        return ENTITIES[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; one of: {', '.join(ENTITY_ORDER)}") from None


def _check_profile(profile: MappingProfile | None, entity: str) -> None:
    if profile is not None and profile.entity and profile.entity != entity:
        raise ValueError(f"mapping profile {profile.name!r} is for {profile.entity}, not {entity}")


def _profile_for(profile: MappingProfile | None, entity: str) -> MappingProfile | None:
    return profile if profile is not None and profile.entity in ("", entity) else None


def _run_start(
    *,
    run: ImportRun | None,
    entity: str,
    file_name: str,
    mode: str,
    dry_run: bool,
    source: str,
    profile: MappingProfile | None,
    user: User | None,
) -> ImportRun:
    if mode not in ImportMode.values:
        raise ValueError(f"unknown mode {mode!r}; one of: {', '.join(ImportMode.values)}")
    run = run or ImportRun()
    run.entity = entity
    run.file_name = _storable(run.file_name or file_name)[:255]
    run.mode = mode
    run.dry_run = dry_run
    run.source = source
    run.profile = profile
    run.user = user if user is not None else run.user
    run.status = ImportStatus.RUNNING
    run.save()
    _heartbeat(run.pk, run.started_at)
    return run


def _run_execute(run: ImportRun, **import_kwargs) -> ImportRun:
    """Import into `run` and finish its history row; an unexpected exception marks the
    run failed before it propagates."""
    try:
        outcome = _import(run=run, **import_kwargs)
    except Exception as exc:
        _run_fail(run, exc)
        raise
    return _run_finish(run, outcome)


def _run_fail(run: ImportRun, exc: BaseException) -> None:
    run.status = ImportStatus.FAILED
    run.message = (_("failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"})[:2000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "finished_at"])


def _run_finish(run: ImportRun, outcome: _Outcome) -> ImportRun:
    written = outcome.written
    run.rows = outcome.rows
    run.created = outcome.created if written else 0
    run.updated = outcome.updated if written else 0
    run.rejected = outcome.rejected
    run.processed = outcome.rows
    run.checkpoint_row = outcome.last_row if outcome.committed and not outcome.dry_run else 0
    warnings = list(outcome.warnings)
    if written:
        warnings.extend(outcome.created_notes)
    if outcome.errors_dropped:
        warnings.append(
            _("%(count)s more problems were found but not stored (only the first %(limit)s are listed)")
            % {"count": outcome.errors_dropped, "limit": MAX_STORED_ERRORS}
        )
    run.warnings = [_storable(w) for w in warnings]
    if outcome.dry_run:
        run.status = ImportStatus.DRY_RUN
    elif written:
        run.status = ImportStatus.SUCCEEDED
    else:
        run.status = ImportStatus.REJECTED
    unchanged = import_run_unchanged(run)
    summary = _(
        "%(rows)s rows: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, %(rejected)s rejected"
    ) % {
        "rows": run.rows,
        "created": run.created,
        "updated": run.updated,
        "unchanged": unchanged,
        "rejected": run.rejected,
    }
    if outcome.file_error:
        summary = _("file rejected: %(reason)s") % {"reason": outcome.file_error}
    elif not written:
        summary = _("rejected, nothing written: %(summary)s") % {"summary": summary}
    elif outcome.dry_run:
        summary = _("dry run, nothing written: %(summary)s") % {"summary": summary}
    run.message = _storable(summary)
    run.finished_at = timezone.now()
    run.save()
    run.errors.all().delete()
    ImportRowError.objects.bulk_create(
        (
            ImportRowError(run=run, row=row, column=column, value=value, reason=reason, code=code)
            for row, column, value, reason, code in outcome.errors
        ),
        batch_size=2000,
    )
    return run


def _storable(text: str) -> str:
    """PostgreSQL stores no NUL character; a cell holding one is still reported."""
    return text.replace("\x00", "\\x00")


def _heartbeat_key(run_id: int, started_at: datetime) -> str:
    # The cache is shared by every database of the machine (test databases too), and a
    # recreated database reuses ids: the key names the database and the run's start.
    return f"intake:import-heartbeat:{connection.settings_dict.get('NAME')}:{run_id}:{started_at.timestamp()}"


def _heartbeat(run_id: int, started_at: datetime) -> None:
    try:
        cache.set(_heartbeat_key(run_id, started_at), time.time(), timeout=24 * 3600)
    except Exception:  # a cache outage must not stop an import
        log.warning("import run %s: cannot publish the heartbeat", run_id, exc_info=True)


def _heartbeat_get(run_id: int, started_at: datetime) -> float | None:
    try:
        return cache.get(_heartbeat_key(run_id, started_at))
    except Exception:
        log.warning("import run %s: cannot read the heartbeat", run_id, exc_info=True)
        return None


# --- the engine ----------------------------------------------------------------------


def _import(
    *,
    run: ImportRun,
    spec: Entity,
    mode: str,
    profile: MappingProfile | None,
    rollback: bool,
    feed: Callable[[_Engine], None],
    progress: Callable[[int], None] | None,
    batch_size: int,
) -> _Outcome:
    """One file (or record stream) in one transaction; rolled back for a file error, a
    strict rejection or when `rollback` (dry run)."""
    outcome = _Outcome(strict=mode == ImportMode.STRICT, dry_run=run.dry_run)
    try:
        with _gc_paused(), transaction.atomic():
            try:
                engine = _Engine(
                    spec=spec, outcome=outcome, profile=profile, run=run, progress=progress, batch_size=batch_size
                )
                try:
                    feed(engine)
                    engine.emit()
                    engine.finish()
                finally:
                    engine.close()  # before any rollback: no write may be left in flight
                if engine.failure_units and not rollback:
                    _failure_repeats_mark(engine.failure_units)
            except FileError as exc:
                outcome.file_error = exc.reason
                outcome.error(0, exc.column, exc.value, exc.reason, RowErrorCode.FILE)
                raise _Rollback
            if rollback or not outcome.written:
                raise _Rollback
        outcome.committed = True
    except _Rollback:
        pass
    return outcome


def _failure_repeats_mark(unit_ids: set[int]) -> None:
    """Repeat flags of the failures of the units an import wrote (quality's rule, in
    the database); in chunks, to stay under the databases' parameter limits."""
    units = sorted(unit_ids)
    for start in range(0, len(units), 500):
        chunk = units[start : start + 500]
        failure_repeats_mark(failure_ids=Failure.objects.filter(unit_id__in=chunk).values("pk"))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Automatic garbage collection off while a file is imported. A million-row file
    allocates tens of millions of small containers; the collector's passes over them (and
    its full passes over every object of the process) took a third of the engine's
    Python time. Reference counting still frees the rows; the engine collects the young
    generation every GC_EVERY batches (_land), so cyclic garbage cannot pile up."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _KeyIndex:
    """The natural keys seen so far in one file, with the row where each was first seen:
    an open-addressing table of 64-bit hashes and row numbers (12 bytes a slot, 2 to 4
    slots a key: 25-50 MB for a million-row file, where a dict would take ~100 MB). Two keys
    with the same 64-bit hash would be taken for duplicates: about one chance in 10^8 for
    a file of a million rows."""

    def __init__(self) -> None:
        self._size = 1 << 12
        self._hashes = array("q", [0]) * self._size
        self._rows = array("l", [0]) * self._size
        self._count = 0

    def first_seen(self, key: object, row: int) -> int | None:
        """The row where `key` was first seen, or None (and `key` is recorded at `row`)."""
        h = hash(key) or 1
        mask = self._size - 1
        i = h & mask
        hashes = self._hashes
        while True:
            slot = hashes[i]
            if slot == 0:
                hashes[i] = h
                self._rows[i] = row
                self._count += 1
                if self._count * 2 > self._size:
                    self._grow()
                return None
            if slot == h:
                return self._rows[i]
            i = (i + 1) & mask

    def _grow(self) -> None:
        old_hashes, old_rows = self._hashes, self._rows
        self._size *= 2
        self._hashes = array("q", [0]) * self._size
        self._rows = array("l", [0]) * self._size
        mask = self._size - 1
        hashes, rows = self._hashes, self._rows
        for h, row in zip(old_hashes, old_rows, strict=True):
            if h:
                i = h & mask
                while hashes[i]:
                    i = (i + 1) & mask
                hashes[i] = h
                rows[i] = row


class _Row:
    """One data row on its way through a batch."""

    __slots__ = (
        "number",
        "_raw",
        "_cells",
        "_plan",
        "values",
        "blank",
        "errors",
        "key",
        "key_ids",
        "merged",
        "existing",
        "pending",
    )

    def __init__(self, number: int, raw: dict | None = None, *, cells: list | None = None, plan=()):
        self.number = number
        self._raw = raw
        self._cells, self._plan = cells, plan  # a file's row: raw is made from them when asked for
        self.values: dict = {}  # column -> parsed value (None: empty cell)
        self.blank: list[str] = []  # the columns whose value is None
        self.errors: list[tuple[str, object, str, str]] = []  # (column, value, reason, code)
        self.key: tuple = ()
        self.key_ids: tuple = ()  # the key with references as ids
        self.merged: dict = {}
        self.existing: dict | None = None
        self.pending: list[tuple[str, str]] = []  # (column, key) of records still to create

    @property
    def raw(self) -> dict:
        """Column -> cell as given (the columns present in the file)."""
        if self._raw is None:
            cells = self._cells
            self._raw = {column: cells[index] for index, column in self._plan} if cells is not None else {}
        return self._raw


@dataclass
class _Batch:
    """One batch on its way: validated, then written (possibly in the background), then
    counted."""

    rows: list[_Row]
    rows_read: int  # the counts of the reader when the batch was handed over
    last_row: int
    creates: list[_Row] = field(default_factory=list)
    updates: list[tuple[_Row, list[str]]] = field(default_factory=list)
    write: Callable[[object], None] | None = None  # the background writer's part (_background_write)
    written: bool = False  # the counts of created/updated rows are done


# A new ticket's timeline starts with its creation (tickets.services does the same); an
# update writes no event. The event's fields besides ticket_id and at.
_CREATED_EVENT = {
    "actor_id": None,
    "kind": EventKind.CREATED.value,
    "from_value": "",
    "to_value": Status.NEW.value,
    "comment": "",
    "public": True,
}


class _Engine:
    def __init__(
        self,
        *,
        spec: Entity,
        outcome: _Outcome,
        profile: MappingProfile | None,
        run: ImportRun,
        progress: Callable[[int], None] | None,
        batch_size: int,
    ):
        self.spec = spec
        self.outcome = outcome
        self.run_id, self.run_started = run.pk, run.started_at
        self.progress = progress
        self.batch_size = batch_size
        self.model = spec.model
        tz = timezone.get_default_timezone()
        if profile is not None and profile.time_zone:
            try:
                tz = ZoneInfo(profile.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise FileError(
                    _("the mapping profile's time zone “%(tz)s” is unknown") % {"tz": profile.time_zone}
                ) from None
        formats = tuple(profile.datetime_formats or ()) if profile is not None else ()
        value_maps = {header_key(k): v for k, v in ((profile.value_map if profile else None) or {}).items()}
        self.column_map = {
            header_key(k): header_key(v) for k, v in ((profile.column_map if profile else None) or {}).items()
        }
        self.parsers = {
            c.name: make_parser(c, tz=tz, datetime_formats=formats, value_map=value_maps.get(c.name))
            for c in spec.columns
        }
        # The stored value of an empty cell: the contract's default, else blank text or null.
        self.empty = {}
        self.create_defaults = {}
        for c in spec.columns:
            if c.type == REFS:
                self.empty[c.name] = self.create_defaults[c.name] = frozenset()
                continue
            model_field = self.model._meta.get_field(c.name)
            blank = (
                "" if not model_field.null and model_field.get_internal_type() in ("CharField", "TextField") else None
            )
            self.empty[c.name] = c.default if c.default is not None else blank
            self.create_defaults[c.name] = (
                c.default
                if c.default is not None
                else (model_field.get_default() if model_field.has_default() else blank)
            )
        self.required = frozenset(c.name for c in spec.columns if c.required or c.needed)
        self.needed = tuple(c.name for c in spec.columns if c.needed)
        self.refs = tuple(c for c in spec.columns if c.type in (REF, REFS))
        self.plain = tuple(c for c in spec.columns if c.type != REFS)
        # A merged record -> the tuple of its plain columns' values (at C speed).
        plain_names = [c.name for c in self.plain]
        self.plain_values: Callable[[dict], tuple] = (
            itemgetter(*plain_names) if len(plain_names) > 1 else lambda merged: (merged[plain_names[0]],)
        )
        self.m2m = tuple(c for c in spec.columns if c.type == REFS)
        self.plain_key = all(spec.by_name[c].type not in (REF, REFS) for c in spec.key)
        self.is_tickets = spec.name == "tickets"
        # Units whose failures this run wrote: their repeat flags are set at the end.
        self.failure_units: set[int] | None = set() if spec.name == "failures" else None
        # New tickets get their SLA (policy, due times unless given, first checkpoint).
        self.sla = _TicketSla() if self.is_tickets else None
        self.create_attnames = [c.attname for c in self.plain] + (list(_TicketSla.COLUMNS) if self.sla else [])
        self.keys = _KeyIndex()
        self.batch: list[_Row] = []
        self.sink: Callable[[list[_Row], int, int], None] = self.process_batch
        self.number = 0  # rows seen, blank ones included (the row numbers)
        self.rows_read = 0  # data rows
        self.last_row = 0
        self.regions: dict[str, int] = {}  # region spelling key -> region id, for the run
        self.attrs: dict[str, dict[int, dict]] = defaultdict(dict)  # lookup -> id -> attributes
        self.known: dict[str, dict[str, int]] = defaultdict(dict)  # lookup -> key -> id
        self.plan: list[tuple[int, str]] = []  # (cell index, column)
        self.cell_plan: list[tuple[int, str, Callable, bool]] = []  # (cell index, column, parser, required)
        self.width = 0
        self.ragged = False
        self.record_keys: dict[str, str | None] = {}  # record key -> column (None: unknown)
        # Writes run one batch behind validation (process_batch). On PostgreSQL a batch's
        # creates are COPYed from a second thread while the next batch is read and checked.
        self.copy_models = [self.model, TicketEvent] if self.is_tickets else [self.model]
        self.background = (
            bulk.BackgroundWriter() if not self.m2m and all(bulk.copyable(m) for m in self.copy_models) else None
        )
        self.prepared: _Batch | None = None  # validated, not yet written
        self.in_flight: _Batch | None = None  # written (maybe still being written), not yet counted
        self.savepoint: str | None = None  # around the batch in flight
        self.fk_checks: list[str] | None = None  # statements, after each batch's COPYs
        self.rejecting = False  # strict: a problem was found, nothing more is written
        self.landed = 0  # batches
        self.comparisons: dict[tuple[str, ...], tuple] = {}  # _comparison's

    # --- input ---------------------------------------------------------------------

    def start(self, header: list, *, ragged: bool) -> None:
        """Match the header to the contract's columns (case-insensitive, trimmed, renamed
        by the profile): missing required columns are a file error, unknown ones a warning."""
        seen: dict[str, int] = {}
        unknown, unnamed = [], []
        for index, name in enumerate(header):
            key = header_key(name)
            if not key:
                unnamed.append(str(index + 1))
                continue
            key = self.column_map.get(key, key)
            if key not in self.spec.by_name:
                unknown.append(str(name).strip())
                continue
            if key in seen:
                raise FileError(
                    _("column “%(column)s” appears twice (columns %(first)s and %(second)s)")
                    % {"column": key, "first": seen[key] + 1, "second": index + 1},
                    column=key,
                )
            seen[key] = index
            self.plan.append((index, key))
            self.cell_plan.append((index, key, self.parsers[key], key in self.required))
        missing = [c for c in self.spec.required if c not in seen]
        if missing:
            raise FileError(
                _("missing required column(s): %(columns)s") % {"columns": ", ".join(missing)},
                column=", ".join(missing),
            )
        if unknown:
            self.outcome.warnings.append(_("unknown columns ignored: %(columns)s") % {"columns": ", ".join(unknown)})
        if unnamed:
            self.outcome.warnings.append(
                _("columns without a name ignored: %(positions)s") % {"positions": ", ".join(unnamed)}
            )
        self.width = len(header)
        self.ragged = ragged

    def add_cells(self, cells: list) -> None:
        self.number += 1
        width = self.width
        if len(cells) != width:
            if not any(c is not None and c != "" for c in cells):
                return  # a blank line
            if len(cells) > width and any(c is not None and c != "" for c in cells[width:]):
                self._shape_error(cells, _("the row has %(cells)s cells, the header %(header)s"))
                return
            if len(cells) < width and not self.ragged:
                self._shape_error(cells, _("the row has %(cells)s cells, the header %(header)s"))
                return
            cells = [*cells[:width], *([None] * (width - len(cells)))]
        if not any(cells) and not any(c is not None and c != "" for c in cells):
            return  # a row of empty cells (any(): the quick answer for text cells)
        # The per-cell loop of a million-row file: its parts are looked up once (cell_plan).
        row = _Row(self.number, cells=cells, plan=self.plan)
        values, blank = row.values, row.blank
        for index, column, parse, required in self.cell_plan:
            cell = cells[index]
            if cell == "" or cell is None:
                value = None
            else:
                try:
                    value = parse(cell)
                except CellError as exc:
                    self._error(row, column, cell, str(exc), exc.code)
                    continue
            if value is None:
                if required:
                    self._error(row, column, cell, _("required"), RowErrorCode.REQUIRED)
                    continue
                blank.append(column)
            values[column] = value
        self._keyed(row)

    def _shape_error(self, cells: list, reason: str) -> None:
        row = _Row(self.number, {})
        self._error(
            row,
            "",
            ",".join(cell_text(c) for c in cells)[:200],
            reason % {"cells": len(cells), "header": self.width},
            RowErrorCode.SHAPE,
        )
        self._append(row)

    def add_record(self, record: object) -> None:
        self.number += 1
        if not isinstance(record, Mapping):
            row = _Row(self.number, {})
            self._error(row, "", record, _("not an object with the template's columns"), RowErrorCode.SHAPE)
            self._append(row)
            return
        raw: dict = {}
        twice = []
        for name, value in record.items():
            column = self.record_keys.get(name, "")
            if column == "":
                key = header_key(name)
                column = self.column_map.get(key, key)
                if column not in self.spec.by_name:
                    column = None
                    self.outcome.warnings.append(_("unknown column ignored: %(column)s") % {"column": name})
                self.record_keys[name] = column
            if column is None:
                continue
            if column in raw:
                twice.append(column)
            raw[column] = value
        row = _Row(self.number, raw)
        for column in twice:
            self._error(
                row,
                column,
                raw[column],
                _("given twice (the names differ only in case or spaces)"),
                RowErrorCode.DUPLICATE_COLUMN,
            )
        for column in self.spec.required:
            if column not in raw:
                self._error(row, column, "", _("required column missing"), RowErrorCode.REQUIRED)
        self._add(row)

    def _add(self, row: _Row) -> None:
        """Parse a record's cells (add_cells does the same for a file's row)."""
        parsers = self.parsers
        values = row.values
        for column, cell in row.raw.items():
            if cell is None or cell == "":
                value = None
            else:
                try:
                    value = parsers[column](cell)
                except CellError as exc:
                    self._error(row, column, cell, str(exc), exc.code)
                    continue
            if value is None:
                if column in self.required:
                    self._error(row, column, cell, _("required"), RowErrorCode.REQUIRED)
                    continue
                row.blank.append(column)
            values[column] = value
        self._keyed(row)

    def _keyed(self, row: _Row) -> None:
        """Check the row's key against the file's earlier rows and queue the row."""
        values = row.values
        key = tuple(values.get(c) for c in self.spec.key)
        if None not in key and len(key) == len(self.spec.key):
            row.key = key
            first = self.keys.first_seen(key if len(key) > 1 else key[0], row.number)
            if first is not None:
                self._error(
                    row,
                    ", ".join(self.spec.key),
                    ";".join(str(k) for k in key),
                    _("duplicate key; first seen at row %(row)s") % {"row": first},
                    RowErrorCode.DUPLICATE_KEY,
                )
        self._append(row)

    def _append(self, row: _Row) -> None:
        self.rows_read += 1
        self.last_row = row.number
        self.batch.append(row)
        if len(self.batch) >= self.batch_size:
            self.emit()

    def emit(self) -> None:
        """Hand the batch (possibly empty: the end) with the counts so far to `sink` (the
        batch processing; kept apart so reading could move to another thread: tried, no
        gain on two cores shared with PostgreSQL)."""
        rows, self.batch = self.batch, []
        self.sink(rows, self.rows_read, self.last_row)

    def finish(self) -> None:
        """After the last batch: write what is left and count it."""
        self._land()
        self._launch()
        self._land()

    def close(self) -> None:
        """Wait for a write still in flight (an exception is on its way: its outcome no
        longer matters), so that the connection is free for the rollback."""
        if self.background is not None and self.background.busy:
            try:
                self.background.wait()
            except Exception:
                log.debug("import run %s: a background write failed during an abort", self.run_id, exc_info=True)

    @staticmethod
    def _error(row: _Row, column: str, value: object, reason: str, code: str) -> None:
        """A problem of a row; the run counts it when the row's batch is done (the reader
        thread finds some problems, the batch others)."""
        row.errors.append((column, value, reason, code))

    # --- a batch -------------------------------------------------------------------

    def process_batch(self, rows: list[_Row], rows_read: int, last_row: int) -> None:
        """Check batch N and start writing batch N-1, in this order:

            land N-2 (wait for its writes, count it) | read for N (references, stored
            records) | launch N-1 (on PostgreSQL: COPY in the background) | check N

        then the reader parses N+1, so that the database writes N-1 while Python checks N
        and parses N+1. Reading for N before N-1 is written reads the same: keys repeated
        in a file are rejected, and no entity refers to its own kind. Any other use of the
        connection lands the batch in flight first (_connection). Batches are counted
        (rows, problems, progress) as they land, in file order."""
        batch = _Batch(rows, rows_read, last_row)
        wanted = self._wanted(rows)  # Python, while the batch in flight is still written
        self._land()
        if rows:
            self._process(batch, wanted)
        self._launch()  # when _process did not (an empty batch)
        self.prepared = batch

    def _process(self, batch: _Batch, wanted: dict[str, set]) -> None:
        rows = batch.rows
        try:
            self._check(batch, wanted)
            if self.background is not None and batch.creates:
                # Ready before the batch is launched, while the one before is written.
                batch.write = self._background_write(batch.creates)
        finally:
            for row in rows:
                # Checked: writing needs no more than the merged record of a row to write
                # (up to three batches are alive at a time).
                row.values = row.blank = row._cells = row._raw = None
                if row.errors:
                    row.merged = row.existing = None

    def _check(self, batch: _Batch, wanted: dict[str, set]) -> None:
        rows = batch.rows
        # The queries first, while nothing is in flight; then the previous batch goes to
        # the database, and the rest is Python (or lands that batch first: _connection).
        found = self._references(wanted)
        existing = self._existing([r for r in rows if r.key]) if self.plain_key else None
        if self.sla is not None:
            self.sla.prefetch(found, wanted)
        self._launch()
        # References are resolved for every row (a bad row reports all its problems);
        # the rules run only on rows whose every cell was understood.
        self._resolve(rows, found)
        good = [r for r in rows if not r.errors]
        if existing is None:
            existing = self._existing(good)
        for row in good:
            self._merge(row, existing.get(row.key_ids))
        self._load_attrs(good)
        rules = self.spec.rules
        attrs = self._attr
        for row in good:
            for rule in rules:
                problem = rule.check(row.merged, attrs)
                if problem is not None:
                    column, reason = problem
                    self._error(row, column, row.raw.get(column, ""), reason, RowErrorCode.RULE)
        good = [r for r in good if not r.errors]
        if self.outcome.strict and (self.outcome.rejected or self.rejecting or len(good) < len(rows)):
            self.rejecting = True
            return  # the file is rejected: validate the rest, write nothing more
        good = self._create_pending(good)
        for row in good:
            if row.existing is None:
                batch.creates.append(row)
            else:
                columns, values = self._comparison(row)
                if values(row.merged) == values(row.existing):
                    row.merged = row.existing = None  # unchanged: nothing to write
                    continue
                batch.updates.append((row, [c for c in columns if row.merged[c] != row.existing[c]]))
        if self.sla is not None and batch.creates:
            self.sla.fill(batch.creates)

    # the batch in flight

    def _launch(self) -> None:
        """Start writing the prepared batch: on PostgreSQL its updates now and its creates
        as COPYs in the background, inside a savepoint; elsewhere all of it now."""
        batch, self.prepared = self.prepared, None
        if batch is None:
            return
        assert self.in_flight is None, "the batch in flight has not landed"
        try:
            self._write_start(batch)
        finally:
            self.in_flight = batch

    def _write_start(self, batch: _Batch) -> None:
        if not batch.creates and not batch.updates:
            return
        if self.background is None:
            self._write_safely(batch.creates, batch.updates)
            batch.written = True
            return
        write = batch.write or self._background_write(batch.creates)
        savepoint = transaction.savepoint()
        try:
            if batch.updates:
                self._write([], batch.updates)
        except DatabaseError:
            transaction.savepoint_rollback(savepoint)
            self._write_each(batch.creates, batch.updates)
            batch.written = True
            return
        self.background.start(write)
        self.savepoint = savepoint

    def _land(self) -> None:
        """Wait for the batch in flight to be written (should the database refuse it, the
        savepoint is rolled back and its rows written one by one), then count its rows and
        problems and publish the progress."""
        batch, self.in_flight = self.in_flight, None
        if batch is None:
            return
        if not batch.written and (batch.creates or batch.updates):
            try:
                self.background.wait()
            except DatabaseError:
                transaction.savepoint_rollback(self.savepoint)
                self._write_each(batch.creates, batch.updates)
            else:
                transaction.savepoint_commit(self.savepoint)
                self.outcome.created += len(batch.creates)
                self.outcome.updated += len(batch.updates)
            self.savepoint = None
        outcome = self.outcome
        if self.failure_units is not None:
            written = [*batch.creates, *(row for row, _changed in batch.updates)]
            self.failure_units.update(row.merged["unit"] for row in written if not row.errors)
        for row in batch.rows:
            if row.errors:
                outcome.rejected += 1
                for column, value, reason, code in row.errors:
                    outcome.error(row.number, column, value, reason, code)
        outcome.rows, outcome.last_row = batch.rows_read, batch.last_row
        self.landed += 1
        if self.landed % GC_EVERY == 0:
            gc.collect(0)  # what _gc_paused holds back: a pass over the young objects
        reset_queries()  # DEBUG keeps every query otherwise
        _heartbeat(self.run_id, self.run_started)
        if self.progress is not None:
            self.progress(batch.rows_read)

    def _fk_checks_run(self) -> None:
        """Where batches are checked by the background writer (PostgreSQL), check a row
        written alone too: a reference that vanished meanwhile refuses the row, not the
        commit."""
        if self.background is None:
            return
        if self.fk_checks is None:
            self.fk_checks = bulk.fk_checks_now(self.copy_models)
        with connection.cursor() as cursor:
            for statement in self.fk_checks:
                cursor.execute(statement)

    def _connection(self) -> None:
        """Before any other use of the database the batch in flight must land: its
        statements and its savepoint come first."""
        if self.in_flight is not None:
            self._land()

    def _background_write(self, creates: list[_Row]) -> Callable[[object], None]:
        """What the writer thread does for a batch: draw the new rows' ids, COPY the rows
        (and, for tickets, their "created" events), then run the foreign-key checks the
        COPYs queued (they would otherwise all wait for the commit). Prepared here:
        the thread only draws ids and sends."""
        if self.fk_checks is None:
            self._connection()
            self.fk_checks = bulk.fk_checks_now(self.copy_models)
        model = self.model
        rows = bulk.copy_prepare(
            model,
            self.create_attnames,
            [self._create_values(row.merged) for row in creates],
            leading=model._meta.pk.attname,
        )
        events = None
        if self.is_tickets:
            event_attnames, event_rows = self._created_events(creates, ids=False)
            events = bulk.copy_prepare(TicketEvent, event_attnames, event_rows, leading="ticket_id")
        checks = self.fk_checks

        def write(cursor) -> None:
            ids = bulk.ids_draw(cursor, model, len(rows.rows))
            if rows.rows:
                bulk.copy_write(cursor, rows, ids)
            if events is not None and events.rows:
                bulk.copy_write(cursor, events, ids)
            for statement in checks:
                cursor.execute(statement)

        return write

    def _create_values(self, merged: dict) -> tuple:
        """A new record's values in the order of create_attnames."""
        if self.sla is None:
            return self.plain_values(merged)
        return (*self.plain_values(merged), *merged["_sla"])

    @staticmethod
    def _created_events(creates: list[_Row], *, ids: bool = True) -> tuple[list[str], list[tuple]]:
        """The "created" events of new tickets (attnames, rows); without `ids`, the
        tickets' ids are left out (given to the COPY when they are drawn)."""
        constants = tuple(_CREATED_EVENT.values())
        if not ids:
            return ["at", *_CREATED_EVENT], [(row.merged["created_at"], *constants) for row in creates]
        return (
            ["ticket_id", "at", *_CREATED_EVENT],
            [(row.merged["id"], row.merged["created_at"], *constants) for row in creates],
        )

    def _comparison(self, row: _Row) -> tuple[tuple[str, ...], Callable[[dict], object]]:
        """The columns an update of the row may change (those given, and a ticket's
        derived status) and a getter of their values. Rows of a file give the same
        columns, so the getter is made once."""
        given = tuple(row.values)
        found = self.comparisons.get(given)
        if found is None:
            columns = (*given, "status") if self.is_tickets and "status" not in given else given
            found = self.comparisons[given] = (columns, itemgetter(*columns))
        return found

    # references

    def _wanted(self, rows: list[_Row]) -> dict[str, set]:
        """The keys the rows refer to, per lookup."""
        wanted: dict[str, set] = defaultdict(set)
        values = [row.values for row in rows]
        for column in self.refs:
            keys, cells = wanted[column.ref], map(methodcaller("get", column.name), values)
            if column.type == REFS:
                for codes in cells:
                    keys.update(codes or ())
            else:
                keys.update(cells)
            keys.discard(None)
        return wanted

    def _references(self, wanted: dict[str, set]) -> dict[str, dict]:
        """The ids of the records the batch refers to (`wanted`: _wanted), per lookup
        ({key: id}): one query per referenced entity for the keys not yet known."""
        return {name: self._known_ids(LOOKUPS[name], keys) for name, keys in wanted.items() if name != "region"}

    def _resolve(self, rows: list[_Row], found: dict[str, dict]) -> None:
        """Replace reference keys by ids (`found`: _references). Unknown keys are errors,
        except for lookups that create (kept as pending)."""
        for column in self.refs:
            name, lookup = column.name, LOOKUPS[column.ref]
            if column.type == REFS:
                ids = found[column.ref]
                for row in rows:
                    value = row.values.get(name)
                    if value is None:
                        continue
                    missing = [code for code in value if code not in ids]
                    if missing:
                        self._error(
                            row,
                            name,
                            row.raw.get(name),
                            _("unknown %(what)s: %(keys)s")
                            % {"what": _lookup_label(lookup), "keys": ", ".join(missing)},
                            RowErrorCode.UNKNOWN_REFERENCE,
                        )
                    else:
                        row.values[name] = frozenset(ids[code] for code in value)
                continue
            if column.ref == "region":
                for row in rows:
                    value = row.values.get(name)
                    if value is not None:
                        row.pending.append((name, value))
                continue
            ids = found[column.ref]
            for row in rows:
                values = row.values
                value = values.get(name)
                if value is None:
                    continue
                pk = ids.get(value)
                if pk is not None:
                    values[name] = pk
                elif lookup.create:
                    row.pending.append((name, value))
                else:
                    self._error(
                        row,
                        name,
                        row.raw.get(name),
                        _("unknown %(what)s “%(key)s”") % {"what": _lookup_label(lookup), "key": value},
                        RowErrorCode.UNKNOWN_REFERENCE,
                    )
        key = self.spec.key
        for row in rows:
            if not row.errors:
                row.key_ids = tuple(row.values[c] for c in key)

    def _known_ids(self, lookup: Lookup, keys: set) -> dict:
        """{key: id} of the given keys that exist. Keys found once are remembered for the
        run (tickets name the same customers again and again), up to REF_CACHE per entity;
        only the others are queried."""
        known = self.known[lookup.name]
        missing = [k for k in keys if k not in known]
        if missing:
            self._connection()
            if len(known) + len(missing) > REF_CACHE:
                known.clear()
                self.attrs[lookup.name].clear()
                missing = list(keys)
            known.update(self._fetch(lookup, lookup.key, missing))
        return known

    def _fetch(self, lookup: Lookup, by: str, values: Iterable) -> dict:
        """{value of `by`: id} for the records of `lookup` whose `by` is in `values`; their
        attributes (the rules' needs) go to self.attrs."""
        self._connection()
        result = {}
        attrs = self.attrs[lookup.name]
        names = lookup.attrs
        for chunk in _chunks(list(values), 10_000):
            for key, pk, *extra in bulk.select_in(lookup.model, [by, "id", *names], by, chunk):
                result[key] = pk
                if names:
                    attrs[pk] = dict(zip(names, extra, strict=True))
        if lookup.m2m and result:
            m2m_field = lookup.model._meta.get_field(lookup.m2m)
            through = m2m_field.remote_field.through
            source, target = m2m_field.m2m_column_name(), m2m_field.m2m_reverse_name()
            sets = defaultdict(set)
            for chunk in _chunks(list(result.values()), 10_000):
                for owner, other in through.objects.filter(**{f"{source}__in": chunk}).values_list(source, target):
                    sets[owner].add(other)
            for pk in result.values():
                attrs.setdefault(pk, {})[f"{lookup.m2m}_ids"] = frozenset(sets.get(pk, ()))
        return result

    def _attr(self, lookup: str, pk: int) -> dict:
        return self.attrs[lookup].get(pk, {})

    def _load_attrs(self, rows: list[_Row]) -> None:
        """Attributes the rules need of records referenced only through the stored record
        (a unit update without a batch column still checks against its batch)."""
        for column in self.refs:
            lookup = LOOKUPS[column.ref]
            if column.type != REF or not (lookup.attrs or lookup.m2m):
                continue
            cached = self.attrs[lookup.name]
            missing = {r.merged.get(column.name) for r in rows} - {None} - cached.keys()
            if missing:
                self._fetch(lookup, "id", missing)

    # existing records

    def _existing(self, rows: list[_Row]) -> dict[tuple, dict]:
        """The stored records of the rows' keys (one query), as column -> value, by key
        (with references as ids; a key without references is the row's key as given)."""
        if not rows:
            return {}
        self._connection()
        columns = [c.name for c in self.plain]
        attnames = ["id", *(c.attname for c in self.plain)]
        key_columns = self.spec.key
        keys = [r.key for r in rows] if self.plain_key else [r.key_ids for r in rows]
        if len(key_columns) == 1:
            key_field = self.spec.by_name[key_columns[0]].attname
            stored = bulk.select_in(self.model, attnames, key_field, [key[0] for key in keys])
        else:
            filters = {}
            for index, name in enumerate(key_columns):
                filters[f"{self.spec.by_name[name].attname}__in"] = {key[index] for key in keys}
            stored = self.model._default_manager.filter(**filters).values_list(*attnames)
        found = {}
        for values in stored:
            record = dict(zip(columns, values[1:], strict=True))
            record["id"] = values[0]
            found[tuple(record[c] for c in key_columns)] = record
        for column in self.m2m:
            m2m_field = self.model._meta.get_field(column.name)
            through = m2m_field.remote_field.through
            source, target = m2m_field.m2m_column_name(), m2m_field.m2m_reverse_name()
            sets = defaultdict(set)
            for owner, other in through.objects.filter(
                **{f"{source}__in": [r["id"] for r in found.values()]}
            ).values_list(source, target):
                sets[owner].add(other)
            for record in found.values():
                record[column.name] = frozenset(sets.get(record["id"], ()))
        return found

    def _merge(self, row: _Row, existing: dict | None) -> None:
        """The record as it will be: stored (or default) values with the file's over them.
        Columns missing from the file keep their stored values."""
        row.existing = existing
        merged = dict(existing) if existing is not None else self.create_defaults.copy()
        merged.update(row.values)
        empty = self.empty
        for column in row.blank:
            merged[column] = empty[column]
        if existing is None:
            for column in self.needed:
                if column not in row.values:
                    self._error(row, column, "", _("required for a new record"), RowErrorCode.REQUIRED)
        if self.is_tickets and row.values.get("status") is None:
            merged["status"] = ticket_status(merged)
        row.merged = merged

    # records created on the way (teams, failure modes, product lines, regions)

    def _create_pending(self, rows: list[_Row]) -> list[_Row]:
        """Create the missing records the good rows name (teams, failure modes, product
        lines, regions) and put their ids in; returns the rows still good (a key the
        database refuses, e.g. too long once normalised, rejects its rows)."""
        pending: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            for column, key in row.pending:
                pending[self.spec.by_name[column].ref].add(key)
        if pending:
            self._connection()
        ids: dict[str, dict[str, int]] = {}
        refused: dict[tuple[str, str], str] = {}
        for name, keys in pending.items():
            regions = dict(self.regions)
            try:
                with transaction.atomic():
                    ids[name] = self._create(LOOKUPS[name], keys)
            except (DatabaseError, ValueError):
                self.regions = regions  # forget the ids the rollback took back
                ids[name] = {}
                for key in sorted(keys):
                    try:
                        with transaction.atomic():
                            ids[name].update(self._create(LOOKUPS[name], {key}))
                    except (DatabaseError, ValueError) as exc:
                        refused[(name, key)] = str(exc).strip()[:300]
        good = []
        for row in rows:
            for column, key in row.pending:
                ref = self.spec.by_name[column].ref
                if (ref, key) in refused:
                    self._error(
                        row,
                        column,
                        key,
                        _("refused by the database: %(error)s") % {"error": refused[(ref, key)]},
                        RowErrorCode.DATABASE,
                    )
                    continue
                row.merged[column] = row.values[column] = ids[ref][key]
            row.pending = []
            if not row.errors:
                good.append(row)
        return good

    def _create(self, lookup: Lookup, keys: set[str]) -> dict[str, int]:
        if lookup.name == "region":
            result = {}
            for spelling in keys:
                cache_key = region_key(spelling)
                if cache_key not in self.regions:
                    self.regions[cache_key] = region_resolve(name=spelling).pk
                result[spelling] = self.regions[cache_key]
            return result
        # Created before the batch's rows are written (and outside their savepoint), so a
        # row retried alone after a database refusal still finds them.
        result = self._fetch(lookup, lookup.key, keys)  # created meanwhile by an earlier batch
        new = sorted(set(keys) - result.keys())
        if not new:
            return result
        model = lookup.model
        if lookup.name == "failure_mode":
            parent, _created = FailureMode.objects.get_or_create(
                code=UNCLASSIFIED, defaults={"name_en": "Unclassified", "name_zh": "未分类"}
            )
            objs = [model(code=code, name_en=code, parent=parent) for code in new]
            note = _("failure mode “%(key)s” is unknown: created under %(parent)s")
        elif lookup.name == "product_line":
            objs = [model(code=code, name=code) for code in new]
            note = _("product line “%(key)s” is unknown: created")
        else:
            objs = [model(**{lookup.key: key}) for key in new]
            note = _("%(what)s “%(key)s” is unknown: created")
        model._default_manager.bulk_create(objs)
        for key in new:
            self.outcome.created_notes.append(
                note % {"key": key, "parent": UNCLASSIFIED, "what": _lookup_label(lookup)}
            )
        result.update(self._fetch(lookup, lookup.key, new))
        self.known[lookup.name].update(result)
        return result

    # writes

    def _write_safely(self, creates: list[_Row], updates: list[tuple[_Row, list[str]]]) -> None:
        """Write the batch in a savepoint. Should the database refuse it (a rule the
        contract checks missed), retry row by row and reject the refused rows."""
        if not creates and not updates:
            return
        try:
            with transaction.atomic():
                self._write(creates, updates)
        except DatabaseError:
            self._write_each(creates, updates)
            return
        self.outcome.created += len(creates)
        self.outcome.updated += len(updates)

    def _write_each(self, creates: list[_Row], updates: list[tuple[_Row, list[str]]]) -> None:
        for row in creates:
            self._write_one(row, lambda row=row: self._write([row], []))
        for row, changed in updates:
            self._write_one(row, lambda row=row, changed=changed: self._write([], [(row, changed)]))

    def _write_one(self, row: _Row, write: Callable[[], None]) -> None:
        try:
            with transaction.atomic():
                write()
                self._fk_checks_run()
        except DatabaseError as exc:
            self._error(
                row,
                "",
                "",
                _("refused by the database: %(error)s") % {"error": str(exc).strip()[:300]},
                RowErrorCode.DATABASE,
            )
            return
        if row.existing is None:
            self.outcome.created += 1
        else:
            self.outcome.updated += 1

    def _write(self, creates: list[_Row], updates: list[tuple[_Row, list[str]]]) -> None:
        model = self.model
        by_name = self.spec.by_name
        if creates:
            values = [self._create_values(row.merged) for row in creates]
            ids = bulk.insert(model, self.create_attnames, values)
            for pk, row in zip(ids, creates, strict=True):
                row.merged["id"] = pk
            if self.is_tickets:
                bulk.insert(TicketEvent, *self._created_events(creates))
        if updates:
            fields = sorted({c for _row, changed in updates for c in changed if by_name[c].type != REFS})
            if fields:
                attnames = [by_name[c].attname for c in fields]
                objs = []
                now = timezone.now()
                for row, _changed in updates:
                    obj = model(id=row.existing["id"], **{by_name[c].attname: row.merged[c] for c in fields})
                    if self.is_tickets:
                        obj.version = F("version") + 1
                        obj.updated_at = now
                    objs.append(obj)
                if self.is_tickets:
                    attnames += ["version", "updated_at"]
                model._default_manager.bulk_update(objs, attnames, batch_size=1000)
        for column in self.m2m:
            self._write_m2m(column.name, creates, updates)

    def _write_m2m(self, name: str, creates: list[_Row], updates: list[tuple[_Row, list[str]]]) -> None:
        m2m_field = self.model._meta.get_field(name)
        through = m2m_field.remote_field.through
        source, target = m2m_field.m2m_column_name(), m2m_field.m2m_reverse_name()
        rows = [*creates, *(row for row, changed in updates if name in changed)]
        if not rows:
            return
        changed_ids = [row.existing["id"] for row, changed in updates if name in changed]
        if changed_ids:
            through.objects.filter(**{f"{source}__in": changed_ids}).delete()
        links = [
            through(**{source: row.merged["id"] if row.existing is None else row.existing["id"], target: other})
            for row in rows
            for other in sorted(row.merged[name])
        ]
        through.objects.bulk_create(links)


class _TicketSla:
    """SLA fields of the new tickets of an import, in bulk: the active policies are
    matched in memory (tickets.services.sla's rule), one clock per calendar. Due times
    given in the file are kept (sla_due_source=import; a missing one comes from the
    policy); otherwise the policy computes both. Open tickets get their first
    checkpoint (sla_next_check_at) so the sweep takes them over."""

    COLUMNS = ("sla_policy_id", "sla_due_source", "sla_next_check_at")

    def __init__(self):
        from tickets.calendars import ClockCache
        from tickets.services.sla import SlaPolicyMatcher

        self.matcher = SlaPolicyMatcher()
        facts = {fact for wanted, _policy in self.matcher.ranked for fact, _value in wanted}
        self.need_customer = bool(facts & {"segment", "region_id"})
        self.need_unit = "product_line_id" in facts
        self.customers: dict[int, tuple] = {}  # id -> (segment, region_id)
        self.units: dict[int, int | None] = {}  # id -> product line id
        self.teams: dict[int, int | None] | None = None  # id -> calendar id (read when needed)
        self.clocks = ClockCache()
        self.matches: dict[tuple, object] = {}

    def prefetch(self, found: dict[str, dict], wanted: dict[str, set]) -> None:
        """Read what the policies match on for the batch's customers and units (before
        the batch in flight is launched: the connection is free). fill() then needs no
        query: the clocks of every calendar a new ticket can use are read here too."""
        if self.teams is None:
            self.teams = dict(Team.objects.values_list("pk", "calendar_id"))
            self.clocks.default_id()
        if self.need_customer:
            ids = {found["customer"][k] for k in wanted.get("customer", ()) if k in found.get("customer", {})}
            missing = ids - self.customers.keys()
            if missing:
                from catalog.models import Customer

                for pk, segment, region in Customer.objects.filter(pk__in=missing).values_list(
                    "pk", "segment", "region_id"
                ):
                    self.customers[pk] = (segment, region)
        if self.need_unit:
            ids = {found["unit"][k] for k in wanted.get("unit", ()) if k in found.get("unit", {})}
            missing = ids - self.units.keys()
            if missing:
                from catalog.models import Unit

                self.units.update(
                    Unit.objects.filter(pk__in=missing).values_list("pk", "product_model__product_line_id")
                )
        calendars = {p.calendar_id for _w, p in self.matcher.ranked} | set(self.teams.values())
        self.clocks.load(calendars)

    def fill(self, rows: list) -> None:
        from types import SimpleNamespace

        from tickets.services.sla import SlaFacts, sla_next_check

        matcher, matches, clocks = self.matcher, self.matches, self.clocks
        for row in rows:
            merged = row.merged
            response, resolution = merged["response_due_at"], merged["resolution_due_at"]
            given = response is not None or resolution is not None
            policy = None
            if matcher.ranked:
                segment, region = self.customers.get(merged["customer"], (None, None))
                key = (merged["priority"], merged["type"], segment, self.units.get(merged["unit"]), region)
                if key not in matches:
                    matches[key] = matcher.match(SlaFacts(*key))
                policy = matches[key]
            if policy is None and not given:
                merged["_sla"] = (None, "", None)
                continue
            calendar_id = policy.calendar_id if policy is not None and policy.calendar_id else None
            if calendar_id is None and self.teams is not None:
                calendar_id = self.teams.get(merged["team"])
            clock = clocks.get(calendar_id)
            created = merged["created_at"]
            if policy is not None:
                if response is None:
                    merged["response_due_at"] = response = clock.add(created, policy.response_minutes)
                if resolution is None:
                    merged["resolution_due_at"] = resolution = clock.add(created, policy.resolution_minutes)
            next_check = None
            if merged["status"] in OPEN_STATUSES:
                ticket = SimpleNamespace(
                    status=merged["status"],
                    sla_paused_at=None,
                    sla_paused_minutes=0,
                    created_at=created,
                    first_response_at=merged["first_response_at"],
                    resolved_at=merged["resolved_at"],
                    response_due_at=response,
                    resolution_due_at=resolution,
                )
                next_check = sla_next_check(ticket, clock, done=set())
            merged["_sla"] = (
                policy.pk if policy is not None else None,
                SlaDueSource.IMPORT if given else SlaDueSource.POLICY,
                next_check,
            )


def _lookup_label(lookup: Lookup) -> str:
    return {
        "customer": _("customer"),
        "product_line": _("product line"),
        "product_model": _("product model"),
        "supplier": _("supplier"),
        "component": _("component"),
        "batch": _("batch"),
        "unit": _("unit"),
        "ticket": _("ticket"),
        "user": _("user"),
        "team": _("team"),
        "failure_mode": _("failure mode"),
        "recall": _("recall"),
        "region": _("region"),
    }.get(lookup.name, lookup.name)


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --- uploads and queued runs (the upload page) ---------------------------------------------


_MAX_NAME = 120


def safe_file_name(client_name: str) -> str:
    """A file name to store under: never the client's path, only safe characters, the
    extension kept (get_valid_filename keeps CJK letters)."""
    base = Path(str(client_name).replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    try:
        stem = get_valid_filename(stem)
    except Exception:  # SuspiciousFileOperation: nothing usable left ("..", "", "***")
        stem = ""
    return f"{(stem or 'upload')[: _MAX_NAME - len(suffix)]}{suffix}"


def import_upload_store(*, file: UploadedFile) -> StoredUpload:
    """Store an uploaded .csv/.xlsx as MEDIA_ROOT/imports/<uuid>/<safe name>."""
    name = safe_file_name(file.name or "")
    if Path(name).suffix not in UPLOAD_SUFFIXES:
        raise ApplicationError(_("Upload a .csv or .xlsx file."), errors={"file": [_("Upload a .csv or .xlsx file.")]})
    token = uuid.uuid4().hex
    default_storage.save(f"{UPLOAD_DIR}/{token}/{name}", file)
    return import_upload_get(token=token)


def import_run_queue(
    *,
    entity: str,
    stored_file: str,
    file_name: str,
    mode: str = ImportMode.STRICT,
    profile: MappingProfile | None = None,
    user: User | None = None,
    dry_run: bool = False,
    expected_rows: int | None = None,
) -> ImportRun:
    """Create a pending web ImportRun of a stored upload and queue its import once the
    transaction commits (the worker must see the run). `expected_rows` (the preview's
    estimate) lets the progress bar show a percentage."""
    from .tasks import import_file_task  # the task module imports this one

    if entity not in ENTITY_ORDER:
        raise ApplicationError(_("Unknown entity."), errors={"entity": [_("Unknown entity.")]})
    if import_stored_file_path(stored_file) is None:
        raise ApplicationError(_("The uploaded file is no longer available; upload it again."))
    with transaction.atomic():
        run = ImportRun.objects.create(
            entity=entity,
            file_name=file_name,
            stored_file=stored_file,
            mode=mode,
            profile=profile,
            user=user,
            dry_run=dry_run,
            source=ImportSource.WEB,
            status=ImportStatus.PENDING,
        )
        if expected_rows:
            cache.set(TOTAL_KEY.format(run_id=run.pk), expected_rows, PROGRESS_TIMEOUT)
        import_file_task.delay_on_commit(run.pk, stored_file)
    return run


def import_run_import_for_real(*, run: ImportRun, user: User | None) -> ImportRun:
    """After a clean dry run, queue the real import of the same stored file (a new run;
    the dry run stays in the history as it was)."""
    if not import_run_passed_dry_run(run):
        raise ApplicationError(_("Only a dry run that passed can be imported for real."))
    return import_run_queue(
        entity=run.entity,
        stored_file=run.stored_file,
        file_name=run.file_name,
        mode=run.mode,
        profile=run.profile,
        user=user,
        dry_run=False,
        expected_rows=run.rows or None,
    )


def import_run_claim(*, run_id: int) -> ImportRun | None:
    """Hand a pending run to the calling worker: one UPDATE ... WHERE status = 'pending',
    so of two deliveries of the same task (acks_late redelivery, two workers) exactly one
    gets the run; the other gets None and does nothing."""
    claimed = ImportRun.objects.filter(pk=run_id, status=ImportStatus.PENDING).update(status=ImportStatus.RUNNING)
    if not claimed:
        return None
    return ImportRun.objects.select_related("profile", "user").get(pk=run_id)


def import_run_mark_failed(*, run_id: int, message: str) -> None:
    """A run whose import raised is left as failed, not running forever (the engine's
    transaction has already rolled its rows back)."""
    ImportRun.objects.filter(pk=run_id, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]).update(
        status=ImportStatus.FAILED, message=message[:2000], finished_at=timezone.now()
    )


def import_uploads_purge(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete stored uploads (MEDIA_ROOT/imports/) past the retention; returns how many
    files were deleted. A run's file goes once every run naming it (a dry run and its
    real import share one) has finished -- written, rejected, dry run or failed -- more
    than `older_than` ago; their stored_file is cleared. A file no run names (previewed,
    never queued) goes once it was last modified more than `older_than` ago. The file of
    a pending or running run, or of a recent one, is never touched. Idempotent.

    The runs are updated in one transaction, their rows locked (pk order) so that two
    purges at once do not both take the same files; the files are deleted after it, so a
    crash in between leaves a file no run names, which the next purge deletes."""
    now = now or timezone.now()
    cutoff = now - older_than
    root = (Path(settings.MEDIA_ROOT) / UPLOAD_DIR).resolve()
    ended = Coalesce("finished_at", "started_at")  # a run finished without a time: its start
    with transaction.atomic():
        expired = list(
            ImportRun.objects.select_for_update()
            .exclude(stored_file="")
            .annotate(ended=ended)
            .filter(status__in=FINISHED, ended__lt=cutoff)
            .order_by("pk")
            .values_list("stored_file", flat=True)
        )
        candidates = {name for name in expired if _upload_path(root, name) is not None}
        in_use = set(
            ImportRun.objects.filter(stored_file__in=candidates)
            .annotate(ended=ended)
            .exclude(status__in=FINISHED, ended__lt=cutoff)
            .values_list("stored_file", flat=True)
        )
        purged = candidates - in_use
        if purged:
            ImportRun.objects.filter(stored_file__in=purged).update(stored_file="")
    deleted = sum(_upload_delete(root, _upload_path(root, name)) for name in sorted(purged))
    deleted += _uploads_purge_orphans(root, cutoff=cutoff)
    if deleted:
        log.info("import uploads purged: %s files older than %s", deleted, cutoff.isoformat())
    return deleted


def _upload_path(root: Path, name: str) -> Path | None:
    """Where a run's stored_file is, if it lies inside the uploads folder (anything else
    is not ours to delete)."""
    path = (Path(settings.MEDIA_ROOT) / name).resolve()
    return path if path.is_relative_to(root) and path != root else None


def _upload_delete(root: Path, path: Path) -> int:
    """Delete one file (1 if it was there) and its folder once empty: a folder is one
    upload's (imports/<uuid>/), nothing is saved into it again."""
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    folder = path.parent
    if folder != root:
        with contextlib.suppress(OSError):  # not empty (or gone): leave it
            folder.rmdir()
    return 1


def _uploads_purge_orphans(root: Path, *, cutoff: datetime) -> int:
    """Delete files under the uploads folder that no run names and that were last
    modified before `cutoff`, then the folders they leave empty. An empty folder not
    emptied here is left until it is old: it may be an upload being saved right now."""
    if not root.is_dir():
        return 0
    named = set(ImportRun.objects.exclude(stored_file="").values_list("stored_file", flat=True))
    media = Path(settings.MEDIA_ROOT).resolve()
    limit = cutoff.timestamp()
    deleted = 0
    for folder, _dirs, files in os.walk(root, topdown=False):  # never follows links
        here = Path(folder)
        emptied = False
        for name in files:
            path = here / name
            if path.relative_to(media).as_posix() in named:
                continue
            try:
                if path.lstat().st_mtime >= limit:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            deleted += 1
            emptied = True
        if here == root:
            continue
        with contextlib.suppress(OSError):
            if emptied or here.lstat().st_mtime < limit:
                here.rmdir()  # only succeeds when empty
    return deleted


# --- mapping profiles ----------------------------------------------------------------------


# A moment with every field distinct, to check that a strptime format reads what it writes.
_PROBE = dt.datetime(2031, 12, 24, 17, 45, 39)


def time_zone_problem(name: str) -> str:
    """Why `name` is not an IANA time zone ("" when it is one, or blank)."""
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return _("“%(zone)s” is not a time zone; use a name such as Asia/Shanghai or UTC.") % {"zone": name}
    return ""


def datetime_format_problem(fmt: str) -> str:
    """Why `fmt` is not a usable strptime format ("" when it is one)."""
    if "%" not in fmt:
        return _("“%(format)s” has no %% directive (e.g. %%Y/%%m/%%d).") % {"format": fmt}
    try:
        dt.datetime.strptime(_PROBE.strftime(fmt), fmt)  # noqa: DTZ007 - a round trip of the format only
    except (ValueError, TypeError) as error:
        return _("“%(format)s” is not a valid date format: %(error)s") % {"format": fmt, "error": error}
    return ""


def column_problem(column: str, *, entity: str) -> str:
    """Why `column` cannot be a rename target or a value-mapped column of a profile for
    `entity` (blank: a profile for every entity) -- "" when it can."""
    if column in (entity_columns(entity) if entity else all_columns()):
        return ""
    if entity:
        return _("“%(column)s” is not a column of %(entity)s.") % {"column": column, "entity": entity}
    return _("“%(column)s” is not a column of any entity.") % {"column": column}


@transaction.atomic
def mapping_profile_save(
    *,
    profile: MappingProfile | None = None,
    name: str,
    source_system: str = "",
    entity: str = "",
    column_map: dict[str, str],
    value_map: dict[str, dict[str, str]],
    datetime_formats: list[str],
    time_zone: str = "",
) -> MappingProfile:
    """Create (profile=None) or update a mapping profile. Every rename target and every
    value-mapped column must be a contract column of the entity (of any entity when the
    profile is for all); formats must be strptime formats, the zone an IANA zone, the
    name unique."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors.setdefault("name", []).append(_("A profile needs a name."))
    if entity and entity not in ENTITY_ORDER:
        errors.setdefault("entity", []).append(_("“%(entity)s” is not an entity.") % {"entity": entity})
    else:
        for target in column_map.values():
            if problem := column_problem(target, entity=entity):
                errors.setdefault("column_map", []).append(problem)
        for column in value_map:
            if problem := column_problem(column, entity=entity):
                errors.setdefault("value_map", []).append(problem)
    for fmt in datetime_formats:
        if problem := datetime_format_problem(fmt):
            errors.setdefault("datetime_formats", []).append(problem)
    if problem := time_zone_problem(time_zone):
        errors.setdefault("time_zone", []).append(problem)
    taken = MappingProfile.objects.filter(name__iexact=name)
    if name and taken.exclude(pk=profile.pk if profile else None).exists():
        errors.setdefault("name", []).append(_("A profile with this name already exists."))
    if errors:
        raise ApplicationError(_("The mapping profile was not saved."), errors=errors)

    profile = profile or MappingProfile()
    profile.name = name
    profile.source_system = source_system.strip()
    profile.entity = entity
    profile.column_map = dict(column_map)
    profile.value_map = {column: dict(values) for column, values in value_map.items()}
    profile.datetime_formats = list(datetime_formats)
    profile.time_zone = time_zone
    try:
        with transaction.atomic():
            profile.save()
    except IntegrityError:  # the same name saved by someone else a moment ago
        raise ApplicationError(
            _("The mapping profile was not saved."), errors={"name": [_("A profile with this name already exists.")]}
        )
    return profile
