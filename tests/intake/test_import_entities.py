"""Every entity of DATA_CONTRACT.md imported from a hand-made file, and each of its
cross-field rules refused when broken. Files are imported in contract order, each on
top of the previous ones, from an empty database."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.models import Batch, Component, Customer, ProductLine, ProductModel, Region, RegionAlias, Supplier, Unit
from intake.models import ImportStatus
from intake.services import import_file
from quality.models import Failure, FailureMode, Recall, RecallUnit
from tests.factories import UserFactory
from tests.intake.import_helpers import errors_of, write_csv
from tickets.models import Survey, Ticket

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _import(tmp_path, entity, header, rows, **kwargs):
    return import_file(entity=entity, path=write_csv(tmp_path / f"{entity}.csv", header, rows), **kwargs)


def _ok(run, created):
    assert errors_of(run) == []
    assert (run.status, run.created) == (ImportStatus.SUCCEEDED, created)


@pytest.fixture
def loaded(tmp_path):
    """customers .. recalls of a small plant, each file imported by the engine."""
    east = Region.objects.create(key="east", name="East")
    RegionAlias.objects.create(key="华东", region=east)
    UserFactory(username="wang.fang")
    _ok(
        _import(
            tmp_path,
            "customers",
            ["external_id", "name", "region", "segment", "city", "created_at"],
            [
                ["C1", "Zhang Wei", "华东", "vip", "Shanghai", "2024-05-01T10:00:00+08:00"],
                ["C2", "Acme Laundry", "north china", "business", "", "2024-06-01"],
            ],
        ),
        2,
    )
    _ok(
        _import(
            tmp_path,
            "product_models",
            ["code", "name", "product_line", "launched_on"],
            [["WM1", "Washer 1", "washer", "2023-03-01"], ["AC1", "Air con 1", "air_conditioner", ""]],
        ),
        2,
    )
    _ok(_import(tmp_path, "suppliers", ["code", "name"], [["SUP1", "Bearings Ltd"], ["SUP2", "Motors Inc"]]), 2)
    _ok(
        _import(
            tmp_path,
            "components",
            ["code", "name", "supplier"],
            [["BRG", "Drum bearing", "SUP1"], ["PCB", "Control board", ""]],
        ),
        2,
    )
    _ok(
        _import(
            tmp_path,
            "batches",
            ["code", "product_model", "produced_on", "quantity", "plant"],
            [["B1", "WM1", "2025-01-10", "100", "Suzhou"], ["B2", "AC1", "2025-02-10", "20", ""]],
        ),
        2,
    )
    _ok(
        _import(
            tmp_path,
            "units",
            ["serial", "product_model", "batch", "customer", "sold_on", "warranty_months"],
            [
                ["U1", "WM1", "B1", "C1", "2025-02-01", "36"],
                ["U2", "WM1", "B1", "", "", ""],
                ["U3", "AC1", "B2", "C2", "2025-03-01", ""],
                ["U4", "AC1", "", "C2", "2025-03-01", ""],
            ],
        ),
        4,
    )
    _ok(
        _import(
            tmp_path,
            "tickets",
            [
                "external_id",
                "customer",
                "unit",
                "type",
                "channel",
                "subject",
                "assignee",
                "created_at",
                "assigned_at",
                "first_response_at",
                "resolved_at",
                "closed_at",
                "follow_up_at",
                "response_due_at",
                "resolution_due_at",
                "reassignments",
                "visits",
                "reopened_count",
            ],
            [
                [
                    "T1",
                    "C1",
                    "U1",
                    "repair",
                    "phone",
                    "Drum noise",
                    "wang.fang",
                    "2025-04-01T09:00:00+08:00",
                    "2025-04-01T09:05:00+08:00",
                    "2025-04-01T09:20:00+08:00",
                    "2025-04-02T17:00:00+08:00",
                    "2025-04-03T09:00:00+08:00",
                    "2025-04-05T10:00:00+08:00",
                    "2025-04-01T11:00:00+08:00",
                    "2025-04-03T09:00:00+08:00",
                    "1",
                    "2",
                    "0",
                ],
                [
                    "T2",
                    "C2",
                    "U3",
                    "installation",
                    "store",
                    "Install AC",
                    "",
                    "2025-04-02T10:00:00+08:00",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ],
            ],
        ),
        2,
    )
    return tmp_path


def test_master_data_is_imported_with_its_references(loaded):
    assert dict(Customer.objects.values_list("external_id", "region__name")) == {"C1": "East", "C2": "north china"}
    assert Customer.objects.get(external_id="C2").segment == "business"
    assert set(ProductLine.objects.values_list("code", "name")) == {
        ("washer", "washer"),
        ("air_conditioner", "air_conditioner"),
    }
    assert ProductModel.objects.get(code="WM1").launched_on == dt.date(2023, 3, 1)
    assert Component.objects.get(code="BRG").supplier == Supplier.objects.get(code="SUP1")
    assert Component.objects.get(code="PCB").supplier is None
    assert (Batch.objects.get(code="B1").quantity, Batch.objects.get(code="B1").plant) == (100, "Suzhou")
    units = {u.serial: u for u in Unit.objects.select_related("batch", "customer")}
    assert (units["U1"].warranty_months, units["U2"].warranty_months, units["U2"].customer) == (36, 24, None)
    assert units["U4"].batch is None


def test_tickets_are_imported_with_every_timestamp(loaded):
    t1 = Ticket.objects.get(external_id="T1")
    assert t1.status == "closed"
    assert t1.follow_up_at == dt.datetime(2025, 4, 5, 2, 0, tzinfo=UTC)
    assert t1.response_due_at == dt.datetime(2025, 4, 1, 3, 0, tzinfo=UTC)
    assert (t1.reassignments, t1.visits, t1.reopened_count, t1.assignee.username) == (1, 2, 0, "wang.fang")
    assert Ticket.objects.get(external_id="T2").status == "new"


def test_product_lines_are_created_with_a_warning(tmp_path, loaded):
    run = _import(tmp_path, "product_models", ["code", "name", "product_line"], [["DW1", "Dishwasher", "dishwasher"]])

    assert run.warnings == ["product line “dishwasher” is unknown: created"]
    assert ProductModel.objects.get(code="DW1").product_line.name == "dishwasher"


def test_suppliers_and_components_refuse_what_they_cannot_store(tmp_path, loaded):
    suppliers = _import(tmp_path, "suppliers", ["code"], [["SUP3"]], mode="lenient")
    components = _import(tmp_path, "components", ["code", "name", "supplier"], [["X1", "x", "SUP9"]], mode="lenient")

    assert errors_of(suppliers) == [(1, "name", "", "required for a new record")]
    assert errors_of(components) == [(1, "supplier", "SUP9", "unknown supplier “SUP9”")]
    # an existing supplier can be updated without its name column
    assert _import(tmp_path, "suppliers", ["code"], [["SUP1"]]).rows == 1


def test_batch_rules(tmp_path, loaded):
    run = _import(
        tmp_path,
        "batches",
        ["code", "product_model", "produced_on", "quantity"],
        [["B3", "WM1", "2025-03-10", "0"], ["B4", "XX9", "2025-03-10", "5"], ["B5", "WM1", "10/03/2025", "5"]],
        mode="lenient",
    )

    assert errors_of(run) == [
        (1, "quantity", "0", "must be at least 1"),
        (2, "product_model", "XX9", "unknown product model “XX9”"),
        (3, "produced_on", "10/03/2025", "not a valid date (YYYY-MM-DD)"),
    ]


def test_unit_rules(tmp_path, loaded):
    run = _import(
        tmp_path,
        "units",
        ["serial", "product_model", "batch", "customer", "sold_on"],
        [
            ["U10", "AC1", "B1", "", ""],  # B1 is a WM1 batch
            ["U11", "WM1", "B1", "C1", ""],  # sold to a customer: sold_on needed
            ["U12", "WM1", "B1", "C1", "2025-01-01"],  # sold before B1 was produced
            ["U13", "WM1", "B1", "C1", "2025-01-10"],  # sold on the production day: fine
        ],
        mode="lenient",
    )

    assert errors_of(run) == [
        (1, "product_model", "AC1", "must equal the batch's product_model"),
        (2, "sold_on", "", "required when customer is given"),
        (3, "sold_on", "2025-01-01", "must not be before the batch's produced_on (2025-01-10)"),
    ]
    assert run.created == 1


def test_unit_updates_are_checked_against_the_stored_batch(tmp_path, loaded):
    run = _import(tmp_path, "units", ["serial", "product_model"], [["U1", "AC1"]])

    assert errors_of(run) == [(1, "product_model", "AC1", "must equal the batch's product_model")]


def test_ticket_rules(tmp_path, loaded):
    header = [
        "external_id",
        "customer",
        "type",
        "channel",
        "subject",
        "created_at",
        "assigned_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "dispatch_method",
    ]
    created = "2025-05-01T10:00:00+08:00"
    earlier = "2025-05-01T09:00:00+08:00"
    later = "2025-05-02T10:00:00+08:00"
    run = _import(
        tmp_path,
        "tickets",
        header,
        [
            ["T10", "C1", "repair", "phone", "x", created, earlier, "", "", "", ""],
            ["T11", "C1", "repair", "phone", "x", created, "", earlier, "", "", ""],
            ["T12", "C1", "repair", "phone", "x", created, "", "", earlier, "", ""],
            ["T13", "C1", "repair", "phone", "x", created, "", "", later, created, ""],
            ["T14", "C1", "repair", "phone", "x", created, "", "", "", later, ""],
            ["T15", "C1", "repair", "phone", "x", created, later, "", "", "", "robot"],
        ],
        mode="lenient",
    )

    assert [(row, column, reason) for row, column, _v, reason in errors_of(run)] == [
        (1, "assigned_at", "must not be before created_at (2025-05-01T10:00:00+08:00)"),
        (2, "first_response_at", "must not be before created_at (2025-05-01T10:00:00+08:00)"),
        (3, "resolved_at", "must not be before created_at (2025-05-01T10:00:00+08:00)"),
        (4, "closed_at", "must not be before resolved_at (2025-05-02T10:00:00+08:00)"),
        (5, "resolved_at", "required when closed_at is given"),
        (6, "dispatch_method", "must be one of: auto, manual"),
    ]


def test_failures_are_imported_and_unknown_modes_go_under_unclassified(tmp_path, loaded):
    FailureMode.objects.create(code="MECH-BEARING", name_en="Bearing wear")
    header = [
        "external_id",
        "ticket",
        "unit",
        "failure_mode",
        "component",
        "occurred_at",
        "repaired_at",
        "root_cause_category",
        "labor_hours",
        "parts_cost",
    ]
    run = _import(
        tmp_path,
        "failures",
        header,
        [
            [
                "F1",
                "T1",
                "U1",
                "MECH-BEARING",
                "BRG",
                "2025-04-01T09:00:00+08:00",
                "2025-04-02T17:00:00+08:00",
                "supplier",
                "1.5",
                "120.00",
            ],
            ["F2", "T1", "U1", "ELEC-NEW", "", "2025-04-01T09:00:00+08:00", "", "", "", ""],
            ["F3", "T2", "U3", "ELEC-NEW", "PCB", "2025-04-02T09:00:00+08:00", "", "unknown", "0", "0"],
        ],
    )

    _ok(run, 3)
    assert run.warnings == ["failure mode “ELEC-NEW” is unknown: created under UNCLASSIFIED"]
    new = FailureMode.objects.get(code="ELEC-NEW")
    assert (new.name_en, new.parent.code) == ("ELEC-NEW", "UNCLASSIFIED")
    f1 = Failure.objects.get(external_id="F1")
    assert (f1.component.code, f1.root_cause_category, f1.labor_hours, f1.parts_cost) == (
        "BRG",
        "supplier",
        Decimal("1.50"),
        Decimal("120.00"),
    )
    f2 = Failure.objects.get(external_id="F2")
    assert (f2.component, f2.root_cause_category, f2.labor_hours, f2.repaired_at) == (None, "", Decimal("0"), None)


def test_failure_rules(tmp_path, loaded):
    header = ["external_id", "ticket", "unit", "failure_mode", "occurred_at", "repaired_at", "root_cause_category"]
    run = _import(
        tmp_path,
        "failures",
        header,
        [
            ["F1", "T1", "U1", "X", "2025-04-02T09:00:00", "2025-04-01T09:00:00", ""],
            ["F2", "T9", "U9", "X", "2025-04-02T09:00:00", "", "aliens"],
        ],
        mode="lenient",
    )

    assert [(row, column, reason) for row, column, _v, reason in errors_of(run)] == [
        (1, "repaired_at", "must not be before occurred_at (2025-04-02T09:00:00+08:00)"),
        (
            2,
            "root_cause_category",
            "must be one of: people, process, technology, customer, external, material, "
            "design, manufacturing, supplier, unknown",
        ),
        (2, "ticket", "unknown ticket “T9”"),
        (2, "unit", "unknown unit “U9”"),
    ]
    assert not FailureMode.objects.filter(code="X").exists()  # no valid row needed it


def test_surveys(tmp_path, loaded):
    header = ["external_id", "ticket", "customer", "responded_at", "csat", "nps", "comment"]
    run = _import(
        tmp_path,
        "surveys",
        header,
        [
            ["S1", "T1", "C1", "2025-04-06T10:00:00+08:00", "5", "9", "Quick and friendly"],
            ["S2", "", "C2", "2025-04-06", "", "3", ""],
            ["S3", "T1", "C1", "2025-04-06", "", "", "no score"],
            ["S4", "T1", "C1", "2025-04-06", "6", "11", ""],
            ["S5", "T1", "C1", "2025-04-06", "0", "-1", ""],
        ],
        mode="lenient",
    )

    assert errors_of(run) == [
        (3, "csat", "", "at least one of csat / nps is required"),
        (4, "csat", "6", "must be at most 5"),
        (4, "nps", "11", "must be at most 10"),
        (5, "csat", "0", "must be at least 1"),
        (5, "nps", "-1", "must be at least 0"),
    ]
    assert run.created == 2
    s1 = Survey.objects.get(external_id="S1")
    assert (s1.ticket.external_id, s1.csat, s1.nps, s1.comment) == ("T1", 5, 9, "Quick and friendly")
    assert Survey.objects.get(external_id="S2").ticket is None


def test_recalls_and_recall_units(tmp_path, loaded):
    _import(tmp_path, "units", ["serial", "product_model", "batch"], [["U5", "WM1", "B1"]])
    recalls = _import(
        tmp_path,
        "recalls",
        ["code", "title", "severity", "opened_at", "closed_at", "batches"],
        [
            ["RC1", "Drum bearing", "class_ii", "2025-05-01T09:00:00+08:00", "", "B1; B2;"],
            ["RC2", "Nothing", "class_iii", "2025-05-01", "2025-04-01", "B1"],
            ["RC3", "Ghost lots", "class_i", "2025-05-01", "", "B1;B7;B8"],
            ["RC4", "No lots", "class_ii", "2025-05-01", "", ";"],
            ["RC5", "Bad class", "class_iv", "2025-05-01", "", "B1"],
        ],
        mode="lenient",
    )
    assert errors_of(recalls) == [
        (2, "closed_at", "2025-04-01", "must not be before opened_at (2025-05-01T00:00:00+08:00)"),
        (3, "batches", "B1;B7;B8", "unknown batch: B7, B8"),
        (4, "batches", ";", "required"),
        (5, "severity", "class_iv", "must be one of: class_i, class_ii, class_iii"),
    ]
    rc1 = Recall.objects.get(code="RC1")
    assert set(rc1.batches.values_list("code", flat=True)) == {"B1", "B2"}

    units = _import(
        tmp_path,
        "recall_units",
        ["recall", "unit", "status", "remedied_at"],
        [
            ["RC1", "U1", "remedied", "2025-05-10T10:00:00+08:00"],
            ["RC1", "U2", "notified", ""],
            ["RC1", "U4", "notified", ""],  # U4 has no batch: not affected
            ["RC1", "U3", "remedied", ""],
            ["RC1", "U1", "scheduled", ""],  # the key (recall, unit) again
            ["RC1", "U5", "", ""],
        ],
        mode="lenient",
    )
    assert errors_of(units) == [
        (3, "unit", "U4", "the unit is not in a batch affected by the recall"),
        (4, "remedied_at", "", "required when status is remedied"),
        (5, "recall, unit", "RC1;U1", "duplicate key; first seen at row 1"),
    ]
    statuses = dict(RecallUnit.objects.values_list("unit__serial", "status"))
    assert statuses == {"U1": "remedied", "U2": "notified", "U5": "pending"}


def test_a_recall_update_replaces_its_batches(tmp_path, loaded):
    header = ["code", "title", "severity", "opened_at", "batches"]
    _import(tmp_path, "recalls", header, [["RC1", "Bearing", "class_ii", "2025-05-01", "B1;B2"]])
    again = _import(tmp_path, "recalls", header, [["RC1", "Bearing", "class_ii", "2025-05-01", "B2;B1"]])
    assert (again.created, again.updated) == (0, 0)

    run = _import(tmp_path, "recalls", header, [["RC1", "Bearing", "class_ii", "2025-05-01", "B2"]])

    assert (run.created, run.updated) == (0, 1)
    assert list(Recall.objects.get().batches.values_list("code", flat=True)) == ["B2"]
