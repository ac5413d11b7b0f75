"""Self-service metrics (自助指标, METRICS.md): what a user may build a metric from, the
validation of a definition, and its translation into a registry Kpi, so the engine,
the API, the dashboards and the snapshots treat it like a catalogue KPI.

Filters name fields of a whitelist per record set; an ORM path is only ever taken from
that whitelist, never from user input."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import DurationField, ExpressionWrapper, F, Q, TextChoices
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.exceptions import ApplicationError
from catalog.models import Segment
from catalog.roles import user_has_global_read
from tickets.models import Channel, DispatchMethod, Priority, Status, TicketType

from .kpi.catalogue import FAILURE_DIMS, SURVEY_DIMS, TICKET_DIMS, UNIT_DIMS
from .kpi.periods import grain_floor, grain_next, grain_previous, kpi_zone
from .kpi.registry import Kpi, Measure, kpi_registry
from .models import MetricDefinition, MetricKind, MetricRecordSet, RootCauseCategory
from .selectors import kpi_target_for, kpi_values

logger = logging.getLogger(__name__)

# Field types -> the operators that make sense for them.
OPERATORS = {
    "eq": "=",
    "ne": "≠",
    "in": "in",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "isnull": gettext_lazy("is empty"),
}
TYPE_OPERATORS = {
    "enum": ("eq", "ne", "in", "isnull"),
    "text": ("eq", "ne", "in", "isnull"),
    "int": ("eq", "ne", "in", "lt", "lte", "gt", "gte", "isnull"),
    "number": ("eq", "ne", "lt", "lte", "gt", "gte", "isnull"),
    "date": ("eq", "ne", "lt", "lte", "gt", "gte", "isnull"),
    "datetime": ("lt", "lte", "gt", "gte", "isnull"),
}
TYPE_NAMES = {
    "enum": gettext_lazy("a choice"),
    "text": gettext_lazy("a text"),
    "int": gettext_lazy("a whole number"),
    "number": gettext_lazy("a number"),
    "date": gettext_lazy("a date"),
    "datetime": gettext_lazy("a time"),
}
TIME_TYPES = ("date", "datetime")
NUMERIC_TYPES = ("int", "number")
MAX_FILTERS = 20
MAX_IN_VALUES = 100
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")
# Words the URLs use next to a code (/api/v1/kpis/overview/, /metrics/new/, ...).
RESERVED_CODES = frozenset({"overview", "new", "fields", "export", "records", "values"})
FILTER_LISTS = ("numerator_filters", "base_filters")


@dataclass(frozen=True)
class MetricField:
    path: str  # the ORM path, from this whitelist only
    type: str  # a key of TYPE_OPERATORS
    label: str
    choices: type[TextChoices] | None = None
    blank: bool = False  # an enum/text stored as "" when empty

    def operators(self) -> tuple[str, ...]:
        return TYPE_OPERATORS[self.type]


@dataclass(frozen=True)
class RecordSet:
    model: str
    dims: Mapping[str, str]
    ticket_path: str | None  # how a record reaches its ticket (scoping); None: it can't
    label: str
    fields: Mapping[str, MetricField]


def _f(path, type_, label, choices=None, blank=False) -> MetricField:
    return MetricField(path=path, type=type_, label=label, choices=choices, blank=blank)


L = gettext_lazy
RECORD_SETS: dict[str, RecordSet] = {
    MetricRecordSet.TICKETS: RecordSet(
        model="tickets.Ticket",
        dims=TICKET_DIMS,
        ticket_path="",
        label=L("Tickets"),
        fields={
            "type": _f("type", "enum", L("type"), TicketType),
            "channel": _f("channel", "enum", L("channel"), Channel),
            "priority": _f("priority", "enum", L("priority"), Priority),
            "status": _f("status", "enum", L("status"), Status),
            "dispatch_method": _f("dispatch_method", "enum", L("dispatch method"), DispatchMethod, blank=True),
            "segment": _f("customer__segment", "enum", L("customer segment"), Segment),
            "team": _f("team__name", "text", L("team")),
            "product_model": _f("unit__product_model__code", "text", L("product model code")),
            "visits": _f("visits", "int", L("visits")),
            "reassignments": _f("reassignments", "int", L("reassignments")),
            "reopened_count": _f("reopened_count", "int", L("times reopened")),
            "created_at": _f("created_at", "datetime", L("created at")),
            "assigned_at": _f("assigned_at", "datetime", L("assigned at")),
            "first_response_at": _f("first_response_at", "datetime", L("first response at")),
            "response_due_at": _f("response_due_at", "datetime", L("response due at")),
            "resolution_due_at": _f("resolution_due_at", "datetime", L("resolution due at")),
            "resolved_at": _f("resolved_at", "datetime", L("resolved at")),
            "closed_at": _f("closed_at", "datetime", L("closed at")),
            "follow_up_at": _f("follow_up_at", "datetime", L("follow-up at")),
        },
    ),
    MetricRecordSet.FAILURES: RecordSet(
        model="quality.Failure",
        dims=FAILURE_DIMS,
        ticket_path="ticket__",
        label=L("Failures"),
        fields={
            "root_cause_category": _f(
                "root_cause_category", "enum", L("root-cause category"), RootCauseCategory, blank=True
            ),
            "failure_mode": _f("failure_mode__code", "text", L("failure mode code")),
            "component": _f("component__code", "text", L("component code")),
            "product_model": _f("unit__product_model__code", "text", L("product model code")),
            "batch": _f("unit__batch__code", "text", L("batch code")),
            "ticket_type": _f("ticket__type", "enum", L("ticket type"), TicketType),
            "labor_hours": _f("labor_hours", "number", L("labour hours")),
            "parts_cost": _f("parts_cost", "number", L("parts cost")),
            "occurred_at": _f("occurred_at", "datetime", L("occurred at")),
            "repaired_at": _f("repaired_at", "datetime", L("repaired at")),
            "ticket_created_at": _f("ticket__created_at", "datetime", L("ticket created at")),
            "ticket_resolved_at": _f("ticket__resolved_at", "datetime", L("ticket resolved at")),
            "sold_on": _f("unit__sold_on", "date", L("unit sold on")),
        },
    ),
    MetricRecordSet.SURVEYS: RecordSet(
        model="tickets.Survey",
        dims=SURVEY_DIMS,
        ticket_path="ticket__",
        label=L("Surveys"),
        fields={
            "csat": _f("csat", "int", L("CSAT (1-5)")),
            "nps": _f("nps", "int", L("NPS (0-10)")),
            "segment": _f("customer__segment", "enum", L("customer segment"), Segment),
            "ticket_type": _f("ticket__type", "enum", L("ticket type"), TicketType),
            "channel": _f("ticket__channel", "enum", L("ticket channel"), Channel),
            "responded_at": _f("responded_at", "datetime", L("responded at")),
            "ticket_created_at": _f("ticket__created_at", "datetime", L("ticket created at")),
            "ticket_resolved_at": _f("ticket__resolved_at", "datetime", L("ticket resolved at")),
        },
    ),
    MetricRecordSet.UNITS: RecordSet(
        model="catalog.Unit",
        dims=UNIT_DIMS,
        ticket_path=None,
        label=L("Units"),
        fields={
            "product_model": _f("product_model__code", "text", L("product model code")),
            "product_line": _f("product_model__product_line__code", "text", L("product line code")),
            "batch": _f("batch__code", "text", L("batch code")),
            "segment": _f("customer__segment", "enum", L("customer segment"), Segment),
            "warranty_months": _f("warranty_months", "int", L("warranty (months)")),
            "sold_on": _f("sold_on", "date", L("sold on")),
            "produced_on": _f("batch__produced_on", "date", L("batch produced on")),
        },
    ),
}


class MetricDefinitionError(ApplicationError):
    """A definition that cannot be saved (or, stored, can no longer be computed)."""


# Values


class _BadValue(ValueError):
    pass


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _BadValue(_("“%(value)s” is not true or false.") % {"value": _short(value)})


def _short(value) -> str:
    return str(value)[:60]


def _parse_one(field: MetricField, value):
    """One value of a field's type, in its stored (JSON) form."""
    if value is None or isinstance(value, list | dict):
        raise _BadValue(_("a value is required (%(type)s).") % {"type": TYPE_NAMES[field.type]})
    if field.type == "enum":
        text = str(value).strip()
        values = [c.value for c in field.choices]
        match = next((v for v in values if v == text.lower()), None)
        if match is None:
            raise _BadValue(
                _("“%(value)s” is not one of %(choices)s.") % {"value": _short(value), "choices": ", ".join(values)}
            )
        return match
    if field.type == "text":
        text = str(value).strip()
        if not text or len(text) > 200:
            raise _BadValue(_("a text of 1 to 200 characters is required."))
        return text
    if field.type == "int":
        if isinstance(value, bool):
            raise _BadValue(_("“%(value)s” is not a whole number.") % {"value": _short(value)})
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number != number.to_integral_value():
            raise _BadValue(_("“%(value)s” is not a whole number.") % {"value": _short(value)})
        return int(number)
    if field.type == "number":
        try:
            number = Decimal(str(value).strip()) if not isinstance(value, bool) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise _BadValue(_("“%(value)s” is not a number.") % {"value": _short(value)})
        return str(number)
    if field.type == "date":
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise _BadValue(_("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": _short(value)})
    # datetime: a date means local midnight; a time without offset is local time.
    text = str(value).strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _BadValue(
            _("“%(value)s” is not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM, local time).") % {"value": _short(value)}
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=kpi_zone())
    return moment.isoformat()


