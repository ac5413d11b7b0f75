"""The export mechanism (catalog.exports): CSV and XLSX files, their values, headers,
formula defusing, the sheet's row cap; and the master-data exports of the API."""

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl.worksheet import _writer as openpyxl_writer
from rest_framework.test import APIClient

from catalog import exports
from catalog.api.serializers import BatchSerializer, CustomerSerializer, ProductModelSerializer, UnitSerializer
from catalog.exceptions import ApplicationError
from catalog.exports import export_response
from tests.conftest import api_for
from tests.factories import (
    BatchFactory,
    CustomerFactory,
    ProductLineFactory,
    ProductModelFactory,
    RegionFactory,
    UnitFactory,
    UserFactory,
)

UTC_NOON = dt.datetime(2025, 6, 2, 4, 5, 6, 789, tzinfo=dt.UTC)  # 12:05:06 in Shanghai
HEADERS = ["text", "number", "amount", "when", "day", "nothing", "flag"]
ROWS = [
    ("张三 (华东)", 3, Decimal("12.50"), UTC_NOON, dt.date(2025, 6, 1), None, True),
    ('comma, "quote"\nnewline', -4, Decimal("1E+2"), None, None, "", False),
]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def parse_csv(response) -> list[list[str]]:
    raw = body(response)
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, so Excel reads the file as UTF-8"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def parse_xlsx(response) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(body(response))).active


# --- the mechanism --------------------------------------------------------------------------------


def test_csv_is_streamed_rfc_4180_with_a_bom_and_local_times():
    response = export_response(filename="sample", fmt="csv", headers=HEADERS, rows=iter(ROWS))
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == "attachment; filename=\"sample.csv\"; filename*=UTF-8''sample.csv"
    assert "no-store" in response["Cache-Control"]
    raw = body(response)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 3  # three records; a line break inside quotes stays as it was
    assert raw.decode("utf-8-sig").split("\r\n")[0] == "text,number,amount,when,day,nothing,flag"
    assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))) == [
        HEADERS,
        ["张三 (华东)", "3", "12.50", "2025-06-02 12:05:06", "2025-06-01", "", "true"],
        ['comma, "quote"\nnewline', "-4", "100", "", "", "", "false"],
    ]


def test_csv_with_no_rows_is_the_header():
    response = export_response(filename="empty", fmt="csv", headers=["a", "b"], rows=[])
    assert body(response) == "\ufeffa,b\r\n".encode()


