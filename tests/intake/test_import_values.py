"""The import engine, cell level: types, enums, references, duplicate keys, time zones
and mapping profiles. Every rejected cell is reported with its row, column, value and
reason (DATA_CONTRACT.md "General rules")."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.models import Customer
from intake.models import ImportStatus, MappingProfile
from intake.services import import_file, import_records
from quality.models import Failure
from tests.factories import FailureModeFactory
from tests.intake.import_helpers import errors_of, make_master, write_csv
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

TICKET_HEADER = ["external_id", "customer", "type", "channel", "subject", "created_at"]


@pytest.fixture
def master(db):
    return make_master()


def test_bad_timestamps_numbers_and_enums_are_reported_cell_by_cell(tmp_path, master):
    header = [*TICKET_HEADER, "priority", "visits", "reassignments", "assigned_at"]
    rows = [
        ["T1", "C1", "repair", "phone", "ok", "2025-03-01T09:30:00+08:00", "high", "2", "0", ""],
        ["T2", "C1", "repairs", "fax", "bad", "2025-13-01", "asap", "two", "-1", "yesterday"],
        ["T3", "C1", "Repair", "PHONE", "case", "2025-03-01 09:30", "", "1.0", "", "2025-03-01T10:00"],
    ]
    path = write_csv(tmp_path / "tickets.csv", header, rows)

    run = import_file(entity="tickets", path=path, mode="lenient")

    assert (run.rows, run.created, run.rejected) == (3, 1, 2)
    assert errors_of(run) == [
        (2, "type", "repairs", "must be one of: repair, complaint, inquiry, installation, preventive"),
        (2, "channel", "fax", "must be one of: phone, web, app, wechat, email, store, onsite"),
        (2, "created_at", "2025-13-01", "not a valid timestamp"),
        (2, "priority", "asap", "must be one of: urgent, high, normal, low"),
        (2, "visits", "two", "not a whole number"),
        (2, "reassignments", "-1", "must be at least 0"),
        (2, "assigned_at", "yesterday", "not a valid timestamp"),
        (3, "visits", "1.0", "not a whole number"),
    ]
    ticket = Ticket.objects.get()
    assert (ticket.external_id, ticket.priority, ticket.visits) == ("T1", "high", 2)


def test_enum_values_match_case_insensitively(tmp_path, master):
    path = write_csv(tmp_path / "tickets.csv", TICKET_HEADER, [["T1", "C1", "Repair", " WeChat ", "x", "2025-03-01"]])

    run = import_file(entity="tickets", path=path)

    assert run.created == 1
    assert (Ticket.objects.get().type, Ticket.objects.get().channel) == ("repair", "wechat")


def test_decimals_are_rounded_to_the_stored_precision_and_checked(tmp_path, master):
    FailureModeFactory(code="MECH")
    Ticket.objects.create(
        external_id="T1",
        customer=master["customers"][0],
        type="repair",
        channel="phone",
        subject="x",
        created_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
    )
    header = ["external_id", "ticket", "unit", "failure_mode", "occurred_at", "labor_hours", "parts_cost"]
    rows = [
        ["F1", "T1", "U1", "MECH", "2025-03-01T12:00:00Z", "1.255", ""],
        ["F2", "T1", "U1", "MECH", "2025-03-01T12:00:00Z", "abc", "-3"],
        ["F3", "T1", "U1", "MECH", "2025-03-01T12:00:00Z", "1000000", "NaN"],
    ]
    path = write_csv(tmp_path / "failures.csv", header, rows)

    run = import_file(entity="failures", path=path, mode="lenient")

    assert errors_of(run) == [
        (2, "labor_hours", "abc", "not a number"),
        (2, "parts_cost", "-3", "must be at least 0"),
        (3, "labor_hours", "1000000", "too large: at most 6 digits before the decimal point"),
        (3, "parts_cost", "NaN", "not a number"),
    ]
    failure = Failure.objects.get()
    assert (failure.labor_hours, failure.parts_cost) == (Decimal("1.26"), Decimal("0.00"))


def test_text_longer_than_the_field_and_nul_characters_are_refused(tmp_path, master):
    path = write_csv(
        tmp_path / "customers.csv",
        ["external_id", "name", "region", "created_at"],
        [["C" * 65, "x", "East", "2025-01-01"], ["C9", "a\x00b", "East", "2025-01-01"]],
    )

    run = import_file(entity="customers", path=path, mode="lenient")

    assert [(r, c, reason) for r, c, _v, reason in errors_of(run)] == [
        (1, "external_id", "longer than 64 characters"),
        (2, "name", "contains a NUL character"),
    ]
    assert errors_of(run)[1][2] == "a\\x00b"  # stored visibly (PostgreSQL refuses NUL characters)


def test_required_cells_must_not_be_empty(tmp_path, master):
    path = write_csv(tmp_path / "tickets.csv", TICKET_HEADER, [["T1", "", "repair", "phone", "  ", "2025-03-01"]])

    run = import_file(entity="tickets", path=path)

    assert run.status == ImportStatus.REJECTED
    assert errors_of(run) == [(1, "customer", "", "required"), (1, "subject", "  ", "required")]


def test_a_new_ticket_needs_type_and_channel_even_when_the_columns_are_missing(tmp_path, master):
    path = write_csv(
        tmp_path / "tickets.csv",
        ["external_id", "customer", "subject", "created_at"],
        [["T1", "C1", "x", "2025-03-01"]],
    )

    run = import_file(entity="tickets", path=path)

    assert errors_of(run) == [
        (1, "type", "", "required for a new record"),
        (1, "channel", "", "required for a new record"),
    ]


def test_references_to_unknown_records_are_rejected(tmp_path, master):
    header = [*TICKET_HEADER, "unit", "assignee", "team"]
    rows = [
        ["T1", "C404", "repair", "phone", "x", "2025-03-01", "U404", "nobody", "East Service"],
        ["T2", "C1", "repair", "phone", "x", "2025-03-01", "U1", "li.na", "East Service"],
    ]
    path = write_csv(tmp_path / "tickets.csv", header, rows)

    run = import_file(entity="tickets", path=path, mode="lenient")

    assert (run.created, run.rejected) == (1, 1)
    assert errors_of(run) == [
        (1, "customer", "C404", "unknown customer “C404”"),
        (1, "unit", "U404", "unknown unit “U404”"),
        (1, "assignee", "nobody", "unknown user “nobody”"),
    ]
    ticket = Ticket.objects.get()
    assert (ticket.unit.serial, ticket.assignee.username, ticket.team.name) == ("U1", "li.na", "East Service")


def test_an_unknown_team_is_created_with_a_warning(tmp_path, master):
    path = write_csv(
        tmp_path / "tickets.csv",
        [*TICKET_HEADER, "team"],
        [
            ["T1", "C1", "repair", "phone", "x", "2025-03-01", "Night Shift"],
            ["T2", "C2", "repair", "web", "y", "2025-03-01", "Night Shift"],
        ],
    )

    run = import_file(entity="tickets", path=path)

    assert run.created == 2
    assert run.warnings == ["team “Night Shift” is unknown: created"]
    assert set(Ticket.objects.values_list("team__name", flat=True)) == {"Night Shift"}


def test_duplicate_keys_inside_one_file_reject_the_later_row(tmp_path, master):
    rows = [
        ["T1", "C1", "repair", "phone", "first", "2025-03-01"],
        ["T2", "C1", "repair", "phone", "other", "2025-03-01"],
        ["T1", "C2", "repair", "phone", "second", "2025-03-02"],
    ]
    path = write_csv(tmp_path / "tickets.csv", TICKET_HEADER, rows)

    run = import_file(entity="tickets", path=path, mode="lenient")

    assert (run.created, run.rejected) == (2, 1)
    assert errors_of(run) == [(3, "external_id", "T1", "duplicate key; first seen at row 1")]
    assert Ticket.objects.get(external_id="T1").subject == "first"


def test_duplicate_keys_are_found_across_batches(tmp_path, master):
    rows = [[f"T{n}", "C1", "repair", "phone", "x", "2025-03-01"] for n in range(1, 8)]
    rows.append(["T2", "C1", "repair", "phone", "again", "2025-03-01"])
    path = write_csv(tmp_path / "tickets.csv", TICKET_HEADER, rows)

    run = import_file(entity="tickets", path=path, mode="lenient", batch_size=3)

    assert (run.created, run.rejected) == (7, 1)
    assert errors_of(run) == [(8, "external_id", "T2", "duplicate key; first seen at row 2")]


# --- time zones and mapping profiles ----------------------------------------------------------


def test_timestamps_with_an_offset_are_taken_as_given_and_without_one_as_shanghai_time(tmp_path, master):
    header = ["external_id", "name", "region", "created_at"]
    rows = [
        ["C10", "offset", "East", "2025-03-01T09:30:00+08:00"],
        ["C11", "utc", "East", "2025-03-01T01:30:00Z"],
        ["C12", "local", "East", "2025-03-01T09:30:00"],
        ["C13", "date only", "East", "2025-03-01"],
        ["C14", "other offset", "East", "2025-03-01T09:30:00-05:00"],
    ]
    path = write_csv(tmp_path / "customers.csv", header, rows)

    import_file(entity="customers", path=path)

    stored = dict(
        Customer.objects.filter(external_id__in=["C10", "C11", "C12", "C13", "C14"]).values_list(
            "external_id", "created_at"
        )
    )
    utc = dt.UTC
    assert stored == {
        "C10": dt.datetime(2025, 3, 1, 1, 30, tzinfo=utc),
        "C11": dt.datetime(2025, 3, 1, 1, 30, tzinfo=utc),
        "C12": dt.datetime(2025, 3, 1, 1, 30, tzinfo=utc),
        "C13": dt.datetime(2025, 2, 28, 16, 0, tzinfo=utc),
        "C14": dt.datetime(2025, 3, 1, 14, 30, tzinfo=utc),
    }


def test_the_site_time_zone_setting_is_used_for_local_timestamps(tmp_path, master, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    path = write_csv(
        tmp_path / "customers.csv",
        ["external_id", "name", "region", "created_at"],
        [["C10", "x", "East", "2025-07-01T12:00"]],
    )

    import_file(entity="customers", path=path)

    assert Customer.objects.get(external_id="C10").created_at == dt.datetime(2025, 7, 1, 10, 0, tzinfo=dt.UTC)


def test_a_mapping_profile_renames_columns_maps_values_and_reads_its_date_format_and_zone(tmp_path, master):
    profile = MappingProfile.objects.create(
        name="Old CRM",
        entity="tickets",
        column_map={"Ticket No": "external_id", "Client": "customer", "Opened": "created_at", "Source": "channel"},
        value_map={"channel": {"微信": "wechat", "Hotline": "phone"}, "type": {"维修": "repair"}},
        datetime_formats=["%d.%m.%Y %H:%M"],
        time_zone="Europe/Berlin",
    )
    header = ["ticket no", "CLIENT", "Source", "type", "subject", "opened"]
    rows = [
        ["T1", "C1", "微信", "维修", "no water", "01.07.2025 12:00"],
        ["T2", "C2", "hotline", "repair", "noise", "2025-07-01T12:00:00+08:00"],
    ]
    path = write_csv(tmp_path / "old_crm.csv", header, rows)

    run = import_file(entity="tickets", path=path, profile=profile)

    assert (run.status, run.created, run.warnings) == (ImportStatus.SUCCEEDED, 2, [])
    first, second = Ticket.objects.order_by("external_id")
    assert (first.channel, first.type) == ("wechat", "repair")
    assert first.created_at == dt.datetime(2025, 7, 1, 10, 0, tzinfo=dt.UTC)  # 12:00 in Berlin (CEST)
    assert second.channel == "phone"
    assert second.created_at == dt.datetime(2025, 7, 1, 4, 0, tzinfo=dt.UTC)  # ISO with offset still works
    assert run.profile == profile


def test_regions_go_through_the_alias_table(tmp_path, master):
    profile = MappingProfile.objects.create(name="regions", value_map={"region": {"华东区": "华东"}})
    header = ["external_id", "name", "region", "created_at"]
    rows = [
        ["C10", "a", "华东", "2025-01-01"],
        ["C11", "b", " East  China ", "2025-01-01"],
        ["C12", "c", "华东区", "2025-01-01"],
        ["C13", "d", "Far West", "2025-01-01"],
    ]
    path = write_csv(tmp_path / "customers.csv", header, rows)

    import_file(entity="customers", path=path, profile=profile)

    regions = dict(
        Customer.objects.filter(external_id__in=["C10", "C11", "C12", "C13", "C14"]).values_list(
            "external_id", "region__name"
        )
    )
    assert regions == {"C10": "East", "C11": "East", "C12": "East", "C13": "Far West"}


def test_an_unknown_profile_time_zone_is_a_file_error(tmp_path, master):
    profile = MappingProfile.objects.create(name="bad tz", time_zone="Mars/Olympus")
    path = write_csv(tmp_path / "customers.csv", ["external_id", "name", "region", "created_at"], [])

    run = import_file(entity="customers", path=path, profile=profile)

    assert run.status == ImportStatus.REJECTED
    assert errors_of(run) == [(0, "", "", "the mapping profile's time zone “Mars/Olympus” is unknown")]


# --- JSON records --------------------------------------------------------------------------


def test_records_take_json_values_and_report_list_positions(master):
    records = [
        {
            "external_id": "T1",
            "customer": "C1",
            "type": "repair",
            "channel": "app",
            "subject": "x",
            "created_at": "2025-03-01T09:00:00+08:00",
            "visits": 2,
            "reopened_count": None,
        },
        {
            "external_id": "T2",
            "customer": "C1",
            "type": "repair",
            "channel": "app",
            "subject": "y",
            "created_at": "2025-03-01",
            "visits": 2.5,
        },
        {
            "External_ID": "T3",
            "customer": "C1",
            "type": "repair",
            "channel": "app",
            "created_at": "2025-03-01",
            "colour": "red",
        },
        "not an object",
    ]

    run = import_records(entity="tickets", records=records, mode="lenient")

    assert (run.rows, run.created, run.rejected) == (4, 1, 3)
    assert errors_of(run) == [
        (2, "visits", "2.5", "not a whole number"),
        (3, "subject", "", "required column missing"),
        (4, "", "not an object", "not an object with the template's columns"),
    ]
    assert run.warnings == ["unknown column ignored: colour"]
    ticket = Ticket.objects.get()
    assert (ticket.visits, ticket.reopened_count) == (2, 0)