def _parse_value(field: MetricField, op: str, value):
    if op == "isnull":
        return _parse_bool(value)
    if op == "in":
        items = value if isinstance(value, list) else [v for v in str(value or "").split(",") if v.strip()]
        if not items:
            raise _BadValue(_("list at least one value, separated by commas."))
        if len(items) > MAX_IN_VALUES:
            raise _BadValue(_("at most %(n)d values.") % {"n": MAX_IN_VALUES})
        return list(dict.fromkeys(_parse_one(field, item) for item in items))
    return _parse_one(field, value)


def _python(field: MetricField, stored):
    """A stored (JSON) value as the ORM wants it."""
    if field.type == "number":
        return Decimal(stored)
    if field.type == "date":
        return dt.date.fromisoformat(stored)
    if field.type == "datetime":
        return dt.datetime.fromisoformat(stored)
    return stored


# Filters


def _field_list(record_set: str) -> str:
    return ", ".join(RECORD_SETS[record_set].fields)


def filters_clean(record_set: str, filters) -> tuple[list[dict], list[str]]:
    """The filters in stored form, and the reasons any of them is refused (each naming
    the filter by position and field)."""
    if filters in (None, ""):
        return [], []
    if not isinstance(filters, list | tuple):
        return [], [_("A list of filters {field, op, value} is expected.")]
    if len(filters) > MAX_FILTERS:
        return [], [_("At most %(n)d filters.") % {"n": MAX_FILTERS}]
    fields = RECORD_SETS[record_set].fields
    cleaned, errors = [], []
    for position, item in enumerate(filters, start=1):
        if not isinstance(item, Mapping):
            errors.append(_("Filter %(n)d: a {field, op, value} object is expected.") % {"n": position})
            continue
        name = str(item.get("field") or "").strip()
        op = str(item.get("op") or "").strip().lower()
        where = {"n": position, "field": _short(name)}
        field = fields.get(name)
        if field is None:
            errors.append(
                _("Filter %(n)d: unknown field “%(field)s” for %(set)s; choose one of: %(fields)s.")
                % {**where, "set": RECORD_SETS[record_set].label, "fields": _field_list(record_set)}
            )
            continue
        if op not in field.operators():
            errors.append(
                _("Filter %(n)d (%(field)s): operator “%(op)s” is not valid for %(type)s; use one of: %(ops)s.")
                % {**where, "op": _short(op), "type": TYPE_NAMES[field.type], "ops": ", ".join(field.operators())}
            )
            continue
        try:
            value = _parse_value(field, op, item.get("value"))
        except _BadValue as error:
            errors.append(_("Filter %(n)d (%(field)s): %(reason)s") % {**where, "reason": error})
            continue
        cleaned.append({"field": name, "op": op, "value": value})
    return cleaned, errors