def test_xlsx_has_a_bold_header_numbers_and_local_datetimes():
    response = export_response(filename="sample", fmt="xlsx", headers=HEADERS, rows=iter(ROWS))
    assert response["Content-Type"] == XLSX_TYPE
    assert response["Content-Disposition"].endswith("filename*=UTF-8''sample.xlsx")
    sheet = parse_xlsx(response)
    assert sheet.title == "sample"
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == HEADERS
    assert all(cell.font.b for cell in sheet[1])
    first = [cell.value for cell in sheet[2]]
    assert first == ["张三 (华东)", 3, 12.5, dt.datetime(2025, 6, 2, 12, 5, 6), dt.datetime(2025, 6, 1), None, True]
    when = sheet["D2"]
    assert when.is_date and when.value.tzinfo is None
    assert sheet["B3"].data_type == "n" and sheet["B3"].value == -4
    assert sheet["C3"].value == 100
    assert sheet.max_row == 3


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_are_defused(fmt):
    texts = ['=HYPERLINK("http://evil","x")', "+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "a=b", "1-2"]
    response = export_response(filename="f", fmt=fmt, headers=["v"], rows=[(text,) for text in texts])
    if fmt == "csv":
        values = [row[0] for row in parse_csv(response)[1:]]
    else:
        sheet = parse_xlsx(response)
        assert all(row[0].data_type == "s" for row in sheet.iter_rows(min_row=2))
        # XML reads a carriage return back as a line feed.
        values = [row[0].value.replace("\n", "\r") for row in sheet.iter_rows(min_row=2)]
    assert values == [
        '\'=HYPERLINK("http://evil","x")',
        "'+1",
        "'-1+1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a=b",
        "1-2",
    ]


def test_xlsx_drops_characters_a_sheet_cannot_hold():
    response = export_response(filename="f", fmt="xlsx", headers=["v"], rows=[("bell\x07 and nul\x00",)])
    assert parse_xlsx(response)["A2"].value == "bell and nul"


def test_non_ascii_file_names_follow_rfc_5987():
    response = export_response(filename="工单 export", fmt="csv", headers=["a"], rows=[])
    assert response["Content-Disposition"] == (
        "attachment; filename=\"__ export.csv\"; filename*=UTF-8''%E5%B7%A5%E5%8D%95%20export.csv"
    )


@pytest.mark.parametrize("fmt", ["", "pdf", "json", "xls"])
def test_an_unknown_format_is_refused(fmt):
    with pytest.raises(ApplicationError) as caught:
        export_response(filename="f", fmt=fmt, headers=["a"], rows=[])
    assert caught.value.status_code == 400
    assert "csv or xlsx" in caught.value.message
    assert list(caught.value.errors) == ["format"]


def test_the_format_is_case_insensitive():
    assert export_response(filename="f", fmt="XLSX", headers=["a"], rows=[])["Content-Type"] == XLSX_TYPE


def test_xlsx_refuses_more_rows_than_a_sheet_holds(monkeypatch):
    assert exports.XLSX_MAX_ROWS == 1_048_575  # 1,048,576 rows in a sheet, one is the header
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    assert parse_xlsx(export_response(filename="f", fmt="xlsx", headers=["n"], rows=[(i,) for i in range(3)]))
    temp_files = list(openpyxl_writer.ALL_TEMP_FILES)
    with pytest.raises(ApplicationError) as caught:
        export_response(filename="f", fmt="xlsx", headers=["n"], rows=[(i,) for i in range(4)])
    assert "more than 3 rows" in caught.value.message
    assert temp_files == openpyxl_writer.ALL_TEMP_FILES, "the half-written sheet is deleted"


# --- master data over the API ---------------------------------------------------------------------


@pytest.fixture
def reader(db):
    return api_for(UserFactory(username="qe", roles=["quality_engineer"]))


@pytest.fixture
def customers(db):
    east = RegionFactory(name="East")
    west = RegionFactory(name="West")
    created = timezone.make_aware(dt.datetime(2024, 1, 2, 9, 30))
    return [
        CustomerFactory(external_id="C1", name="王小明", region=east, segment="vip", created_at=created),
        CustomerFactory(external_id="C2", name="=cmd|' /C calc'!A0", region=west, phone="-123", created_at=created),
        CustomerFactory(external_id="C3", name="Acme", region=east, segment="business", created_at=created),
    ]


def test_customers_export_csv_with_filters(reader, customers):
    response = reader.get("/api/v1/customers/export/", {"format": "csv", "region": "East", "ordering": "external_id"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="customers-')
    rows = parse_csv(response)
    assert rows == [
        CustomerSerializer.Meta.fields,
        [str(customers[0].pk), "C1", "王小明", "East", "vip", "", "", "", "2024-01-02 09:30:00"],
        [str(customers[2].pk), "C3", "Acme", "East", "business", "", "", "", "2024-01-02 09:30:00"],
    ]


def test_customers_export_xlsx_defuses_and_round_trips_chinese(reader, customers):
    response = reader.get("/api/v1/customers/export/", {"format": "xlsx", "ordering": "external_id"})
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_TYPE
    sheet = parse_xlsx(response)
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == CustomerSerializer.Meta.fields
    assert [row[2] for row in rows[1:]] == ["王小明", "'=cmd|' /C calc'!A0", "Acme"]
    assert rows[2][7] == "'-123"
    assert rows[1][8] == dt.datetime(2024, 1, 2, 9, 30)


def test_master_data_exports_have_the_serializers_fields(reader):
    unit = UnitFactory(
        batch=BatchFactory(product_model=ProductModelFactory(product_line=ProductLineFactory(code="router"))),
        sold_on=dt.date(2025, 3, 1),
    )
    batch, model = unit.batch, unit.product_model
    cases = {
        "units": (UnitSerializer, [unit.pk, unit.serial, model.code, "router", batch.code, unit.customer.external_id]),
        "batches": (BatchSerializer, [batch.pk, batch.code, model.code, "2025-01-15", "100", ""]),
        "product-models": (ProductModelSerializer, [model.pk, model.code, model.name, "router", ""]),
    }
    for path, (serializer, start) in cases.items():
        response = reader.get(f"/api/v1/{path}/export/?format=csv")
        assert response.status_code == 200, path
        header, row = parse_csv(response)
        assert header == serializer.Meta.fields, path
        assert row[: len(start)] == [str(value) for value in start], path


def test_unit_export_filters(reader):
    UnitFactory(serial="SN-A-1")
    UnitFactory(serial="SN-B-2")
    response = reader.get("/api/v1/units/export/", {"format": "csv", "q": "-a-"})
    assert [row[1] for row in parse_csv(response)[1:]] == ["SN-A-1"]


@pytest.mark.parametrize("path", ["customers", "units", "batches", "product-models"])
def test_master_data_export_errors_are_json(reader, path):
    for query in ["", "?format=pdf", "?format=json", "?format=api"]:
        response = reader.get(f"/api/v1/{path}/export/{query}")
        assert response.status_code == 400, (path, query)
        assert response["Content-Type"] == "application/json"
        assert set(response.json()) == {"detail", "errors"}
        assert list(response.json()["errors"]) == ["format"]


def test_master_data_export_needs_a_login(db):
    response = APIClient().get("/api/v1/customers/export/?format=csv")
    assert response.status_code in (401, 403)
    assert response.json()["detail"]


def test_customer_export_queries_do_not_grow_with_rows(reader):
    def count(n):
        CustomerFactory.create_batch(n)
        body(reader.get("/api/v1/customers/export/?format=xlsx"))  # the user's permissions are cached
        with CaptureQueriesContext(connection) as queries:
            response = reader.get("/api/v1/customers/export/?format=xlsx")
            assert response.status_code == 200
            body(response)
        return len(queries)

    assert count(3) == count(40)
