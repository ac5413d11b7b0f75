"""Bulk reads and writes of the import engine (services.py). On PostgreSQL: reads with
binary results, inserts as binary COPY with ids drawn from the table's sequence, and a
writer that runs a batch's writes in a second thread while the engine validates the
next batch. Elsewhere: the ORM."""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

# Field types whose Python values psycopg's COPY writes exactly as the ORM would.
COPY_SAFE = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateField",
        "DateTimeField",
        "DecimalField",
        "ForeignKey",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
        "UUIDField",
    }
)

_PG_TYPES = {
    "AutoField": "int4",
    "BigAutoField": "int8",
    "BigIntegerField": "int8",
    "BooleanField": "bool",
    "CharField": "text",
    "DateField": "date",
    "DateTimeField": "timestamptz",
    "DecimalField": "numeric",
    "IntegerField": "int4",
    "PositiveIntegerField": "int4",
    "PositiveSmallIntegerField": "int2",
    "SmallIntegerField": "int2",
    "TextField": "text",
    "UUIDField": "uuid",
}


def copyable(model) -> bool:
    """Whether rows of `model` can be inserted with COPY (PostgreSQL, plain field types)."""
    return connection.vendor == "postgresql" and all(
        f.get_internal_type() in COPY_SAFE for f in model._meta.concrete_fields if not f.primary_key
    )


def select_in(model, attnames: list[str], by: str, values: list) -> Iterable[tuple]:
    """values_list(*attnames) of the rows whose `by` is one of `values`. On PostgreSQL a
    raw query with binary results: the same Python values at a fifth of the ORM's cost
    (which was a third of a re-import's time)."""
    if not values:
        return []
    if connection.vendor != "postgresql":
        return model._default_manager.filter(**{f"{by}__in": values}).values_list(*attnames)
    quote = connection.ops.quote_name
    sql = "SELECT {} FROM {} WHERE {} = ANY(%s)".format(  # noqa: S608 (quoted model names)
        ", ".join(quote(model._meta.get_field(a).column) for a in attnames),
        quote(model._meta.db_table),
        quote(model._meta.get_field(by).column),
    )
    return pg_fetch(sql, [list(values)])


def pg_fetch(sql: str, params: list) -> list[tuple]:
    """Rows of a query on PostgreSQL in the binary format (no text parsing of timestamps),
    through a server-side-binding cursor on Django's connection: Django's own cursors bind
    on the client, which cannot ask for binary results."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def ids_draw(cursor, model, count: int) -> list[int]:
    """`count` ids from the model's sequence (`cursor`: a psycopg cursor). Ids drawn and
    not used are gaps, as after any rollback."""
    if not count:
        return []
    # The sequence is looked up once (OFFSET 0 keeps the subquery from being folded into
    # the outer one): looked up for every row, it cost eight times the nextval()s.
    cursor.execute(
        "SELECT nextval(s.seq) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq OFFSET 0) s"
        " CROSS JOIN generate_series(1, %s)",
        [model._meta.db_table, model._meta.pk.column, count],
    )
    return [pk for (pk,) in cursor.fetchall()]


@dataclass
class Copy:
    """One COPY ... FROM STDIN (FORMAT BINARY): the statement, the column types and the
    rows. With `leading`, each row's first value (e.g. its id) is given when it is sent."""

    sql: str
    types: list[str]
    rows: list[tuple]
    leading: bool = False


def copy_prepare(model, attnames: list[str], rows: list[tuple], *, leading: str | None = None) -> Copy:
    """The COPY inserting `rows` (tuples of the values of `attnames`, in order; the
    attname `leading` first, its values given to copy_write); other fields take their
    defaults (the id its sequence's), auto_now fields the current time."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    by_attname = {f.attname: f for f in [*fields, model._meta.pk]}
    given = [by_attname[a] for a in attnames]
    stamped = [
        f for f in fields if f not in given and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False))
    ]
    first = [by_attname[leading]] if leading else []
    # Constant defaults are computed once; random UUIDs (uuid4) are drawn for the whole
    # batch at once and sent as their 16 bytes (a uuid's binary COPY format): a fifth of
    # the cost of a uuid.uuid4() per row.
    constant, varying = [], []
    for f in fields:
        if f in given or f in stamped or f in first:
            continue
        if f.get_internal_type() == "UUIDField" and f.default is uuid.uuid4:
            varying.append((f, "bytea", _uuid4_bytes(len(rows))))
        elif callable(f.default):
            varying.append((f, _pg_type(f), [f.get_default() for _row in rows]))
        else:
            constant.append((f, f.get_default()))
    ordered = [*first, *given, *stamped, *(f for f, _value in constant), *(f for f, _type, _values in varying)]
    types = [_pg_type(f) for f in ordered[: len(ordered) - len(varying)]] + [t for _f, t, _values in varying]
    suffix = (timezone.now(),) * len(stamped) + tuple(value for _f, value in constant)
    if varying:
        per_row = zip(*(values for _f, _type, values in varying), strict=True)
        rows = [row + suffix + more for row, more in zip(rows, per_row, strict=True)]
    elif suffix:
        rows = [row + suffix for row in rows]
    quote = connection.ops.quote_name
    sql = (
        f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in ordered)}) FROM STDIN (FORMAT BINARY)"
    )
    return Copy(sql, types, rows, leading=bool(leading))


def _uuid4_bytes(count: int) -> list[bytes]:
    """`count` random RFC 4122 version-4 UUIDs as 16 bytes each (what uuid.uuid4().bytes
    gives): the version and variant bits are set for all of them with two translations."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT_RFC4122)
    return [bytes(raw[i : i + 16]) for i in range(0, len(raw), 16)]


