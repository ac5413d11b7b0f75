"""The one registry of KPI definitions (METRICS.md). Apps register into it from their
AppConfig.ready (catalogue KPIs here, improvement KPIs from `improvements`), so the
engine, the snapshots, the API, the dashboards and the reports all read one list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Count, Expression, Q, Sum
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

CATEGORIES = {
    "customer_experience": (_("Customer experience"), "Customer experience", "客户体验"),
    "problem_tracing": (_("Problem tracing"), "Problem tracing", "问题溯源"),
    "service_efficiency": (_("Service efficiency"), "Service efficiency", "服务效率"),
    "continuous_improvement": (_("Continuous improvement"), "Continuous improvement", "持续改进"),
    "custom": (_("Self-service metrics"), "Self-service metrics", "自助指标"),
}

DIMENSIONS = {
    "region": _("region"),
    "segment": _("segment"),
    "channel": _("channel"),
    "type": _("type"),
    "priority": _("priority"),
    "team": _("team"),
    "assignee": _("assignee"),
    "product_line": _("product line"),
    "product_model": _("product model"),
    "batch": _("batch"),
    "component": _("component"),
    "failure_mode": _("failure mode"),
    "recall": _("recall"),
    "severity": _("severity"),
    "owner": _("owner"),
}

UNITS = {
    "%": _("%"),
    "points": _("points"),
    "per_10k_customers": _("per 10k customers"),
    "per_1000_units": _("per 1000 units"),
    "h": _("hours"),
    "min": _("minutes"),
    "days": _("days"),
    "currency": _("currency"),
    "tickets": _("tickets"),
    "reviews": _("reviews"),
    "count": _("count"),
}

NONE_MEMBER = "(none)"


def _resolve(value):
    return value() if callable(value) else value


@dataclass(frozen=True, eq=False)
class Measure:
    """One aggregate over one record set, placing records in P by `time`.

    `stock` measures count records with `time` before the end of P (customers, units
    sold, ...) instead of in P. `where` selects the records counted (it becomes the
    aggregate's FILTER, so measures of one record set share one query)."""

    model: str  # "app_label.Model"
    time: str
    dims: Mapping[str, str]  # dimension -> ORM path of the member label
    kind: str = "count"  # count | distinct | sum | custom
    where: Q | Callable[[], Q] = field(default_factory=Q)
    field: str | Callable[[], Expression] = "pk"  # distinct: the field; sum: the expression
    aggregate: Callable[[], Expression] | None = None  # custom
    convert: Callable = int
    stock: bool = False
    is_date: bool = False
    ticket_path: str | None = None  # how the record reaches its ticket (scoping), None: it can't
    track_latest: bool = False  # also return max(time) per row (provisional windows)

    def model_class(self):
        return apps.get_model(self.model)

    def condition(self) -> Q:
        return _resolve(self.where)

    def expression(self) -> Expression:
        condition = self.condition() or None
        if self.kind == "count":
            return Count("pk", filter=condition)
        if self.kind == "distinct":
            return Count(_resolve(self.field), distinct=True, filter=condition)
        if self.kind == "sum":
            return Sum(_resolve(self.field), filter=condition)
        return self.aggregate()

    def query_key(self, dims: tuple[str, ...]) -> tuple:
        """Measures with equal keys are computed by one query."""
        return (self.model, self.time, self.stock, self.is_date, tuple(self.dims[d] for d in dims if d in self.dims))


@dataclass(frozen=True, eq=False)
class Difference:
    """plus - minus, both stock counts (backlog: created before the end of P minus
    resolved before it). `records` gives the rows behind one value, for drill-through."""

    plus: Measure
    minus: Measure
    records: Callable[[dt.datetime], Q]

    @property
    def model(self) -> str:
        return self.plus.model

    @property
    def dims(self) -> Mapping[str, str]:
        return self.plus.dims

    @property
    def ticket_path(self) -> str | None:
        return self.plus.ticket_path


@dataclass(frozen=True, eq=False)
class Kpi:
    code: str
    name_en: str
    name_zh: str
    category: str
    unit: str
    direction: str  # up | down
    kind: str  # ratio | mean | count
    dims: tuple[str, ...]
    numerator: Measure | Difference
    denominator: Measure | None = None
    scale: float = 1.0
    target: float | None = None
    definition_en: str = ""
    definition_zh: str = ""
    provisional_window: Callable[[], dt.timedelta] | None = None
    version: int = 1
    custom: bool = False

    @property
    def name(self) -> str:
        return self.name_zh if _is_chinese() else self.name_en

    @property
    def definition(self) -> str:
        return self.definition_zh if _is_chinese() else self.definition_en

    @property
    def category_name(self) -> str:
        return str(CATEGORIES[self.category][0])

    @property
    def unit_name(self) -> str:
        return str(UNITS.get(self.unit, self.unit))

    def measures(self) -> list[Measure]:
        parts = [self.numerator, self.denominator]
        out = []
        for part in parts:
            if isinstance(part, Difference):
                out += [part.plus, part.minus]
            elif part is not None:
                out.append(part)
        return out

    def scopable(self) -> bool:
        """Whether a team-scoped user (agent, supervisor) may see it: every record it
        counts reaches a ticket."""
        return all(m.ticket_path is not None for m in self.measures())


def _is_chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


_REGISTRY: dict[str, Kpi] = {}
_PROVIDERS: list[Callable[[], list[Kpi]]] = []


def kpi_register(kpi: Kpi) -> None:
    """Called from AppConfig.ready; a code is registered once."""
    for dim in kpi.dims:
        if dim not in DIMENSIONS:
            raise ValueError(f"{kpi.code}: unknown dimension {dim}")
        if dim not in kpi.numerator.dims:
            raise ValueError(f"{kpi.code}: the numerator has no path for {dim}")
    _REGISTRY[kpi.code] = kpi


def kpi_provider_register(provider: Callable[[], list[Kpi]]) -> None:
    """Definitions kept in the database (self-service metrics) join through a provider."""
    _PROVIDERS.append(provider)


def kpi_registry() -> dict[str, Kpi]:
    """The catalogue KPIs in registration order, then the providers' (user) metrics."""
    out = dict(_REGISTRY)
    for provider in _PROVIDERS:
        for kpi in provider():
            out.setdefault(kpi.code, kpi)
    return out


def kpi_lookup(code: str) -> Kpi | None:
    if code in _REGISTRY:
        return _REGISTRY[code]
    return kpi_registry().get(code)


# Drill-through: the columns shown for a record of each record set, and its page.
RECORD_FIELDS: dict[str, dict[str, str]] = {}
RECORD_LINKS: dict[str, Callable[[dict], str | None]] = {}
# Column headings and record-set names that apps above quality bring for their records.
RECORD_LABELS: dict[str, object] = {}
RECORD_MODEL_NAMES: dict[str, object] = {}


def record_fields_register(
    model: str,
    fields: dict[str, str],
    link: Callable[[dict], str | None] | None = None,
    *,
    labels: Mapping[str, object] | None = None,
    name: object | None = None,
):
    RECORD_FIELDS[model] = fields
    if link:
        RECORD_LINKS[model] = link
    RECORD_LABELS.update(labels or {})
    if name is not None:
        RECORD_MODEL_NAMES[model] = name
