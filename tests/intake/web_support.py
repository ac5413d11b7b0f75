"""Helpers of the import page, API and task tests (their fixtures are in conftest.py)."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

CUSTOMERS_CSV = (
    "external_id,name,region,segment,city,created_at\n"
    "C-1,Zhang Wei,East,vip,Shanghai,2025-01-05T09:30:00+08:00\n"
    "C-2,Li Na,华东,consumer,Hangzhou,2025-02-01\n"
    "C-3,Wang Fang,West,business,Chengdu,2025-03-01T10:00:00\n"
)
# Row 2 breaks created_at (month 13), row 3 misses its name.
CUSTOMERS_BAD_CSV = (
    "external_id,name,region,created_at\n"
    "C-10,Good One,East,2025-01-05\n"
    "C-11,Bad Date,East,2025-13-01\n"
    "C-12,,East,2025-01-05\n"
)


def client_for(user, language="en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def csv_file(text: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def xlsx_file(rows: list[list], name: str = "customers.xlsx", sheet: str = "customers") -> SimpleUploadedFile:
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/octet-stream")