def _filter_q(field: MetricField, op: str, stored) -> Q:
    path = field.path
    if op == "isnull":
        empty = Q(**{f"{path}__isnull": True})
        if field.blank:
            empty |= Q(**{path: ""})
        return empty if stored else ~empty
    if op == "in":
        return Q(**{f"{path}__in": [_python(field, v) for v in stored]})
    value = _python(field, stored)
    if op == "eq":
        return Q(**{path: value})
    if op == "ne":
        return ~Q(**{path: value})
    return Q(**{f"{path}__{op}": value})


def filters_q(record_set: str, filters: list[dict]) -> Q:
    """The Q of stored filters (all must hold); re-validated, so a stored definition
    that no longer fits the whitelist raises instead of querying."""
    cleaned, errors = filters_clean(record_set, filters)
    if errors:
        raise MetricDefinitionError(errors[0], errors={"filters": errors})
    fields = RECORD_SETS[record_set].fields
    q = Q()
    for item in cleaned:
        q &= _filter_q(fields[item["field"]], item["op"], item["value"])
    return q


# Definitions


def catalogue_codes() -> set[str]:
    return {code for code, kpi in kpi_registry().items() if not kpi.custom}


def _float(value, name: str, errors: dict, *, required: bool):
    if value in (None, ""):
        if required:
            errors[name] = [_("A number is required.")]
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        errors[name] = [_("“%(value)s” is not a number.") % {"value": _short(value)}]
        return None
    return number


