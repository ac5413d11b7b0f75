"""The import engine's modes and upsert: strict writes nothing when one row is bad,
lenient writes the good rows, a dry run writes nothing; importing a row whose key exists
updates it, and importing the same file twice leaves the database exactly as after the
first import. The history row (ImportRun) is kept in every case."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Customer, Region
from intake.models import ImportRun, ImportStatus
from intake.services import import_directory, import_file, import_records, import_run_summary, import_runs_reap
from tests.intake.import_helpers import dump_domain, errors_of, make_master, write_csv
from tickets.models import Team, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

HEADER = [
    "external_id",
    "customer",
    "unit",
    "type",
    "channel",
    "priority",
    "subject",
    "team",
    "assignee",
    "created_at",
    "assigned_at",
    "dispatch_method",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "visits",
]
GOOD = [
    [
        "T1",
        "C1",
        "U1",
        "repair",
        "phone",
        "high",
        "No water",
        "East Service",
        "li.na",
        "2025-03-01T09:00:00+08:00",
        "2025-03-01T09:10:00+08:00",
        "auto",
        "2025-03-01T09:30:00+08:00",
        "2025-03-02T15:00:00+08:00",
        "2025-03-03T10:00:00+08:00",
        "2",
    ],
    [
        "T2",
        "C2",
        "",
        "inquiry",
        "wechat",
        "",
        "How to descale",
        "",
        "",
        "2025-03-02T10:00:00+08:00",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "T3",
        "C3",
        "U3",
        "complaint",
        "web",
        "urgent",
        "Late visit",
        "Night Shift",
        "li.na",
        "2025-03-02T11:00:00",
        "2025-03-02T11:05:00",
        "manual",
        "2025-03-02T12:00:00",
        "",
        "",
        "1",
    ],
]
BAD = [
    "T4",
    "C1",
    "",
    "repair",
    "phone",
    "",
    "Noise",
    "",
    "",
    "2025-03-05T10:00:00",
    "2025-03-05T09:00:00",
    "",
    "",
    "",
    "",
    "",
]


@pytest.fixture
def master(db):
    return make_master()


def test_strict_rejects_the_whole_file_for_one_bad_row(tmp_path, master):
    before = dump_domain()
    path = write_csv(tmp_path / "tickets.csv", HEADER, [*GOOD, BAD])

    run = import_file(entity="tickets", path=path, mode="strict")

    assert dump_domain() == before  # not even the "Night Shift" team
    assert (run.status, run.rows, run.created, run.updated, run.rejected) == (ImportStatus.REJECTED, 4, 0, 0, 1)
    assert errors_of(run) == [
        (4, "assigned_at", "2025-03-05T09:00:00", "must not be before created_at (2025-03-05T10:00:00+08:00)")
    ]
    assert run.warnings == []
    assert run.finished_at is not None
    assert ImportRun.objects.get(pk=run.pk).status == ImportStatus.REJECTED  # the history row is stored
    # Nothing was written or compared: the three good new rows are not "unchanged".
    assert import_run_summary(run)["unchanged"] == 0


def test_lenient_writes_the_good_rows(tmp_path, master):
    path = write_csv(tmp_path / "tickets.csv", HEADER, [*GOOD, BAD])

    run = import_file(entity="tickets", path=path, mode="lenient")

    assert (run.status, run.rows, run.created, run.updated, run.rejected) == (ImportStatus.SUCCEEDED, 4, 3, 0, 1)
    assert run.warnings == ["team “Night Shift” is unknown: created"]
    assert set(Ticket.objects.values_list("external_id", flat=True)) == {"T1", "T2", "T3"}
    t1, t2, t3 = Ticket.objects.order_by("external_id")
    # status derived from the timestamps
    assert (t1.status, t2.status, t3.status) == ("closed", "new", "in_progress")
    assert (t1.priority, t2.priority, t1.visits, t2.visits, t2.reassignments) == ("high", "normal", 2, 1, 0)
    assert (t1.dispatch_method, t2.dispatch_method, t3.team.name) == ("auto", "", "Night Shift")
    assert t1.response_due_at is None  # kept as given: absent
    # one "created" event per new ticket, at its creation
    events = list(
        TicketEvent.objects.order_by("ticket__external_id").values_list(
            "ticket__external_id", "kind", "at", "actor", "to_value", "public"
        )
    )
    assert events == [
        ("T1", "created", dt.datetime(2025, 3, 1, 1, 0, tzinfo=dt.UTC), None, "new", True),
        ("T2", "created", dt.datetime(2025, 3, 2, 2, 0, tzinfo=dt.UTC), None, "new", True),
        ("T3", "created", dt.datetime(2025, 3, 2, 3, 0, tzinfo=dt.UTC), None, "new", True),
    ]


def test_a_dry_run_writes_nothing_but_reports_what_would_happen(tmp_path, master):
    before = dump_domain()
    path = write_csv(tmp_path / "tickets.csv", HEADER, [*GOOD, BAD])

    run = import_file(entity="tickets", path=path, mode="lenient", dry_run=True)

    assert dump_domain() == before
    assert (run.status, run.dry_run, run.created, run.rejected) == (ImportStatus.DRY_RUN, True, 3, 1)
    assert run.warnings == ["team “Night Shift” is unknown: created"]
    assert len(errors_of(run)) == 1
    strict = import_file(entity="tickets", path=path, mode="strict", dry_run=True)
    assert (strict.status, strict.created, strict.rejected) == (ImportStatus.DRY_RUN, 0, 1)
    assert dump_domain() == before


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path, master):
    customers = write_csv(
        tmp_path / "customers.csv",
        ["external_id", "name", "region", "segment", "city", "created_at"],
        [
            ["C1", "Customer 1", "华东", "", "", "2024-01-01T08:00:00+08:00"],
            ["C9", "New", "north", "vip", "Jinan", "2025-01-01"],
        ],
    )
    tickets = write_csv(tmp_path / "tickets.csv", HEADER, GOOD)
    first = [import_file(entity="customers", path=customers), import_file(entity="tickets", path=tickets)]
    assert [(r.created, r.updated) for r in first] == [(1, 0), (3, 0)]
    after_first = dump_domain()

    again = [import_file(entity="customers", path=customers), import_file(entity="tickets", path=tickets)]

    assert dump_domain() == after_first  # every field of every row, updated_at and version too
    assert [(r.rows, r.created, r.updated, r.rejected) for r in again] == [(2, 0, 0, 0), (3, 0, 0, 0)]
    assert [import_run_summary(r)["unchanged"] for r in again] == [2, 3]


def test_a_changed_row_updates_the_record_and_bumps_the_version(tmp_path, master):
    path = write_csv(tmp_path / "tickets.csv", HEADER, GOOD)
    import_file(entity="tickets", path=path)
    t2 = Ticket.objects.get(external_id="T2")
    events = TicketEvent.objects.count()
    changed = [row[:] for row in GOOD]
    changed[1][5] = "low"  # T2's priority
    changed[1][12] = "2025-03-02T10:30:00+08:00"  # T2 got its first response

    run = import_file(entity="tickets", path=write_csv(tmp_path / "tickets2.csv", HEADER, changed))

    assert (run.created, run.updated, run.rejected, import_run_summary(run)["unchanged"]) == (0, 1, 0, 2)
    t2_after = Ticket.objects.get(external_id="T2")
    assert (t2_after.priority, t2_after.status, t2_after.version) == ("low", "in_progress", t2.version + 1)
    assert t2_after.updated_at > t2.updated_at
    assert t2_after.public_id == t2.public_id
    assert TicketEvent.objects.count() == events  # updates write no event
    assert Ticket.objects.get(external_id="T1").version == 1


def test_columns_missing_from_an_update_file_keep_their_values(tmp_path, master):
    import_file(entity="tickets", path=write_csv(tmp_path / "tickets.csv", HEADER, GOOD))
    path = write_csv(
        tmp_path / "closing.csv",
        ["external_id", "customer", "subject", "created_at", "resolved_at", "closed_at"],
        [["T3", "C3", "Late visit", "2025-03-02T11:00:00", "2025-03-03T11:00:00", "2025-03-04T11:00:00"]],
    )

    run = import_file(entity="tickets", path=path)

    assert (run.updated, run.rejected) == (1, 0)
    t3 = Ticket.objects.get(external_id="T3")
    assert (t3.status, t3.type, t3.channel, t3.priority, t3.assignee.username) == (
        "closed",
        "complaint",
        "web",
        "urgent",
        "li.na",
    )


def test_an_update_is_checked_against_the_stored_values(tmp_path, master):
    import_file(entity="tickets", path=write_csv(tmp_path / "tickets.csv", HEADER, GOOD))
    path = write_csv(
        tmp_path / "closing.csv",
        ["external_id", "customer", "subject", "created_at", "closed_at"],
        [["T3", "C3", "Late visit", "2025-03-02T11:00:00", "2025-03-04T11:00:00"]],
    )

    run = import_file(entity="tickets", path=path)

    assert errors_of(run) == [(1, "resolved_at", "", "required when closed_at is given")]


def test_an_explicit_status_column_is_validated_and_kept(tmp_path, master):
    path = write_csv(
        tmp_path / "tickets.csv",
        ["external_id", "customer", "type", "channel", "subject", "created_at", "status"],
        [
            ["T1", "C1", "repair", "phone", "x", "2025-03-01", "waiting_customer"],
            ["T2", "C1", "repair", "phone", "y", "2025-03-01", "lost"],
            ["T3", "C1", "repair", "phone", "z", "2025-03-01", ""],
        ],
    )

    run = import_file(entity="tickets", path=path, mode="lenient")

    assert errors_of(run) == [
        (2, "status", "lost", "must be one of: new, assigned, in_progress, waiting_customer, resolved, closed")
    ]
    assert dict(Ticket.objects.values_list("external_id", "status")) == {"T1": "waiting_customer", "T3": "new"}


def test_records_use_the_same_validation_and_upsert(master):
    record = {
        "external_id": "T1",
        "customer": "C1",
        "type": "repair",
        "channel": "phone",
        "subject": "x",
        "created_at": "2025-03-01T09:00:00+08:00",
    }
    first = import_records(entity="tickets", records=[record])
    again = import_records(entity="tickets", records=[record])
    changed = import_records(entity="tickets", records=[{**record, "subject": "y"}])

    assert [(r.created, r.updated, r.source) for r in (first, again, changed)] == [
        (1, 0, "api"),
        (0, 0, "api"),
        (0, 1, "api"),
    ]
    assert Ticket.objects.get().subject == "y"


def test_a_dry_run_of_a_directory_sees_the_earlier_files(tmp_path, master):
    write_csv(
        tmp_path / "customers.csv",
        ["external_id", "name", "region", "created_at"],
        [["C50", "New customer", "East", "2025-01-01"]],
    )
    write_csv(
        tmp_path / "tickets.csv",
        HEADER[:1] + HEADER[1:2] + ["type", "channel", "subject", "created_at"],
        [["T50", "C50", "repair", "phone", "x", "2025-03-01"]],
    )
    before = dump_domain()

    runs = import_directory(directory=tmp_path, dry_run=True)

    assert [(r.entity, r.status, r.created, r.rejected) for r in runs] == [
        ("customers", ImportStatus.DRY_RUN, 1, 0),
        ("tickets", ImportStatus.DRY_RUN, 1, 0),
    ]
    assert dump_domain() == before


# --- interrupted runs --------------------------------------------------------------------------


def test_the_reaper_marks_runs_left_running_as_failed(master):
    stale = ImportRun.objects.create(entity="tickets", file_name="big.csv", status=ImportStatus.RUNNING)
    fresh = ImportRun.objects.create(entity="tickets", file_name="now.csv", status=ImportStatus.RUNNING)
    done = ImportRun.objects.create(entity="tickets", file_name="old.csv", status=ImportStatus.SUCCEEDED)
    long_ago = timezone.now() - dt.timedelta(minutes=11)
    ImportRun.objects.filter(pk__in=[stale.pk, done.pk]).update(started_at=long_ago)

    assert import_runs_reap() == 1

    stale.refresh_from_db()
    assert (stale.status, stale.message) == (ImportStatus.FAILED, "interrupted")
    assert stale.finished_at is not None
    assert ImportRun.objects.get(pk=fresh.pk).status == ImportStatus.RUNNING
    assert ImportRun.objects.get(pk=done.pk).status == ImportStatus.SUCCEEDED


def test_a_run_that_still_reports_progress_is_not_reaped(master):
    from intake.services import _heartbeat

    run = ImportRun.objects.create(entity="tickets", file_name="big.csv", status=ImportStatus.RUNNING)
    ImportRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    _heartbeat(run.pk, ImportRun.objects.get(pk=run.pk).started_at)  # what the engine does after every batch

    assert import_runs_reap() == 0
    assert import_runs_reap(now=timezone.now() + dt.timedelta(minutes=11)) == 1


def test_the_next_import_reaps_interrupted_runs(tmp_path, master):
    stale = ImportRun.objects.create(entity="tickets", file_name="big.csv", status=ImportStatus.RUNNING)
    ImportRun.objects.filter(pk=stale.pk).update(started_at=timezone.now() - dt.timedelta(hours=2))

    import_file(entity="tickets", path=write_csv(tmp_path / "tickets.csv", HEADER, []))

    assert ImportRun.objects.get(pk=stale.pk).status == ImportStatus.FAILED


def test_progress_is_reported_after_every_batch(tmp_path, master):
    rows = [
        [f"T{n}", "C1", "", "repair", "phone", "", "x", "", "", "2025-03-01", "", "", "", "", "", ""] for n in range(7)
    ]
    seen = []

    import_file(entity="tickets", path=write_csv(tmp_path / "t.csv", HEADER, rows), batch_size=3, progress=seen.append)

    assert seen == [3, 6, 7]


def test_the_history_row_records_user_source_and_profile(tmp_path, master):
    run = import_file(
        entity="customers",
        path=write_csv(tmp_path / "c.csv", ["external_id", "name", "region", "created_at"], []),
        user=master["agent"],
        source="web",
    )

    run.refresh_from_db()
    assert (run.user, run.source, run.file_name, run.mode) == (master["agent"], "web", "c.csv", "strict")
    assert run.started_at <= run.finished_at
    assert Region.objects.count() == 1 and Team.objects.count() == 1 and Customer.objects.count() == 3


def test_a_run_created_by_the_caller_is_used_and_not_reaped(tmp_path, master):
    """The upload page creates the run (queued, possibly long ago) and hands it in."""
    run = ImportRun.objects.create(entity="customers", file_name="upload.csv", status=ImportStatus.RUNNING)
    ImportRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    run.refresh_from_db()
    path = write_csv(
        tmp_path / "c.csv", ["external_id", "name", "region", "created_at"], [["C9", "x", "East", "2025-01-01"]]
    )

    done = import_file(entity="customers", path=path, run=run, source="web")

    assert (done.pk, done.file_name, done.status, done.created) == (run.pk, "upload.csv", ImportStatus.SUCCEEDED, 1)
    assert ImportRun.objects.count() == 1
