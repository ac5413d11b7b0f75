"""The import engine, file level (DATA_CONTRACT.md "General rules"): encodings, line
ends, BOM, empty files, headers, XLSX workbooks."""

import datetime as dt

import openpyxl
import pytest

from catalog.models import Customer
from intake.models import ImportStatus
from intake.services import import_file
from tests.intake.import_helpers import errors_of, write_csv

pytestmark = pytest.mark.django_db

HEADER = ["external_id", "name", "region", "segment", "city", "created_at"]
ROWS = [
    ["C1", "Zhang Wei", "East", "vip", "Shanghai", "2025-01-05T09:00:00+08:00"],
    ["C2", 'Li, "Na"', "North", "", "", "2025-01-06"],
]


def test_crlf_line_ends_and_quoting_import(tmp_path):
    path = write_csv(tmp_path / "customers.csv", HEADER, ROWS, newline="\r\n")
    assert path.read_bytes().count(b"\r\n") == 3

    run = import_file(entity="customers", path=path)

    assert (run.status, run.rows, run.created, run.rejected) == (ImportStatus.SUCCEEDED, 2, 2, 0)
    assert Customer.objects.get(external_id="C2").name == 'Li, "Na"'
    assert Customer.objects.get(external_id="C2").segment == "consumer"  # the default
    assert Customer.objects.get(external_id="C1").city == "Shanghai"