def _text(data: Mapping, name: str, limit: int, errors: dict, *, required: bool = False) -> str:
    value = str(data.get(name) or "").strip()
    if required and not value:
        errors[name] = [_("This field is required.")]
    elif len(value) > limit:
        errors[name] = [_("At most %(n)d characters.") % {"n": limit}]
    return value


def _time_field(record_set: RecordSet, name: str, value: str, allowed: tuple[str, ...], errors: dict) -> None:
    field = record_set.fields.get(value)
    if field is None:
        choices = [k for k, f in record_set.fields.items() if f.type in allowed]
        errors[name] = [
            _("Unknown field “%(field)s” for %(set)s; choose one of: %(fields)s.")
            % {"field": _short(value), "set": record_set.label, "fields": ", ".join(choices)}
        ]
    elif field.type not in allowed:
        errors[name] = [
            _("“%(field)s” is %(type)s; %(expected)s is needed here.")
            % {
                "field": value,
                "type": TYPE_NAMES[field.type],
                "expected": " / ".join(str(TYPE_NAMES[t]) for t in allowed),
            }
        ]


def metric_definition_clean(data: Mapping, *, creating: bool) -> dict:
    """The model fields of a definition, normalised; raises MetricDefinitionError with
    every reason, keyed by field, when any is refused."""
    errors: dict[str, list[str]] = {}
    out: dict = {}
    code = str(data.get("code") or "").strip()
    if creating:
        if not CODE_PATTERN.match(code):
            errors["code"] = [
                _("Use 2 to 64 lower-case letters, digits, “_” or “-”, starting with a letter (e.g. repair_ftf).")
            ]
        elif code in RESERVED_CODES or code in catalogue_codes():
            errors["code"] = [_("“%(code)s” is already a catalogue KPI or a reserved word.") % {"code": code}]
    out["code"] = code
    out["name_en"] = _text(data, "name_en", 200, errors, required=True)
    out["name_zh"] = _text(data, "name_zh", 200, errors)
    out["description"] = _text(data, "description", 4000, errors)
    out["unit"] = _text(data, "unit", 32, errors)
    kind = str(data.get("kind") or "")
    if kind not in MetricKind.values:
        errors["kind"] = [_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(MetricKind.values)}]
    direction = str(data.get("direction") or "")
    if direction not in ("up", "down"):
        errors["direction"] = [_("Choose up (higher is better) or down (lower is better).")]
    out.update(kind=kind, direction=direction, active=bool(data.get("active", True)))
    out["target"] = _float(data.get("target"), "target", errors, required=False)
    scale = _float(data.get("scale", 1), "scale", errors, required=True)
    if scale is not None and scale <= 0:
        errors["scale"] = [_("The scale must be greater than 0.")]
    elif scale is not None and kind == MetricKind.COUNT and scale != 1:
        errors["scale"] = [_("A count is not scaled; leave the scale at 1.")]
    out["scale"] = scale

    name = str(data.get("record_set") or "")
    record_set = RECORD_SETS.get(name)
    out["record_set"] = name
    out.update(time_field="", mean_field="", mean_start_field="", numerator_filters=[], base_filters=[])
    if record_set is None:
        errors["record_set"] = [_("Choose one of: %(sets)s.") % {"sets": ", ".join(RECORD_SETS)}]
    else:
        out["time_field"] = str(data.get("time_field") or "").strip()
        _time_field(record_set, "time_field", out["time_field"], TIME_TYPES, errors)
        if kind == MetricKind.MEAN:
            mean_field = str(data.get("mean_field") or "").strip()
            start_field = str(data.get("mean_start_field") or "").strip()
            if start_field:  # a duration: end - start, in hours
                _time_field(record_set, "mean_field", mean_field, ("datetime",), errors)
                _time_field(record_set, "mean_start_field", start_field, ("datetime",), errors)
            elif not mean_field:
                errors["mean_field"] = [_("A mean needs the field to average.")]
            else:
                _time_field(record_set, "mean_field", mean_field, NUMERIC_TYPES + ("datetime",), errors)
                if "mean_field" not in errors and record_set.fields[mean_field].type == "datetime":
                    errors["mean_start_field"] = [
                        _("“%(field)s” is a time: give the start of the duration to average.") % {"field": mean_field}
                    ]
            out.update(mean_field=mean_field, mean_start_field=start_field)
        for list_name in FILTER_LISTS:
            cleaned, reasons = filters_clean(name, data.get(list_name))
            out[list_name] = cleaned
            if reasons:
                errors[list_name] = reasons
    if errors:
        raise MetricDefinitionError(next(iter(errors.values()))[0], errors=errors)
    if not out["unit"]:
        out["unit"] = _default_unit(out)
    return out


