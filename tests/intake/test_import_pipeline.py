"""The engine validates a batch while the previous one is written (on PostgreSQL from a
second thread, intake.bulk.BackgroundWriter): files of many batches are written whole
and counted in order, a batch the database refuses is retried row by row, and an error
while a batch is in flight leaves nothing written and the connection usable."""

import sys
import threading
import time
import uuid

import pytest
from django.db import connection

from intake import bulk
from intake.models import ImportStatus, RowErrorCode
from intake.services import _Engine, import_file
from tests.intake.import_helpers import errors_of, make_master, write_csv
from tickets.models import EventKind, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

HEADER = ["external_id", "customer", "type", "channel", "subject", "created_at", "resolved_at", "closed_at"]


@pytest.fixture
def master(db):
    return make_master()


def _rows(count: int) -> list[list[str]]:
    return [
        [f"T{n:02d}", f"C{1 + n % 3}", "repair", "phone", f"subject {n}", f"2025-03-{1 + n:02d}T09:00", "", ""]
        for n in range(count)
    ]


def test_a_file_of_many_batches_is_written_whole_and_counted_in_order(tmp_path, master):
    rows = _rows(11)
    rows[4][1] = "C404"  # batch 2: an unknown customer
    rows[10][0] = "T02"  # batch 4: a key seen in batch 1
    path = write_csv(tmp_path / "tickets.csv", HEADER, rows)
    seen = []

    run = import_file(entity="tickets", path=path, mode="lenient", batch_size=3, progress=seen.append)

    assert (run.status, run.rows, run.created, run.rejected) == (ImportStatus.SUCCEEDED, 11, 9, 2)
    assert seen == [3, 6, 9, 11]
    assert errors_of(run) == [
        (5, "customer", "C404", "unknown customer “C404”"),
        (11, "external_id", "T02", "duplicate key; first seen at row 3"),
    ]
    tickets = {t.external_id: t for t in Ticket.objects.all()}
    assert sorted(tickets) == [f"T{n:02d}" for n in range(10) if n != 4]
    assert tickets["T07"].subject == "subject 7" and tickets["T07"].customer.external_id == "C2"
    # One "created" event per new ticket, at its creation.
    events = list(TicketEvent.objects.values_list("ticket__external_id", "at", "kind", "to_value", "actor", "public"))
    assert sorted(events) == sorted(
        (t.external_id, t.created_at, EventKind.CREATED, Status.NEW, None, True) for t in tickets.values()
    )
    # Random public ids, as the model's default gives them (version 4).
    public_ids = [t.public_id for t in tickets.values()]
    assert len(set(public_ids)) == 9 and all(isinstance(p, uuid.UUID) and p.version == 4 for p in public_ids)

    again = import_file(entity="tickets", path=path, mode="lenient", batch_size=3)

    assert (again.created, again.updated, again.rejected) == (0, 0, 2)
    assert TicketEvent.objects.count() == 9


def test_a_reimport_over_many_batches_updates_only_the_changed_rows(tmp_path, master):
    import_file(entity="tickets", path=write_csv(tmp_path / "first.csv", HEADER, _rows(8)), batch_size=3)
    versions = dict(Ticket.objects.values_list("external_id", "version"))
    rows = _rows(9)  # T08 is new
    rows[1][4] = "changed in batch 1"
    rows[7][6], rows[7][7] = "2025-03-09T10:00", "2025-03-10T10:00"  # batch 3: resolved and closed

    run = import_file(entity="tickets", path=write_csv(tmp_path / "again.csv", HEADER, rows), batch_size=3)

    assert (run.status, run.created, run.updated, run.rejected) == (ImportStatus.SUCCEEDED, 1, 2, 0)
    tickets = {t.external_id: t for t in Ticket.objects.all()}
    assert tickets["T01"].subject == "changed in batch 1"
    assert tickets["T07"].status == Status.CLOSED
    changed = {key for key, version in versions.items() if tickets[key].version != version}
    assert changed == {"T01", "T07"}
    assert TicketEvent.objects.count() == 9  # one more "created" event, none for updates