def test_a_byte_order_mark_is_tolerated(tmp_path):
    path = write_csv(tmp_path / "customers.csv", HEADER, ROWS, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    run = import_file(entity="customers", path=path)

    assert (run.status, run.created) == (ImportStatus.SUCCEEDED, 2)
    assert run.warnings == []  # the BOM did not turn "external_id" into an unknown column


def test_a_quoted_line_break_stays_in_its_cell(tmp_path):
    path = write_csv(tmp_path / "customers.csv", HEADER, [["C1", "Two\nlines", "East", "", "", "2025-01-05"]])

    run = import_file(entity="customers", path=path)

    assert run.created == 1
    assert Customer.objects.get().name == "Two\nlines"


def test_a_file_not_in_utf8_is_refused_with_the_byte(tmp_path):
    path = tmp_path / "customers.csv"
    # "华东" in GBK: 0xbb 0xaa 0xb6 0xab; the header is 52 bytes, the row starts at 53.
    header = ",".join(HEADER) + "\n"
    path.write_bytes(header.encode() + b"C1,Wang," + "华东".encode("gbk") + b",,,2025-01-05\n")

    run = import_file(entity="customers", path=path, mode="lenient")

    assert run.status == ImportStatus.REJECTED
    assert Customer.objects.count() == 0
    ((row, column, value, reason),) = errors_of(run)
    assert row == 0
    offset = len(header) + len("C1,Wang,")
    assert reason.startswith(f"not UTF-8: byte 0xbb at byte {offset} ")


def test_latin1_in_the_middle_of_a_big_file_writes_nothing(tmp_path):
    path = tmp_path / "customers.csv"
    good = [f"C{n},Name {n},East,,,2025-01-05" for n in range(12_000)]
    text = ",".join(HEADER) + "\n" + "\n".join(good) + "\n"
    path.write_bytes(text.encode() + "C99999,Mülller,East,,,2025-01-05\n".encode("latin-1"))

    run = import_file(entity="customers", path=path, mode="lenient", batch_size=5000)

    assert run.status == ImportStatus.REJECTED
    assert Customer.objects.count() == 0  # the batches before the bad byte were rolled back
    assert "not UTF-8: byte 0xfc at byte " in errors_of(run)[-1][3]


def test_a_utf16_file_is_named(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes((",".join(HEADER) + "\n").encode("utf-16"))

    run = import_file(entity="customers", path=path)

    assert run.status == ImportStatus.REJECTED
    assert "UTF-16" in errors_of(run)[0][3]


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes(b"")

    run = import_file(entity="customers", path=path)

    assert run.status == ImportStatus.REJECTED
    assert run.rows == 0
    assert errors_of(run) == [(0, "", "", "the file is empty: no header row")]


def test_a_header_only_file_imports_nothing_and_is_fine(tmp_path):
    path = write_csv(tmp_path / "customers.csv", HEADER, [])

    run = import_file(entity="customers", path=path)

    assert (run.status, run.rows, run.created, run.rejected) == (ImportStatus.SUCCEEDED, 0, 0, 0)
    assert errors_of(run) == []


def test_missing_required_columns_are_a_file_error(tmp_path):
    path = write_csv(tmp_path / "customers.csv", ["external_id", "segment", "city"], [["C1", "vip", "Xi'an"]])

    run = import_file(entity="customers", path=path, mode="lenient")

    assert run.status == ImportStatus.REJECTED
    assert Customer.objects.count() == 0
    assert errors_of(run) == [
        (0, "name, region, created_at", "", "missing required column(s): name, region, created_at")
    ]


def test_headers_match_case_insensitively_in_any_order_and_unknown_columns_only_warn(tmp_path):
    header = ["  Created_At ", "REGION", "favourite colour", "Name", "External_ID", "notes"]
    path = write_csv(tmp_path / "customers.csv", header, [["2025-01-05", "East", "blue", "Wang", "C7", "x"]])

    run = import_file(entity="customers", path=path)

    assert (run.status, run.created) == (ImportStatus.SUCCEEDED, 1)
    assert run.warnings == ["unknown columns ignored: favourite colour, notes"]
    assert Customer.objects.get().name == "Wang"


def test_a_column_given_twice_is_a_file_error(tmp_path):
    path = write_csv(tmp_path / "customers.csv", [*HEADER, "Name"], [[*ROWS[0], "Other"]])

    run = import_file(entity="customers", path=path)

    assert run.status == ImportStatus.REJECTED
    assert errors_of(run)[0][:2] == (0, "name")


def test_blank_lines_are_skipped_but_keep_row_numbers(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(",".join(HEADER) + "\nC1,A,East,,,2025-01-05\n\n,,,,,\nC2,B,East,,,not a date\n", encoding="utf-8")

    run = import_file(entity="customers", path=path, mode="lenient")

    assert (run.rows, run.created, run.rejected) == (2, 1, 1)
    assert errors_of(run) == [(4, "created_at", "not a date", "not a valid timestamp")]


def test_a_row_with_too_few_or_too_many_cells_is_rejected(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        ",".join(HEADER) + "\nC1,A,East\nC2,B,East,,,2025-01-05,extra\nC3,C,East,,,2025-01-05\n", encoding="utf-8"
    )

    run = import_file(entity="customers", path=path, mode="lenient")

    assert (run.rows, run.created, run.rejected) == (3, 1, 2)
    assert [(row, reason) for row, _c, _v, reason in errors_of(run)] == [
        (1, "the row has 3 cells, the header 6"),
        (2, "the row has 7 cells, the header 6"),
    ]


def test_malformed_quoting_is_a_file_error(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(",".join(HEADER) + '\nC1,"Wang" junior,East,,,2025-01-05\n', encoding="utf-8")

    run = import_file(entity="customers", path=path)

    assert run.status == ImportStatus.REJECTED
    assert errors_of(run)[0][3].startswith("malformed CSV at line 2")


# --- XLSX --------------------------------------------------------------------------------


def _workbook(path, sheets: dict[str, list[list]]):
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_uses_the_sheet_named_like_the_entity_and_warns_about_the_others(tmp_path):
    path = _workbook(
        tmp_path / "customers.xlsx",
        {
            "Read me": [["This workbook holds customers"]],
            "Customers": [
                HEADER,
                # typed cells: a number as the key, a date-time cell (local time)
                [1001, "Zhang Wei", "East", "vip", None, dt.datetime(2025, 1, 5, 9, 30)],
                ["C2", "Li Na", "North", None, "Beijing", "2025-01-06T08:00:00Z"],
            ],
            "Pivot": [["region", "count"], ["East", 1]],
        },
    )

    run = import_file(entity="customers", path=path)

    assert (run.status, run.created) == (ImportStatus.SUCCEEDED, 2)
    assert run.warnings == ["sheet “Customers” was imported; other sheets were ignored: Read me, Pivot"]
    first = Customer.objects.get(external_id="1001")
    assert first.created_at == dt.datetime(2025, 1, 5, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai
    assert first.city == ""


def test_xlsx_without_a_sheet_of_that_name_uses_the_first_sheet(tmp_path):
    path = _workbook(
        tmp_path / "export.xlsx",
        {"Sheet1": [HEADER, ["C1", "Zhang Wei", "East", None, None, "2025-01-05"]], "Sheet2": [["x"]]},
    )

    run = import_file(entity="customers", path=path)

    assert run.created == 1
    assert run.warnings == ["sheet “Sheet1” was imported; other sheets were ignored: Sheet2"]


def test_xlsx_errors_carry_row_column_and_value(tmp_path):
    path = _workbook(
        tmp_path / "customers.xlsx",
        {"customers": [HEADER, ["C1", "Zhang Wei", "East", "gold", None, 45000.5]]},
    )

    run = import_file(entity="customers", path=path, mode="lenient")

    assert errors_of(run) == [
        (1, "segment", "gold", "must be one of: consumer, business, vip"),
        (1, "created_at", "45000.5", "not a valid timestamp"),
    ]


def test_a_broken_xlsx_is_a_file_error(tmp_path):
    path = tmp_path / "customers.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")

    run = import_file(entity="customers", path=path)

    assert run.status == ImportStatus.REJECTED
    assert errors_of(run)[0][3].startswith("not a readable XLSX file")
