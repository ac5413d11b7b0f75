"""Every rejected row carries a code (RowErrorCode) besides its reason in the importing
user's language; the data-quality report counts duplicates and broken references by the
code, so a Chinese import counts the same as an English one. The migration that added
the code fills it in for rows stored before, from their reasons."""

import importlib
import re

import pytest
from django.apps import apps
from django.utils import translation

from intake import selectors
from intake.models import ImportRowError, ImportRun, RowErrorCode
from intake.services import import_file, import_records
from tests.intake.import_helpers import make_master, write_csv

pytestmark = pytest.mark.django_db

backfill = importlib.import_module("intake.migrations.0003_importrowerror_code").backfill_codes

HEADER = ["external_id", "customer", "type", "channel", "subject", "created_at", "visits", "resolved_at", "closed_at"]
ROWS = [
    ["T1", "C1", "repair", "phone", "fine", "2025-03-01T09:00", "1", "", ""],
    ["T2", "C404", "repairs", "phone", "bad", "2025-13-01", "two", "", ""],
    ["T1", "C2", "repair", "phone", "again", "2025-03-01T09:00", "", "", ""],
    ["T3", "C1", "repair", "phone", "", "2025-03-01T09:00", "-1", "", ""],
    ["T4", "C1", "repair", "phone", "rule", "2025-03-01T09:00", "", "", "2025-03-02T09:00"],
    ["T5", "C1", "repair", "phone", "early", "2025-03-01T09:00", "", "2025-02-01T09:00", ""],
    ["T6", "C1", "repair", "phone", "wide", "2025-03-01T09:00", "", "", "", "extra"],
    ["T7", "C405", "repair", "phone", "unknown too", "2025-03-01T09:00", "", "", ""],
    ["T3", "C1", "repair", "phone", "dup of a bad row", "2025-03-01T09:00", "", "", ""],
]
# A row's cell problems come first, then its references (resolved per batch).
EXPECTED = [
    (2, "type", RowErrorCode.INVALID_ENUM),
    (2, "created_at", RowErrorCode.INVALID_TIMESTAMP),
    (2, "visits", RowErrorCode.INVALID_NUMBER),
    (2, "customer", RowErrorCode.UNKNOWN_REFERENCE),
    (3, "external_id", RowErrorCode.DUPLICATE_KEY),
    (4, "subject", RowErrorCode.REQUIRED),
    (4, "visits", RowErrorCode.OUT_OF_RANGE),
    (5, "resolved_at", RowErrorCode.RULE),
    (6, "resolved_at", RowErrorCode.RULE),
    (7, "", RowErrorCode.SHAPE),
    (8, "customer", RowErrorCode.UNKNOWN_REFERENCE),
    (9, "external_id", RowErrorCode.DUPLICATE_KEY),
]


@pytest.fixture
def master(db):
    return make_master()


def _tickets(tmp_path):
    return write_csv(tmp_path / "tickets.csv", HEADER, ROWS)


def _codes(run) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.code) for e in run.errors.order_by("row", "id")]


def _reasons(run) -> list[str]:
    counted = (RowErrorCode.DUPLICATE_KEY, RowErrorCode.UNKNOWN_REFERENCE)
    return list(run.errors.filter(code__in=counted).order_by("row", "id").values_list("reason", flat=True))


