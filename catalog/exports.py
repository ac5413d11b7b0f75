"""Lists as files: CSV (streamed) and XLSX, one mechanism for every export.

A selector names the columns (ExportColumn: header and values_list path); export_table
reads them in one query, in chunks, never as model instances; export_response writes
the file. Timestamps are written in the site's time zone, without an offset (Excel has
no time zones), as the import format reads them back (DATA_CONTRACT.md)."""

import contextlib
import csv
import datetime as dt
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple
from urllib.parse import quote

from django.db.models import Choices, QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .exceptions import ApplicationError

CSV, XLSX = "csv", "xlsx"
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXPORT_FORMATS = tuple(CONTENT_TYPES)
# A sheet holds 1,048,576 rows; one is the header.
XLSX_MAX_ROWS = 1_048_575
CHUNK_SIZE = 2000
_CSV_ROWS_PER_CHUNK = 500
# OWASP "CSV injection": a spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportColumn:
    """One column: `name` is the stable English header (API exports, integrations parse
    it); `label` the header in the user's language (page exports); `path` what
    values_list() reads. An enum column (`choices`) holds the code, and page exports add
    its label in the next column. `timestamp` columns say their time zone in the header."""

    name: str
    path: str
    label: str | Promise | None = None
    choices: type[Choices] | None = None
    timestamp: bool = False


class ExportTable(NamedTuple):
    headers: list[str]
    rows: Iterator[tuple]


def export_table(queryset: QuerySet, columns: Sequence[ExportColumn], *, translated: bool = False) -> ExportTable:
    """The columns of `queryset`, in its order: one query read in chunks (a server-side
    cursor on PostgreSQL). `translated` gives headers in the active language and a label
    column after each enum code; otherwise headers are the columns' stable names."""
    zone = timezone.get_current_timezone_name()
    headers, labels = [], []
    for column in columns:
        labels.append(None)
        if not translated:
            headers.append(column.name)
            continue
        header = str(column.label or column.name)
        if column.timestamp:
            headers.append(f"{header} ({zone})")
        elif column.choices is not None:
            # "Status (code)", then the label in the user's language under "Status".
            headers += [f"{header} ({_('code')})", header]
            labels[-1] = {value: str(label) for value, label in column.choices.choices}
        else:
            headers.append(header)
    rows = queryset.values_list(*(column.path for column in columns)).iterator(chunk_size=CHUNK_SIZE)
    if any(labels):
        rows = _with_labels(rows, labels)
    return ExportTable(headers, rows)


def _with_labels(rows: Iterable[tuple], labels: list[dict | None]) -> Iterator[tuple]:
    try:
        for row in rows:
            out = []
            for value, names in zip(row, labels, strict=True):
                out.append(value)
                if names is not None:
                    out.append(names.get(value, value))
            yield tuple(out)
    finally:
        _close(rows)


def _close(rows) -> None:
    """Stop reading rows now. A server-side cursor left to the garbage collector would be
    closed whenever that runs, on a connection by then busy with something else."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()


def dated_filename(stem: str) -> str:
    """`tickets` -> `tickets-20250602-0930` (local time), so repeated exports don't clash."""
    return f"{stem}-{timezone.localtime():%Y%m%d-%H%M}"


def export_response(*, filename: str, fmt: str, headers: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    """`rows` as a CSV or XLSX attachment named `filename` plus the format's extension.
    Raises ApplicationError (400) for an unknown format, and for more rows than a sheet
    holds (XLSX, checked while writing, before any byte is sent)."""
    fmt = (fmt or "").strip().lower()
    if fmt not in CONTENT_TYPES:
        message = _("Unknown export format “%(format)s”: choose csv or xlsx.") % {"format": fmt[:20]}
        raise ApplicationError(message, errors={"format": [message]})
    # Read now: a streamed body is written after the view returned.
    zone = timezone.get_current_timezone()
    headers = [str(header) for header in headers]
    if fmt == CSV:
        response = StreamingHttpResponse(_csv_chunks(headers, rows, zone), content_type=CONTENT_TYPES[CSV])
    else:
        response = FileResponse(_xlsx_file(filename, headers, rows, zone), content_type=CONTENT_TYPES[XLSX])
    response["Content-Disposition"] = _content_disposition(f"{filename}.{fmt}")
    # Exports hold personal data: no shared cache keeps a copy.
    patch_cache_control(response, private=True, no_store=True)
    return response


def _content_disposition(filename: str) -> str:
    """RFC 6266 with an RFC 5987 `filename*` for any script, and an ASCII fallback."""
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _defuse(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _local(value: dt.datetime, zone) -> dt.datetime:
    """Naive local wall-clock time, to the second."""
    if timezone.is_aware(value):
        value = timezone.localtime(value, zone)
    return value.replace(tzinfo=None, microsecond=0)


# --- CSV: RFC 4180 (comma, double quotes, CRLF), UTF-8 with a BOM so Excel reads it as UTF-8.


class _Line:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, line: str) -> str:
        return line


def _csv_value(value, zone):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return f"{_local(value, zone):%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # never 1E+2
    if isinstance(value, int | float):
        return value
    return _defuse(str(value))


def _csv_chunks(headers: list[str], rows: Iterable[Sequence], zone) -> Iterator[str]:
    writer = csv.writer(_Line(), lineterminator="\r\n")
    yield "\ufeff" + writer.writerow([_defuse(header) for header in headers])
    lines = []
    try:  # the response closes this generator when the client goes away
        for row in rows:
            lines.append(writer.writerow([_csv_value(value, zone) for value in row]))
            if len(lines) >= _CSV_ROWS_PER_CHUNK:
                yield "".join(lines)
                lines = []
    finally:
        _close(rows)
    if lines:
        yield "".join(lines)


# --- XLSX: one sheet, bold frozen header; real numbers and Excel date-times.


def _xlsx_value(value, zone):
    if isinstance(value, dt.datetime):
        return _local(value, zone)
    if value is None or isinstance(value, bool | int | float | Decimal | dt.date):
        return value
    # Control characters are not allowed in the XML of a sheet.
    return _defuse(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def _width(text: str) -> int:
    # CJK characters take two columns.
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _xlsx_file(filename: str, headers: list[str], rows: Iterable[Sequence], zone):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "_", filename)[:31] or "export")
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(_width(header) + 2, 12), 40)
    bold = Font(bold=True)
    cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=_xlsx_value(header, zone))
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    try:
        for count, row in enumerate(rows, start=1):
            if count > XLSX_MAX_ROWS:
                raise ApplicationError(
                    _(
                        "This export has more than %(limit)s rows, more than a spreadsheet holds. "
                        "Narrow the filters, or export CSV."
                    )
                    % {"limit": f"{XLSX_MAX_ROWS:,}"}
                )
            sheet.append([_xlsx_value(value, zone) for value in row])
    except BaseException:
        _close(rows)
        _discard(sheet)
        raise
    file = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    workbook.save(file)
    file.seek(0)
    return file


def _discard(sheet) -> None:
    """Delete the sheet's temporary file now; openpyxl would keep it until the process exits."""
    with contextlib.suppress(Exception):
        sheet.close()  # ends the half-written XML, so nothing writes to the file later
    writer = getattr(sheet, "_writer", None)
    if writer is not None:
        writer.cleanup()