def _default_unit(fields: Mapping) -> str:
    if fields["kind"] == MetricKind.COUNT:
        return "count"
    if fields["kind"] == MetricKind.RATIO:
        return "%" if fields["scale"] == 100 else ""
    if fields["mean_start_field"]:
        return "h" if fields["scale"] == 1 else ("min" if fields["scale"] == 60 else "")
    return ""


# Kpi


def _hours(value) -> float:
    return value.total_seconds() / 3600 if isinstance(value, dt.timedelta) else float(value)


def _filter_text(filters: list[dict]) -> str:
    parts = []
    for item in filters:
        value = item["value"]
        if item["op"] == "isnull":
            parts.append(f"{item['field']} {'is empty' if value else 'is not empty'}")
        elif item["op"] == "in":
            parts.append(f"{item['field']} in ({', '.join(str(v) for v in value)})")
        else:
            parts.append(f"{item['field']} {OPERATORS[item['op']]} {value}")
    return " and ".join(parts)


_SET_NAMES = {
    "tickets": ("Tickets", "工单"),
    "failures": ("Failures", "故障"),
    "surveys": ("Surveys", "问卷"),
    "units": ("Units", "产品"),
}


def _definition_texts(d: MetricDefinition) -> tuple[str, str]:
    """The 口径 generated from the definition, in English and Chinese."""
    set_en, set_zh = _SET_NAMES.get(d.record_set, (d.record_set, d.record_set))
    base = _filter_text(d.base_filters)
    num = _filter_text(d.numerator_filters)
    scale = f"{d.scale:g} × " if d.scale != 1 else ""
    if d.kind == MetricKind.MEAN:
        measured = f"{d.mean_field} − {d.mean_start_field}, h" if d.mean_start_field else d.mean_field
        where = " and ".join(filter(None, [base, num]))
        en_formula = f"{scale}mean({measured})"
        zh_formula = f"{scale}平均值({measured})"
        en = f"{set_en} with {d.time_field} in P{' where ' + where if where else ''}: {en_formula}."
        zh = f"{d.time_field} 在 P 内的{set_zh}{'（' + where + '）' if where else ''}：{zh_formula}。"
    else:
        count = f"count({num})" if num else "count"
        en_formula = f"{scale}{count} / count" if d.kind == MetricKind.RATIO else count
        en = f"{set_en} with {d.time_field} in P{' where ' + base if base else ''}: {en_formula}."
        zh = f"{d.time_field} 在 P 内的{set_zh}{'（' + base + '）' if base else ''}：{en_formula}。"
    if d.description:
        en, zh = f"{d.description} — {en}", f"{d.description} — {zh}"
    return en, zh