def test_strict_mode_writes_nothing_when_the_last_batch_has_a_bad_row(tmp_path, master):
    rows = _rows(10)
    rows[9][5] = "2025-13-01"
    path = write_csv(tmp_path / "tickets.csv", HEADER, rows)

    run = import_file(entity="tickets", path=path, batch_size=3)

    assert (run.status, run.created, run.rejected) == (ImportStatus.REJECTED, 0, 1)
    assert Ticket.objects.count() == 0 and TicketEvent.objects.count() == 0


def _malformed_after_ten_rows(tmp_path):
    path = write_csv(tmp_path / "tickets.csv", HEADER, _rows(10))
    with open(path, "a", encoding="utf-8") as out:
        out.write('T99,C1,repair,phone,"quoted"tail,2025-03-01T09:00,,\n')  # row 11: malformed quoting
    return path


def test_a_file_error_after_some_batches_writes_nothing(tmp_path, master):
    switch = sys.getswitchinterval()

    run = import_file(entity="tickets", path=_malformed_after_ten_rows(tmp_path), mode="lenient", batch_size=3)

    assert run.status == ImportStatus.REJECTED
    assert [(e.row, e.code) for e in run.errors.all()] == [(0, RowErrorCode.FILE)]
    assert run.errors.get().reason.startswith("malformed CSV at line 12")
    assert Ticket.objects.count() == 0 and TicketEvent.objects.count() == 0
    assert sys.getswitchinterval() == switch


@pytest.mark.postgres
def test_an_error_while_a_batch_is_in_flight_waits_for_it_before_the_rollback(tmp_path, master, monkeypatch):
    """The writer thread is slowed down so that the file error surely comes while it is
    still writing: the rollback must wait for it (the connection admits one statement at
    a time), and the connection is usable afterwards."""
    sent = bulk.copy_write

    def slow(cursor, copy, leading=None):
        time.sleep(0.2)
        sent(cursor, copy, leading)

    monkeypatch.setattr(bulk, "copy_write", slow)

    run = import_file(entity="tickets", path=_malformed_after_ten_rows(tmp_path), mode="lenient", batch_size=3)

    assert not [t for t in threading.enumerate() if t.name == "intake-writer"]  # nothing still writing
    assert run.status == ImportStatus.REJECTED
    assert Ticket.objects.count() == 0 and TicketEvent.objects.count() == 0


@pytest.mark.postgres
def test_a_batch_the_database_refuses_is_retried_row_by_row(tmp_path, master, monkeypatch):
    """A reference that vanished after it was checked (simulated: a customer id that does
    not exist) fails the batch's foreign-key checks in the writer thread; the batch is
    rolled back to its savepoint and written row by row, refusing only that row."""
    checked = _Engine._create_pending

    def vanish(self, rows):
        good = checked(self, rows)
        for row in good:
            if row.values["external_id"] == "T04":
                row.merged["customer"] = 10**12
        return good

    monkeypatch.setattr(_Engine, "_create_pending", vanish)
    path = write_csv(tmp_path / "tickets.csv", HEADER, _rows(8))

    run = import_file(entity="tickets", path=path, mode="lenient", batch_size=3)

    assert (run.status, run.created, run.rejected) == (ImportStatus.SUCCEEDED, 7, 1)
    (error,) = run.errors.all()
    assert (error.row, error.code) == (5, RowErrorCode.DATABASE)
    assert "refused by the database" in error.reason and "foreign key" in error.reason
    assert sorted(Ticket.objects.values_list("external_id", flat=True)) == [f"T{n:02d}" for n in range(8) if n != 4]
    assert TicketEvent.objects.count() == 7
    with connection.cursor() as cursor:  # nothing left for the commit to refuse
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