def _counted(entity: str) -> tuple[int, list[dict]]:
    (item,) = selectors.data_quality_report(entity=entity)["entities"]
    return item["duplicate_keys_rejected"], item["broken_references"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_engine_codes_every_problem_whatever_the_language(tmp_path, master, language):
    with translation.override(language):
        run = import_file(entity="tickets", path=_tickets(tmp_path), mode="lenient")

    assert (run.rows, run.created, run.rejected) == (9, 1, 8)
    assert _codes(run) == EXPECTED


def test_cell_types_records_and_files_have_their_codes(tmp_path, master):
    units = write_csv(
        tmp_path / "units.csv",
        ["serial", "product_model", "sold_on", "customer", "warranty_months"],
        [["U9", "WM1", "2025-02-30", "C1", "x"], ["U8", "WM1", "2025-02-01", "", "9999999"]],
    )
    failures = write_csv(
        tmp_path / "failures.csv",
        ["external_id", "ticket", "unit", "failure_mode", "occurred_at", "labor_hours"],
        [["F1", "T404", "U1", "LEAK", "2025-03-01", "lots"]],
    )
    missing = write_csv(tmp_path / "customers.csv", ["external_id"], [["C9"]])

    assert _codes(import_file(entity="units", path=units, mode="lenient")) == [
        (1, "sold_on", RowErrorCode.INVALID_DATE),
        (1, "warranty_months", RowErrorCode.INVALID_NUMBER),
        (2, "warranty_months", RowErrorCode.OUT_OF_RANGE),
    ]
    assert _codes(import_file(entity="failures", path=failures, mode="lenient")) == [
        (1, "labor_hours", RowErrorCode.INVALID_NUMBER),
        (1, "ticket", RowErrorCode.UNKNOWN_REFERENCE),
    ]
    assert _codes(import_file(entity="customers", path=missing)) == [(0, "name, region, created_at", "file")]
    records = [
        "not an object",
        {"external_id": "C7", "Name": "a", "name ": "b", "region": "East", "created_at": "2025-01-01"},
        {"external_id": "C8", "name": "x\x00y", "region": "East"},
    ]
    assert _codes(import_records(entity="customers", records=records, mode="lenient")) == [
        (1, "", RowErrorCode.SHAPE),
        (2, "name", RowErrorCode.DUPLICATE_COLUMN),
        (3, "created_at", RowErrorCode.REQUIRED),
        (3, "name", RowErrorCode.INVALID_TEXT),
    ]


def test_a_chinese_import_counts_the_same_duplicates_and_broken_references_as_an_english_one(tmp_path, master):
    path = _tickets(tmp_path)
    with translation.override("en"):
        english_run = import_file(entity="tickets", path=path, mode="lenient")
    english = _counted("tickets")
    english_reasons = _reasons(english_run)
    ImportRun.objects.all().delete()
    assert _counted("tickets") == (0, [])

    with translation.override("zh-hans"):
        chinese_run = import_file(entity="tickets", path=path, mode="lenient")
    chinese = _counted("tickets")
    chinese_reasons = _reasons(chinese_run)

    assert english == (2, [{"column": "customer", "count": 2}])
    assert chinese == english
    # The reasons really are in the run's language: the words differ, the counts do not.
    assert english_reasons == [
        "unknown customer “C404”",
        "duplicate key; first seen at row 1",
        "unknown customer “C405”",
        "duplicate key; first seen at row 4",
    ]
    assert all(re.search(r"[\u4e00-\u9fff]", reason) for reason in chinese_reasons)
    assert not any(reason.startswith(("duplicate key", "unknown ")) for reason in chinese_reasons)


def test_the_json_errors_keep_the_contract_shape(tmp_path, master):
    from intake.services import import_run_summary

    run = import_file(entity="tickets", path=_tickets(tmp_path), mode="lenient")

    assert all(set(error) == {"row", "column", "value", "reason"} for error in import_run_summary(run)["errors"])


# --- the migration's back-fill ---------------------------------------------------------------


def test_the_backfill_codes_stored_reasons_in_english_and_chinese(db):
    run = ImportRun.objects.create(entity="tickets")
    reasons = [
        (1, "duplicate key; first seen at row 3", RowErrorCode.DUPLICATE_KEY),
        (2, "键值重复，首次出现在第 3 行", RowErrorCode.DUPLICATE_KEY),
        (3, "unknown customer “C9”", RowErrorCode.UNKNOWN_REFERENCE),
        (4, "未知的客户“C9”", RowErrorCode.UNKNOWN_REFERENCE),
        (5, "unknown batch: B1, B2", RowErrorCode.UNKNOWN_REFERENCE),
        (6, "required", RowErrorCode.REQUIRED),
        (7, "required when status is remedied", RowErrorCode.RULE),
        (8, "must be one of: repair, complaint", RowErrorCode.INVALID_ENUM),
        (9, "不是有效的日期时间", RowErrorCode.INVALID_TIMESTAMP),
        (10, "must not be before created_at (2025-03-01T09:00:00+08:00)", RowErrorCode.RULE),
        (11, "refused by the database: value too long", RowErrorCode.DATABASE),
        (12, "duplicate key (first seen at row 1)", RowErrorCode.DUPLICATE_KEY),  # another wording: the prefix
        (13, "a reason nobody wrote", RowErrorCode.OTHER),
        (0, "the header row is empty", RowErrorCode.FILE),
    ]
    for row, reason, _code in reasons:
        ImportRowError.objects.create(run=run, row=row, reason=reason)
    # A code already set is kept.
    kept = ImportRowError.objects.create(run=run, row=14, reason="unknown customer “C1”", code=RowErrorCode.RULE)

    backfill(apps, None)

    stored = dict(ImportRowError.objects.exclude(pk=kept.pk).values_list("row", "code"))
    assert stored == {row: code for row, _reason, code in reasons}
    assert ImportRowError.objects.get(pk=kept.pk).code == RowErrorCode.RULE
    backfill(apps, None)  # idempotent
    assert dict(ImportRowError.objects.exclude(pk=kept.pk).values_list("row", "code")) == stored


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_backfill_agrees_with_the_engine(tmp_path, master, language):
    """Every reason the engine writes for the test file is recognised by the back-fill."""
    with translation.override(language):
        run = import_file(entity="tickets", path=_tickets(tmp_path), mode="lenient")
        records = [
            "not an object",
            {"external_id": "C7", "Name": "a", "name ": "b", "region": "East", "created_at": "2025-01-01"},
            {"external_id": "C8", "name": "x\x00y", "region": "East", "created_at": "x"},
        ]
        other = import_records(entity="customers", records=records, mode="lenient")
    engine = sorted(ImportRowError.objects.filter(run__in=[run, other]).values_list("pk", "code"))
    assert RowErrorCode.OTHER not in {code for _pk, code in engine}
    ImportRowError.objects.update(code=RowErrorCode.OTHER)

    backfill(apps, None)

    assert sorted(ImportRowError.objects.values_list("pk", "code")) == engine