def metric_kpi(definition: MetricDefinition) -> Kpi:
    """The registry Kpi of a definition (active or not). Ratio: numerator = base and
    numerator filters, denominator = base filters. Count and mean: both filter lists."""
    d = definition
    record_set = RECORD_SETS.get(d.record_set)
    if record_set is None or d.time_field not in record_set.fields:
        raise MetricDefinitionError(_("%(code)s: the record set or time field is unknown.") % {"code": d.code})
    time = record_set.fields[d.time_field]
    base = filters_q(d.record_set, d.base_filters)
    selected = base & filters_q(d.record_set, d.numerator_filters)

    def measure(**kwargs) -> Measure:
        return Measure(
            model=record_set.model,
            time=time.path,
            is_date=time.type == "date",
            dims=record_set.dims,
            ticket_path=record_set.ticket_path,
            **kwargs,
        )

    denominator = None
    if d.kind == MetricKind.COUNT:
        numerator = measure(where=selected)
    elif d.kind == MetricKind.RATIO:
        numerator, denominator = measure(where=selected), measure(where=base)
    else:
        fields = record_set.fields
        if d.mean_field not in fields or (d.mean_start_field and d.mean_start_field not in fields):
            raise MetricDefinitionError(_("%(code)s: the field to average is unknown.") % {"code": d.code})
        end = fields[d.mean_field].path
        present = Q(**{f"{end}__isnull": False})
        scale = d.scale
        if d.mean_start_field:
            start = fields[d.mean_start_field].path
            present &= Q(**{f"{start}__isnull": False})
            expression = ExpressionWrapper(F(end) - F(start), output_field=DurationField())

            def convert(value):
                return _hours(value) * scale
        else:
            expression = F(end)

            def convert(value):
                return float(value) * scale

        numerator = measure(kind="sum", field=expression, where=selected & present, convert=convert)
        denominator = measure(where=selected & present)
    definition_en, definition_zh = _definition_texts(d)
    return Kpi(
        code=d.code,
        name_en=d.name_en,
        name_zh=d.name_zh or d.name_en,
        category="custom",
        unit=d.unit,
        direction=d.direction,
        kind=d.kind,
        dims=tuple(record_set.dims),
        numerator=numerator,
        denominator=denominator,
        scale=d.scale if d.kind == MetricKind.RATIO else 1.0,
        target=d.target,
        definition_en=definition_en,
        definition_zh=definition_zh,
        version=d.version,
        custom=True,
    )


def metric_kpis() -> list[Kpi]:
    """The registry provider: the active definitions, one query. A stored definition
    that no longer validates (a field left the whitelist) is skipped, not fatal."""
    out = []
    for definition in MetricDefinition.objects.filter(active=True).order_by("code"):
        try:
            out.append(metric_kpi(definition))
        except MetricDefinitionError as error:
            logger.warning("self-service metric %s skipped: %s", definition.code, error.message)
    return out


# Reads


def metric_definition_list(*, active: bool | None = None):
    qs = MetricDefinition.objects.select_related("created_by", "updated_by").order_by("code")
    return qs if active is None else qs.filter(active=active)


def metric_definition_get(*, code: str) -> MetricDefinition:
    found = metric_definition_list().filter(code=code).first()
    if found is None:
        raise Http404("No such metric.")
    return found


def metric_fields() -> dict:
    """The whitelist as data (API and form help): per record set its fields, their
    types, operators and choices, and the dimensions."""
    return {
        name: {
            "label": str(rs.label),
            "dims": list(rs.dims),
            "fields": {
                key: {
                    "label": str(f.label),
                    "type": f.type,
                    "operators": list(f.operators()),
                    "choices": [c.value for c in f.choices] if f.choices else None,
                    "time": f.type in TIME_TYPES,
                    "mean": f.type in NUMERIC_TYPES + ("datetime",),
                }
                for key, f in rs.fields.items()
            },
        }
        for name, rs in RECORD_SETS.items()
    }


def metric_preview(*, user, definition: MetricDefinition, today: dt.date | None = None) -> dict | None:
    """The last 6 months' values (month grain, live), or None when the user may not see
    the metric's records (a unit metric for a team-scoped user) or it cannot be built."""
    try:
        kpi = metric_kpi(definition)
    except MetricDefinitionError:
        return None
    if not user_has_global_read(user) and not kpi.scopable():
        return None
    today = today or timezone.now().astimezone(kpi_zone()).date()
    end = grain_next(grain_floor(today, "month"), "month")
    start = end
    for _i in range(6):
        start = grain_previous(start, "month")
    body = kpi_values(user=user, kpi=kpi, grain="month", start=start, end=end, live=True)
    by_period = {row["period_start"]: row for row in body["rows"]}
    rows = []
    month = start
    while month < end:
        empty = {"period_start": month.isoformat(), "value": None, "numerator": None, "denominator": None}
        row = by_period.get(month.isoformat()) or {**empty, "target": kpi_target_for(kpi, period_start=month)}
        rows.append(row)
        month = grain_next(month, "month")
    return {"kpi": kpi, "rows": rows, "start": start, "end": end}
