"""The upload page's preview: the header row and the first data rows of a CSV/XLSX file,
read with the engine's streaming readers (so the preview sees the file as the import will,
without reading it whole), and how each header maps onto the entity's contract columns.
Reads only; the import itself (services.import_file) decides what is accepted."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from .contract import cell_text, header_key
from .readers import XLSX_MAGIC, FileError, open_table

PREVIEW_ROWS = 10
# Rows a sample must have before its average length says anything about the rest.
_MIN_SAMPLE = 3


@dataclass
class FileHead:
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    # Data rows in the file: exact when the whole file was read, else an estimate (or None).
    estimated_rows: int | None = None
    exact: bool = False
    problem: str = ""  # why the file cannot be imported at all (the import reports it too)
    warnings: list[str] = field(default_factory=list)


@dataclass
class HeaderMapping:
    header: str
    column: str  # the contract column it feeds, "" when ignored
    how: str  # "contract" | "renamed" | "unknown" | "duplicate"


def read_head(path: str | Path, *, entity: str, limit: int = PREVIEW_ROWS) -> FileHead:
    """The header and up to `limit` data rows (blank rows skipped) of a .csv or .xlsx file."""
    path = Path(path)
    head = FileHead()
    try:
        with open_table(path, entity=entity) as table:
            head.header = [cell_text(cell).strip() for cell in table.header]
            head.warnings = list(table.warnings)
            rows = (row for row in table.rows if any(cell_text(cell).strip() for cell in row))
            sample = list(islice(rows, limit + 1))
    except FileError as error:
        return FileHead(problem=error.reason)
    head.exact = len(sample) <= limit
    head.rows = [_pad([cell_text(cell) for cell in row], len(head.header)) for row in sample[:limit]]
    head.estimated_rows = len(head.rows) if head.exact else _estimate_rows(path, head)
    return head


def _estimate_rows(path: Path, head: FileHead) -> int | None:
    """A CSV's rows from its size and the sampled rows' average length; an XLSX sheet's
    from its stated dimension (cheap; missing in files written by some tools)."""
    with path.open("rb") as probe:
        is_xlsx = probe.read(4).startswith(XLSX_MAGIC)
    if is_xlsx:
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(path, read_only=True)
            try:
                max_row = workbook.worksheets[0].max_row
            finally:
                workbook.close()
        except Exception:  # an estimate only: the import reports what is wrong with the file
            return None
        return max(len(head.rows), max_row - 1) if max_row else None
    if len(head.rows) < _MIN_SAMPLE:
        return None
    # Encoded length of the sampled rows, separators and line ends included; quoting is ignored.
    sampled = sum(len(",".join(row).encode()) + 2 for row in head.rows) / len(head.rows)
    header_bytes = len(",".join(head.header).encode()) + 2
    return max(len(head.rows), round((os.path.getsize(path) - header_bytes) / sampled))


def _pad(row: list[str], width: int) -> list[str]:
    return row + [""] * (width - len(row)) if len(row) < width else row


def map_header(
    header: list[str], *, columns: Mapping[str, bool], column_map: Mapping[str, str] | None = None
) -> tuple[list[HeaderMapping], list[str]]:
    """How each header feeds the contract columns (`columns`: name -> required), after the
    mapping profile's renames; and the required columns that no header feeds. Headers
    match as the import matches them (contract.header_key: case and spaces ignored)."""
    renames = {header_key(source): header_key(target) for source, target in (column_map or {}).items()}
    mapped: list[HeaderMapping] = []
    seen: set[str] = set()
    for cell in header:
        key = header_key(cell)
        if key in renames:
            column, how = renames[key], "renamed"
            if column not in columns:
                column, how = "", "unknown"
        elif key in columns:
            column, how = key, "contract"
        else:
            column, how = "", "unknown"
        if column and column in seen:
            how = "duplicate"
        seen.add(column)
        mapped.append(HeaderMapping(header=cell, column=column, how=how))
    missing = [name for name, required in columns.items() if required and name not in seen]
    return mapped, missing
