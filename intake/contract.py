"""The standard template of DATA_CONTRACT.md as data: for every entity its columns (type,
required, default, allowed values, the record they refer to), its natural key and its
cross-field rules. The import engine (services.py) interprets these specs; it holds no
column names of its own. Also here: the cell parsers (the contract's types), which are
pure functions of a cell and the mapping profile."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from catalog.models import Batch, Component, Customer, ProductLine, ProductModel, Region, Segment, Supplier, Unit, User
from quality.models import Failure, FailureMode, Recall, RecallSeverity, RecallUnit, RecallUnitStatus, RootCauseCategory
from tickets.models import Channel, DispatchMethod, Priority, Status, Survey, Team, Ticket, TicketType

from .models import RowErrorCode

# Column types.
TEXT = "text"
INT = "int"
DECIMAL = "decimal"
DATE = "date"
TIMESTAMP = "timestamp"
BOOL = "bool"
ENUM = "enum"
REF = "ref"  # the natural key of another record
REFS = "refs"  # several natural keys separated by ";" (a many-to-many field)

REFS_SEPARATOR = ";"


@dataclass(frozen=True)
class Lookup:
    """How a reference column finds its record: by `key` on `model`. `attrs` are the
    fields cross-field rules read from the referenced record; `m2m` adds the ids of a
    many-to-many field as the attribute `<m2m>_ids`. `create`: an unknown key is created
    (with a warning) instead of being refused."""

    name: str
    model: type[models.Model]
    key: str
    attrs: tuple[str, ...] = ()
    m2m: str = ""
    create: bool = False


LOOKUPS: dict[str, Lookup] = {
    lookup.name: lookup
    for lookup in (
        # A region spelling goes through catalog.services.region_resolve (aliases, then key;
        # an unknown spelling becomes its own region).
        Lookup("region", Region, "key", create=True),
        Lookup("customer", Customer, "external_id"),
        # DATA_CONTRACT: product_line is a code; an unknown one is created (name = code).
        Lookup("product_line", ProductLine, "code", create=True),
        Lookup("product_model", ProductModel, "code"),
        Lookup("supplier", Supplier, "code"),
        Lookup("component", Component, "code"),
        Lookup("batch", Batch, "code", attrs=("product_model_id", "produced_on")),
        Lookup("unit", Unit, "serial", attrs=("batch_id",)),
        Lookup("ticket", Ticket, "external_id"),
        # Accounts are never created by an import.
        Lookup("user", User, "username"),
        # A team is created by name when unknown (with a warning).
        Lookup("team", Team, "name", create=True),
        # An unknown failure-mode code is created under UNCLASSIFIED (with a warning).
        Lookup("failure_mode", FailureMode, "code", create=True),
        Lookup("recall", Recall, "code", m2m="batches"),
    )
}


@dataclass(frozen=True)
class Column:
    """One column of the template.

    required: the contract's "required": the column must be in the file and every cell
    filled. needed: the model cannot store an empty value and the contract gives no
    default, so a new record must get a value and a given cell must not be empty, but
    the column itself may be missing (the contract must not require more columns than it
    lists). default: stored for an empty cell (and for a new record without the column)."""

    name: str
    type: str = TEXT
    required: bool = False
    needed: bool = False
    default: object = None
    choices: tuple[str, ...] = ()
    ref: str = ""
    min_value: int | Decimal | None = None
    max_value: int | Decimal | None = None
    # Filled from the model field by Entity.__post_init__.
    max_length: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    attname: str = ""  # the model attribute written ("customer_id"); "" for REFS (m2m)


# --- cross-field rules ---------------------------------------------------------------
# A rule reads the merged record (column -> value, references as ids: the existing record
# with the file's values over it) and, through `attrs(lookup, id)`, fields of referenced
# records. It returns the column to blame and the reason, or None.

Attrs = Callable[[str, int], Mapping[str, object]]


@dataclass(frozen=True)
class NotBefore:
    """column >= other, when both are given."""

    column: str
    other: str

    def check(self, row: Mapping, attrs: Attrs) -> tuple[str, str] | None:
        value, other = row.get(self.column), row.get(self.other)
        if value is not None and other is not None and value < other:
            return self.column, _("must not be before %(other)s (%(value)s)") % {
                "other": self.other,
                "value": _display(other),
            }
        return None


@dataclass(frozen=True)
class Needs:
    """When `column` is given, `other` must be given too (and equal `equals` if set)."""

    column: str
    other: str
    equals: object = None

    def check(self, row: Mapping, attrs: Attrs) -> tuple[str, str] | None:
        value = row.get(self.other)
        if self.equals is not None:
            if value == self.equals and row.get(self.column) is None:
                return self.column, _("required when %(other)s is %(value)s") % {
                    "other": self.other,
                    "value": self.equals,
                }
            return None
        if value is not None and row.get(self.column) is None:
            return self.column, _("required when %(other)s is given") % {"other": self.other}
        return None


@dataclass(frozen=True)
class OneOf:
    """At least one of the columns is given."""

    columns: tuple[str, ...]

    def check(self, row: Mapping, attrs: Attrs) -> tuple[str, str] | None:
        if all(row.get(c) is None for c in self.columns):
            return self.columns[0], _("at least one of %(columns)s is required") % {"columns": " / ".join(self.columns)}
        return None


@dataclass(frozen=True)
class SameAsRef:
    """row[column] equals the attribute `attr` of the record referenced by `ref_column`."""

    column: str
    ref_column: str
    lookup: str
    attr: str

    def check(self, row: Mapping, attrs: Attrs) -> tuple[str, str] | None:
        ref_id, value = row.get(self.ref_column), row.get(self.column)
        if ref_id is None or value is None:
            return None
        if attrs(self.lookup, ref_id).get(self.attr) != value:
            return self.column, _("must equal the %(ref)s's %(column)s") % {
                "ref": self.ref_column,
                "column": self.column,
            }
        return None


@dataclass(frozen=True)
class NotBeforeRef:
    """row[column] >= the attribute `attr` of the record referenced by `ref_column`."""

    column: str
    ref_column: str
    lookup: str
    attr: str

    def check(self, row: Mapping, attrs: Attrs) -> tuple[str, str] | None:
        ref_id, value = row.get(self.ref_column), row.get(self.column)
        if ref_id is None or value is None:
            return None
        bound = attrs(self.lookup, ref_id).get(self.attr)
        if bound is not None and value < bound:
            return self.column, _("must not be before the %(ref)s's %(attr)s (%(value)s)") % {
                "ref": self.ref_column,
                "attr": self.attr,
                "value": _display(bound),
            }
        return None


@dataclass(frozen=True)
class RefInRefSet:
    """The attribute `attr` of the record in `column` is one of the ids `set_attr` of the
    record in `set_column` (a recall unit's batch is one of the recall's batches)."""

    column: str
    lookup: str
    attr: str
    set_column: str
    set_lookup: str
    set_attr: str
    reason: str

    def check(self, row: Mapping, attrs: Attrs) -> tuple[str, str] | None:
        ref_id, set_id = row.get(self.column), row.get(self.set_column)
        if ref_id is None or set_id is None:
            return None
        if attrs(self.lookup, ref_id).get(self.attr) not in attrs(self.set_lookup, set_id).get(self.set_attr, ()):
            return self.column, _(self.reason)
        return None


def _display(value) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --- entities ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    name: str
    model: type[models.Model]
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    rules: tuple = ()
    by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        filled = []
        for column in self.columns:
            values = {}
            if column.type != REFS:
                model_field = self.model._meta.get_field(column.name)
                values["attname"] = model_field.attname
                if column.type == TEXT and column.max_length is None:
                    values["max_length"] = model_field.max_length
                if column.type == DECIMAL:
                    values["max_digits"] = model_field.max_digits
                    values["decimal_places"] = model_field.decimal_places
            if column.type == REF and column.ref in LOOKUPS and column.max_length is None:
                lookup = LOOKUPS[column.ref]
                values["max_length"] = lookup.model._meta.get_field(lookup.key).max_length
            if column.type == REFS and column.ref in LOOKUPS:
                lookup = LOOKUPS[column.ref]
                values["max_length"] = lookup.model._meta.get_field(lookup.key).max_length
            filled.append(replace(column, **values) if values else column)
        object.__setattr__(self, "columns", tuple(filled))
        self.by_name.update({c.name: c for c in filled})

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


POSITIVE_INT = 2_147_483_647  # PositiveIntegerField's upper bound on every database
SMALL_INT = 32_767

ENTITIES: dict[str, Entity] = {
    entity.name: entity
    for entity in (
        Entity(
            "customers",
            Customer,
            (
                Column("external_id", required=True),
                Column("name", required=True),
                Column("region", REF, required=True, ref="region"),
                Column("segment", ENUM, choices=tuple(Segment.values), default=Segment.CONSUMER),
                Column("city"),
                Column("created_at", TIMESTAMP, required=True),
            ),
            key=("external_id",),
        ),
        Entity(
            "product_models",
            ProductModel,
            (
                Column("code", required=True),
                Column("name", required=True),
                Column("product_line", REF, required=True, ref="product_line"),
                Column("launched_on", DATE),
            ),
            key=("code",),
        ),
        Entity(
            "suppliers",
            Supplier,
            (Column("code", required=True), Column("name", needed=True)),
            key=("code",),
        ),
        Entity(
            "components",
            Component,
            (
                Column("code", required=True),
                Column("name", required=True),
                Column("supplier", REF, ref="supplier"),
            ),
            key=("code",),
        ),
        Entity(
            "batches",
            Batch,
            (
                Column("code", required=True),
                Column("product_model", REF, required=True, ref="product_model"),
                Column("produced_on", DATE, required=True),
                Column("quantity", INT, required=True, min_value=1, max_value=POSITIVE_INT),
                Column("plant"),
            ),
            key=("code",),
        ),
        Entity(
            "units",
            Unit,
            (
                Column("serial", required=True),
                Column("product_model", REF, required=True, ref="product_model"),
                Column("batch", REF, ref="batch"),
                Column("customer", REF, ref="customer"),
                Column("sold_on", DATE),
                Column("warranty_months", INT, default=24, min_value=0, max_value=SMALL_INT),
            ),
            key=("serial",),
            rules=(
                SameAsRef("product_model", "batch", "batch", "product_model_id"),
                Needs("sold_on", "customer"),
                NotBeforeRef("sold_on", "batch", "batch", "produced_on"),
            ),
        ),
        Entity(
            "tickets",
            Ticket,
            (
                Column("external_id", required=True),
                Column("customer", REF, required=True, ref="customer"),
                Column("unit", REF, ref="unit"),
                Column("type", ENUM, needed=True, choices=tuple(TicketType.values)),
                Column("channel", ENUM, needed=True, choices=tuple(Channel.values)),
                Column("priority", ENUM, choices=tuple(Priority.values), default=Priority.NORMAL),
                Column("subject", required=True),
                Column("description"),
                Column("team", REF, ref="team"),
                Column("assignee", REF, ref="user"),
                Column("created_at", TIMESTAMP, required=True),
                Column("assigned_at", TIMESTAMP),
                Column("dispatch_method", ENUM, choices=tuple(DispatchMethod.values)),
                Column("reassignments", INT, default=0, min_value=0, max_value=POSITIVE_INT),
                Column("first_response_at", TIMESTAMP),
                # Kept as given. When absent the SLA policy will compute them; until that
                # policy exists they stay empty.
                Column("response_due_at", TIMESTAMP),
                Column("resolution_due_at", TIMESTAMP),
                Column("resolved_at", TIMESTAMP),
                Column("closed_at", TIMESTAMP),
                Column("follow_up_at", TIMESTAMP),
                Column("visits", INT, default=1, min_value=0, max_value=POSITIVE_INT),
                Column("reopened_count", INT, default=0, min_value=0, max_value=POSITIVE_INT),
                # Optional: without it the status is derived from the timestamps.
                Column("status", ENUM, choices=tuple(Status.values)),
            ),
            key=("external_id",),
            rules=(
                NotBefore("assigned_at", "created_at"),
                NotBefore("first_response_at", "created_at"),
                NotBefore("resolved_at", "created_at"),
                Needs("resolved_at", "closed_at"),
                NotBefore("closed_at", "resolved_at"),
            ),
        ),
        Entity(
            "failures",
            Failure,
            (
                Column("external_id", required=True),
                Column("ticket", REF, required=True, ref="ticket"),
                Column("unit", REF, required=True, ref="unit"),
                Column("failure_mode", REF, required=True, ref="failure_mode"),
                Column("component", REF, ref="component"),
                Column("occurred_at", TIMESTAMP, required=True),
                Column("repaired_at", TIMESTAMP),
                Column("root_cause_category", ENUM, choices=tuple(RootCauseCategory.values)),
                Column("labor_hours", DECIMAL, default=Decimal("0.00"), min_value=Decimal(0)),
                Column("parts_cost", DECIMAL, default=Decimal("0.00"), min_value=Decimal(0)),
            ),
            key=("external_id",),
            rules=(NotBefore("repaired_at", "occurred_at"),),
        ),
        Entity(
            "surveys",
            Survey,
            (
                Column("external_id", required=True),
                Column("ticket", REF, ref="ticket"),
                Column("customer", REF, required=True, ref="customer"),
                Column("responded_at", TIMESTAMP, required=True),
                Column("csat", INT, min_value=1, max_value=5),
                Column("nps", INT, min_value=0, max_value=10),
                Column("comment"),
            ),
            key=("external_id",),
            rules=(OneOf(("csat", "nps")),),
        ),
        Entity(
            "recalls",
            Recall,
            (
                Column("code", required=True),
                Column("title", required=True),
                Column("severity", ENUM, needed=True, choices=tuple(RecallSeverity.values)),
                Column("opened_at", TIMESTAMP, required=True),
                Column("closed_at", TIMESTAMP),
                Column("batches", REFS, required=True, ref="batch"),
            ),
            key=("code",),
            rules=(NotBefore("closed_at", "opened_at"),),
        ),
        Entity(
            "recall_units",
            RecallUnit,
            (
                Column("recall", REF, required=True, ref="recall"),
                Column("unit", REF, required=True, ref="unit"),
                Column("status", ENUM, choices=tuple(RecallUnitStatus.values), default=RecallUnitStatus.PENDING),
                Column("remedied_at", TIMESTAMP),
            ),
            key=("recall", "unit"),
            rules=(
                RefInRefSet(
                    "unit",
                    "unit",
                    "batch_id",
                    "recall",
                    "recall",
                    "batches_ids",
                    reason=gettext_noop("the unit is not in a batch affected by the recall"),
                ),
                Needs("remedied_at", "status", equals=RecallUnitStatus.REMEDIED),
            ),
        ),
    )
}

# The failure-mode parent of codes an import did not know (quality.models).
UNCLASSIFIED = FailureMode.UNCLASSIFIED


def ticket_status(row: Mapping[str, object]) -> str:
    """DATA_CONTRACT: a ticket's status follows its latest timestamp."""
    if row.get("closed_at") is not None:
        return Status.CLOSED
    if row.get("resolved_at") is not None:
        return Status.RESOLVED
    if row.get("first_response_at") is not None:
        return Status.IN_PROGRESS
    if row.get("assigned_at") is not None:
        return Status.ASSIGNED
    return Status.NEW