_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_RFC4122 = bytes((b & 0x3F) | 0x80 for b in range(256))


def copy_write(cursor, copy: Copy, leading: Sequence | None = None) -> None:
    """Run one COPY on a psycopg cursor; `leading`: the first value of each row."""
    with cursor.copy(copy.sql) as out:
        out.set_types(copy.types)
        write = out.write_row
        if copy.leading:
            for first, row in zip(leading, copy.rows, strict=True):
                write((first, *row))
        else:
            for row in copy.rows:
                write(row)


def insert(model, attnames: list[str], rows: list) -> list[int]:
    """INSERT rows (values of `attnames`, in order; other fields take their defaults,
    auto_now fields the current time) and return their ids in order. On PostgreSQL the
    ids are drawn from the table's sequence and the rows sent with one binary COPY: the
    ORM's bulk INSERT costs several times more Python per row. Elsewhere: bulk_create."""
    if not rows:
        return []
    if not copyable(model):
        objs = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objs)
        return [obj.pk for obj in objs]
    copy = copy_prepare(model, attnames, [tuple(row) for row in rows], leading=model._meta.pk.attname)
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        ids = ids_draw(cursor, model, len(rows))
        copy_write(cursor, copy, ids)
    return ids


class BackgroundWriter:
    """Runs a batch's writes on Django's connection in a second thread, so that the
    caller's Python work overlaps the database's. At most one batch is in flight; until
    `wait()` has returned, the caller must not use the connection: psycopg serialises
    statements, but the caller's (a savepoint's release, a rollback) would fall between
    the batch's. The writes get a psycopg cursor and must not touch Django's connection
    object (it is per thread)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def start(self, write: Callable[[Any], None]) -> None:
        assert self._thread is None, "a write is already in flight"
        connection.ensure_connection()
        raw = connection.connection
        self._error = None
        thread = threading.Thread(target=self._run, args=(write, raw), name="intake-writer", daemon=True)
        _switch_faster()
        try:
            thread.start()
        except BaseException:
            _switch_back()
            raise
        self._thread = thread

    def _run(self, write: Callable[[Any], None], raw) -> None:
        try:
            with raw.cursor() as cursor:
                write(cursor)
        except BaseException as exc:  # handed to the caller's thread by wait()
            self._error = exc

    def wait(self) -> None:
        """Wait for the writes in flight; a database error is raised as Django's."""
        if self._thread is None:
            return
        self._thread.join()
        self._thread = None
        _switch_back()
        error, self._error = self._error, None
        if error is not None:
            with connection.wrap_database_errors:
                raise error


def fk_checks_now(models: Iterable) -> list[str]:
    """The statements that run the foreign-key checks of the models' tables queued so far
    in the transaction, then leave the constraints deferred as they were (Django makes
    them DEFERRABLE INITIALLY DEFERRED). Run after a batch's COPYs by the writer thread,
    the checks overlap the engine's work instead of adding to the commit. (Making them
    IMMEDIATE for the whole COPY instead was twice as slow.)"""
    tables = [model._meta.db_table for model in models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND condeferrable AND condeferred"
            " AND conrelid = ANY(%s::regclass[]) ORDER BY conname",
            [tables],
        )
        names = ", ".join(connection.ops.quote_name(name) for (name,) in cursor.fetchall())
    return [f"SET CONSTRAINTS {names} IMMEDIATE", f"SET CONSTRAINTS {names} DEFERRED"] if names else []


# While a COPY is in flight the writer thread needs the GIL briefly after each wait on the
# socket; with the default switch interval (5 ms) a busy main thread makes it wait that
# long every time, and the database runs dry. A shorter interval costs nothing without
# contention. Counted, as several imports may run in threads of one process.
_SWITCH_INTERVAL = 0.0005
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


def _switch_faster() -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, _SWITCH_INTERVAL))
        _switch_users += 1


def _switch_back() -> None:
    global _switch_users
    with _switch_lock:
        _switch_users -= 1
        if _switch_users == 0:
            sys.setswitchinterval(_switch_saved)


def _pg_type(model_field) -> str:
    """The type binary COPY sends a field's values as (varchar takes text's format)."""
    if model_field.is_relation:
        model_field = model_field.target_field
    return _PG_TYPES[model_field.get_internal_type()]
