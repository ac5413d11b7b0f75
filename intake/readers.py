"""Streaming readers for the standard template: CSV (UTF-8, BOM tolerated, RFC 4180
quoting, CRLF or LF) and XLSX (openpyxl read-only). Neither reads a file whole: rows are
produced one at a time, so memory does not grow with the file. A problem with the file as
a whole is a FileError, raised when it is found (possibly in the middle of the rows)."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from .contract import header_key

CHUNK = 1 << 20
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary Excel format (OLE2)


class FileError(Exception):
    """The file cannot be imported at all; reported as an error of row 0."""

    def __init__(self, reason: str, *, column: str = "", value: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.column = column
        self.value = value


@dataclass
class Table:
    """A file opened for reading: its header and an iterator over its data rows (lists of
    cells, in file order). `ragged`: short rows are normal (XLSX drops trailing empty
    cells) and are padded; in CSV a row must have as many cells as the header."""

    header: list[str]
    rows: Iterator[list]
    ragged: bool = False
    warnings: list[str] = field(default_factory=list)


@contextmanager
def open_table(path: str | Path, *, entity: str) -> Iterator[Table]:
    """Open a CSV or XLSX file (recognised by its content, not its name)."""
    path = Path(path)
    try:
        with open(path, "rb") as probe:
            magic = probe.read(4)
    except OSError as exc:
        raise FileError(_("cannot open the file: %(error)s") % {"error": exc.strerror or exc})
    if magic.startswith(XLSX_MAGIC):
        with _open_xlsx(path, entity=entity) as table:
            yield table
    else:
        with _open_csv(path, magic=magic) as table:
            yield table


# --- CSV -----------------------------------------------------------------------------


@contextmanager
def _open_csv(path: Path, *, magic: bytes) -> Iterator[Table]:
    if not magic:
        raise FileError(_("the file is empty: no header row"))
    if magic.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileError(_("not UTF-8: the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"))
    if magic.startswith(XLS_MAGIC):
        raise FileError(_("this is an old Excel .xls file; save it as .xlsx or as CSV UTF-8"))
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
        reader = csv.reader(text, strict=True)
        rows = _csv_rows(reader, path)
        header = next(rows, None)
        if header is None:
            raise FileError(_("the file is empty: no header row"))
        if not any(cell.strip() for cell in header):
            raise FileError(_("the header row is empty"))
        yield Table(header=header, rows=rows)


def _csv_rows(reader, path: Path) -> Iterator[list[str]]:
    """The reader's rows, with decoding and quoting problems turned into FileErrors."""
    try:
        yield from reader
    except UnicodeDecodeError:
        raise FileError(_not_utf8(path))
    except csv.Error as exc:
        raise FileError(_("malformed CSV at line %(line)s: %(error)s") % {"line": reader.line_num, "error": exc})


def _not_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 is (read again in binary, only on error:
    the text layer's error positions are relative to its internal buffer)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset = 0
    with open(path, "rb") as raw:
        while True:
            chunk = raw.read(CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = offset - pending + exc.start
                bad = exc.object[exc.start : exc.start + 1].hex()
                return _("not UTF-8: byte 0x%(byte)s at byte %(offset)s (%(why)s); save the file as UTF-8") % {
                    "byte": bad,
                    "offset": at,
                    "why": exc.reason,
                }
            if not chunk:
                break
            offset += len(chunk)
    return _("not UTF-8; save the file as UTF-8")


# --- XLSX ----------------------------------------------------------------------------


@contextmanager
def _open_xlsx(path: Path, *, entity: str) -> Iterator[Table]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileError(_("not a readable XLSX file: %(error)s") % {"error": exc})
    try:
        names = workbook.sheetnames
        if not names:
            raise FileError(_("the workbook has no sheet"))
        chosen = next((n for n in names if header_key(n) == header_key(entity)), names[0])
        warnings = []
        others = [n for n in names if n != chosen]
        if others:
            warnings.append(
                _("sheet “%(sheet)s” was imported; other sheets were ignored: %(others)s")
                % {"sheet": chosen, "others": ", ".join(others)}
            )
        rows = _xlsx_rows(workbook[chosen])
        header = next(rows, None)
        if header is None or not any(cell is not None and str(cell).strip() for cell in header):
            raise FileError(_("the sheet “%(sheet)s” is empty: no header row") % {"sheet": chosen})
        while header and (header[-1] is None or not str(header[-1]).strip()):
            header.pop()
        yield Table(header=["" if h is None else str(h) for h in header], rows=rows, ragged=True, warnings=warnings)
    finally:
        workbook.close()


def _xlsx_rows(sheet) -> Iterator[list]:
    try:
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileError(_("not a readable XLSX file: %(error)s") % {"error": exc})