# --- headers -------------------------------------------------------------------------


def header_key(name: object) -> str:
    """Headers (and mapping-profile keys) match case-insensitively after trimming."""
    return re.sub(r"\s+", " ", str(name if name is not None else "").replace("\ufeff", "")).strip().casefold()


# --- cells ---------------------------------------------------------------------------


class CellError(ValueError):
    """A cell that breaks its column's type; the message is the reason in plain words,
    `code` its kind (a RowErrorCode value)."""

    def __init__(self, reason: str, code: str = RowErrorCode.OTHER):
        super().__init__(reason)
        self.code = code


_INT_RE = re.compile(r"[+-]?\d+")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def cell_text(value: object) -> str:
    """A cell as the text it shows (for error reports and text columns)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return REFS_SEPARATOR.join(cell_text(v) for v in value)
    return str(value)


def make_parser(
    column: Column,
    *,
    tz: tzinfo,
    datetime_formats: tuple[str, ...] = (),
    value_map: Mapping[str, object] | None = None,
) -> Callable[[object], object]:
    """A function cell -> value for one column: None for an empty cell (the caller applies
    the default), CellError with the reason otherwise. Cells are strings (CSV), or the
    typed values of XLSX cells and JSON records. `value_map` (a mapping profile's, keys
    matched case-insensitively after trimming) replaces a value before validation."""
    convert = _CONVERTERS[column.type](column, tz, tuple(datetime_formats))
    mapped = {header_key(k): v for k, v in (value_map or {}).items()}
    if not mapped and not datetime_formats and column.type in _FAST:
        return _FAST[column.type](column, tz, convert)

    def parse(raw: object) -> object:
        if raw.__class__ is str or isinstance(raw, str):
            raw = raw.strip()
            if not raw:
                return None
        elif raw is None:
            return None
        if mapped:
            key = header_key(raw) if isinstance(raw, str) else header_key(cell_text(raw))
            if key in mapped:
                raw = mapped[key]
                if raw is None or raw == "":
                    return None
        return convert(raw)

    return parse


# Single-call parsers for the common case (a CSV cell, no value map, no date formats):
# a million-row file has some twenty million cells, and a function call each counts.
# Anything but a plain string goes through the general parser.


def _fast_text(column: Column, tz, convert):
    limit = column.max_length or 1 << 30

    def parse(raw):
        if raw.__class__ is not str:
            return None if raw is None else convert(raw)
        raw = raw.strip()
        if not raw:
            return None
        if len(raw) > limit or "\x00" in raw:
            return convert(raw)  # raises with the reason
        return raw

    return parse


def _fast_enum(column: Column, tz, convert):
    choices = frozenset(column.choices)

    def parse(raw):
        if raw.__class__ is not str:
            return None if raw is None else convert(raw)
        raw = raw.strip()
        if raw in choices:
            return raw
        return convert(raw) if raw else None

    return parse


def _fast_timestamp(column: Column, tz, convert):
    def parse(raw):
        if raw.__class__ is not str:
            return None if raw is None else convert(raw)
        raw = raw.strip()
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return convert(raw)  # raises with the reason
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        if 1 < value.year < 9999 and len(raw) <= 64:
            return value
        return convert(raw)

    return parse


def _fast_int(column: Column, tz, convert):
    low = column.min_value if column.min_value is not None else -(1 << 63)
    high = column.max_value if column.max_value is not None else 1 << 63

    def parse(raw):
        if raw.__class__ is not str:
            return None if raw is None else convert(raw)
        raw = raw.strip()
        if raw.isdigit() and len(raw) <= 18 and raw.isascii():
            value = int(raw)
            if low <= value <= high:
                return value
        return convert(raw) if raw else None

    return parse


def _text(column: Column, tz, formats):
    limit = column.max_length

    def convert(raw):
        if raw.__class__ is str:
            text = raw
        elif isinstance(raw, bool | list | tuple | dict):
            raise CellError(_("not text"), RowErrorCode.INVALID_TEXT)
        else:
            text = cell_text(raw).strip()
        if "\x00" in text:
            raise CellError(_("contains a NUL character"), RowErrorCode.INVALID_TEXT)
        if limit is not None and len(text) > limit:
            raise CellError(_("longer than %(limit)s characters") % {"limit": limit}, RowErrorCode.INVALID_TEXT)
        return text

    return convert


def _enum(column: Column, tz, formats):
    choices = frozenset(column.choices)
    allowed = ", ".join(column.choices)

    def convert(raw):
        text = raw.casefold() if isinstance(raw, str) else None
        if text not in choices:
            raise CellError(_("must be one of: %(allowed)s") % {"allowed": allowed}, RowErrorCode.INVALID_ENUM)
        return text

    return convert


def _bounded(column: Column, value):
    if column.min_value is not None and value < column.min_value:
        raise CellError(_("must be at least %(min)s") % {"min": column.min_value}, RowErrorCode.OUT_OF_RANGE)
    if column.max_value is not None and value > column.max_value:
        raise CellError(_("must be at most %(max)s") % {"max": column.max_value}, RowErrorCode.OUT_OF_RANGE)
    return value


def _int(column: Column, tz, formats):
    def convert(raw):
        if raw.__class__ is str:
            if len(raw) > 20 or not _INT_RE.fullmatch(raw):
                raise CellError(_("not a whole number"), RowErrorCode.INVALID_NUMBER)
            value = int(raw)
        elif isinstance(raw, bool):
            raise CellError(_("not a whole number"), RowErrorCode.INVALID_NUMBER)
        elif isinstance(raw, int):
            value = raw
        elif isinstance(raw, float):
            if not math.isfinite(raw) or not raw.is_integer():
                raise CellError(_("not a whole number"), RowErrorCode.INVALID_NUMBER)
            value = int(raw)
        elif isinstance(raw, Decimal):
            if not raw.is_finite() or raw != raw.to_integral_value():
                raise CellError(_("not a whole number"), RowErrorCode.INVALID_NUMBER)
            value = int(raw)
        else:
            raise CellError(_("not a whole number"), RowErrorCode.INVALID_NUMBER)
        return _bounded(column, value)

    return convert


def _decimal(column: Column, tz, formats):
    places = column.decimal_places or 0
    quantum = Decimal(1).scaleb(-places)
    integer_digits = (column.max_digits or 30) - places

    def convert(raw):
        if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
            raise CellError(_("not a number"), RowErrorCode.INVALID_NUMBER)
        try:
            value = Decimal(raw if isinstance(raw, str | Decimal) else str(raw))
        except (InvalidOperation, ValueError):
            raise CellError(_("not a number"), RowErrorCode.INVALID_NUMBER)
        if not value.is_finite():
            raise CellError(_("not a number"), RowErrorCode.INVALID_NUMBER)
        _bounded(column, value)
        if value.adjusted() >= integer_digits:
            raise CellError(
                _("too large: at most %(digits)s digits before the decimal point") % {"digits": integer_digits},
                RowErrorCode.OUT_OF_RANGE,
            )
        # Rounded to the stored precision (cents, hundredths of an hour).
        return value.quantize(quantum, rounding=ROUND_HALF_UP)

    return convert


def _strptime(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 (localised by the caller)
        except ValueError:
            continue
    return None


def _date(column: Column, tz, formats):
    def convert(raw):
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            parsed = _strptime(raw, formats)
            if parsed is not None:
                return parsed.date()
            if _DATE_RE.fullmatch(raw):
                try:
                    return date.fromisoformat(raw)
                except ValueError:
                    pass
        raise CellError(_("not a valid date (YYYY-MM-DD)"), RowErrorCode.INVALID_DATE)

    return convert


def _timestamp(column: Column, tz, formats):
    def convert(raw):
        if raw.__class__ is str and len(raw) <= 64:
            value = _strptime(raw, formats) if formats else None
            if value is None:
                try:
                    value = datetime.fromisoformat(raw)
                except ValueError:
                    raise CellError(_("not a valid timestamp"), RowErrorCode.INVALID_TIMESTAMP)
        elif isinstance(raw, datetime):
            value = raw
        elif isinstance(raw, date):
            value = datetime.combine(raw, time(0))
        else:
            raise CellError(_("not a valid timestamp"), RowErrorCode.INVALID_TIMESTAMP)
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        if value.year <= 1 or value.year >= 9999:
            try:
                value.astimezone(UTC)
            except (OverflowError, ValueError):
                raise CellError(_("not a valid timestamp"), RowErrorCode.INVALID_TIMESTAMP)
        return value

    return convert


def _bool(column: Column, tz, formats):
    def convert(raw):
        if isinstance(raw, bool):
            return raw
        text = cell_text(raw).strip().casefold()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise CellError(_("not a yes/no value (true/false, 1/0, yes/no)"), RowErrorCode.INVALID_BOOLEAN)

    return convert


def _ref(column: Column, tz, formats):
    text = _text(column, tz, formats)

    def convert(raw):
        if raw.__class__ is float and not raw.is_integer():
            raise CellError(_("not a valid code"), RowErrorCode.INVALID_TEXT)
        return text(raw)

    return convert


def _refs(column: Column, tz, formats):
    text = _text(column, tz, formats)

    def convert(raw):
        parts = raw if isinstance(raw, list | tuple) else cell_text(raw).split(REFS_SEPARATOR)
        codes: dict[str, None] = {}
        for part in parts:
            if part is None or isinstance(part, list | tuple | dict):
                raise CellError(_("not a list of codes"), RowErrorCode.INVALID_TEXT)
            code = part.strip() if isinstance(part, str) else cell_text(part)
            if code:
                codes[text(code)] = None
        if not codes:
            return None
        return tuple(codes)

    return convert


_FAST = {TEXT: _fast_text, REF: _fast_text, ENUM: _fast_enum, TIMESTAMP: _fast_timestamp, INT: _fast_int}

_CONVERTERS = {
    TEXT: _text,
    ENUM: _enum,
    INT: _int,
    DECIMAL: _decimal,
    DATE: _date,
    TIMESTAMP: _timestamp,
    BOOL: _bool,
    REF: _ref,
    REFS: _refs,
}
