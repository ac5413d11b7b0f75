"""Dashboard pages: thin. A filter form reads the query string (so a filtered view is a
shareable URL); the page is a shell whose widgets (KPI cards, charts, tables, the
record list) fetch their JSON from the KPI API (quality/api) with those parameters, so
a number on a page is the API's number. The views read only the catalogue (through
quality.selectors, scoped like the API) and the member choices of the filter bar."""

import datetime as dt
import json

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET

from catalog.models import ProductLine, Segment
from catalog.roles import AGENT, QUALITY_ENGINEER, SUPERVISOR, user_roles
from catalog.selectors import product_model_list, region_list
from tickets import selectors as ticket_selectors
from tickets.forms import BootstrapMixin
from tickets.models import Channel, Priority, Status, Team, TicketType

from . import selectors
from .api.serializers import KpiSerializer
from .kpi.periods import GRAINS, grain_floor, grain_next, kpi_zone
from .kpi.registry import CATEGORIES, DIMENSIONS, NONE_MEMBER, RECORD_MODEL_NAMES, UNITS
from .kpi.registry import RECORD_LABELS as REGISTERED_LABELS
from .models import RecallUnitStatus
from .panels import dashboard_actions

# The dimensions of the filter bar; any other dimension (a drill-down's team, assignee,
# batch, ...) rides along in the query string and shows as a removable chip.
FILTER_DIMS = ("region", "product_line", "product_model", "channel", "team")
# Drill paths: clicking a bar of one dimension filters by its member and breaks the
# value down by the next dimension the KPI supports; after the last, the record list.
DRILL_PATHS = (
    ("region", "team", "assignee"),
    ("product_line", "product_model", "batch"),
    ("failure_mode", "component"),
    ("segment",),
    ("channel",),
    ("type",),
    ("priority",),
    ("recall",),
    ("severity",),
    ("owner",),
)
# Pareto charts read best by the causes: failure modes, components, then teams.
PARETO_PREFERENCE = ("failure_mode", "component", "team", "batch", "product_model", "region")
MAX_MEMBER_LENGTH = 200
KIND_LABELS = {
    "ratio": gettext_lazy("Ratio: numerator ÷ denominator"),
    "mean": gettext_lazy("Mean: sum ÷ count"),
    "count": gettext_lazy("Count"),
}

RANGES = {
    "last_30_days": gettext_lazy("Last 30 days"),
    "last_13_weeks": gettext_lazy("Last 13 weeks"),
    "last_12_months": gettext_lazy("Last 12 months"),
    "last_4_quarters": gettext_lazy("Last 4 quarters"),
    "this_year": gettext_lazy("This year"),
    "last_3_years": gettext_lazy("Last 3 years"),
}
DEFAULT_RANGE = "last_12_months"
# The grain a range reads best at, used when the query names a range but no grain.
RANGE_GRAINS = {
    "last_30_days": "day",
    "last_13_weeks": "week",
    "last_12_months": "month",
    "last_4_quarters": "quarter",
    "this_year": "month",
    "last_3_years": "quarter",
}

# The home dashboards per role (catalog.roles): which KPIs, with which fixed filter.
AGENT_KPIS = ("first_response_hours", "resolution_hours", "first_time_fix_rate", "sla_compliance", "csat", "backlog")
QUALITY_KPIS = (
    "first_failure_rate",
    "failures_per_1000",
    "repeat_failure_rate",
    "recall_completion_rate",
    "recall_rate",
)


# Column headings of the drill-through records (quality.kpi.registry.RECORD_FIELDS).
RECORD_LABELS = {
    "id": gettext_lazy("ID"),
    "ref": gettext_lazy("Reference"),
    "subject": gettext_lazy("Subject"),
    "status": gettext_lazy("Status"),
    "type": gettext_lazy("Type"),
    "channel": gettext_lazy("Channel"),
    "priority": gettext_lazy("Priority"),
    "customer": gettext_lazy("Customer"),
    "team": gettext_lazy("Team"),
    "assignee": gettext_lazy("Assignee"),
    "created_at": gettext_lazy("Created"),
    "first_response_at": gettext_lazy("First response"),
    "resolved_at": gettext_lazy("Resolved"),
    "ticket": gettext_lazy("Ticket"),
    "responded_at": gettext_lazy("Responded"),
    "csat": gettext_lazy("CSAT"),
    "nps": gettext_lazy("NPS"),
    "unit": gettext_lazy("Unit"),
    "failure_mode": gettext_lazy("Failure mode"),
    "component": gettext_lazy("Component"),
    "occurred_at": gettext_lazy("Occurred"),
    "repaired_at": gettext_lazy("Repaired"),
    "parts_cost": gettext_lazy("Parts cost"),
    "labor_hours": gettext_lazy("Labour hours"),
    "product_model": gettext_lazy("Product model"),
    "batch": gettext_lazy("Batch"),
    "sold_on": gettext_lazy("Sold on"),
    "name": gettext_lazy("Name"),
    "region": gettext_lazy("Region"),
    "segment": gettext_lazy("Segment"),
    "produced_on": gettext_lazy("Produced on"),
    "recall": gettext_lazy("Recall"),
    "remedied_at": gettext_lazy("Remedied"),
}
RECORD_MODELS = {
    "tickets.Ticket": gettext_lazy("Tickets"),
    "tickets.Survey": gettext_lazy("Surveys"),
    "quality.Failure": gettext_lazy("Failures"),
    "catalog.Unit": gettext_lazy("Units"),
    "catalog.Customer": gettext_lazy("Customers"),
    "catalog.Batch": gettext_lazy("Batches"),
    "quality.RecallUnit": gettext_lazy("Recalled units"),
}
RECORDS_PAGE_SIZE = 25


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def range_dates(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of a relative range, cut at whole periods, ending with today's period."""
    if name == "last_30_days":
        return today - dt.timedelta(days=29), today + dt.timedelta(days=1)
    if name == "last_13_weeks":
        week = grain_floor(today, "week")
        return week - dt.timedelta(weeks=12), week + dt.timedelta(weeks=1)
    if name == "last_4_quarters":
        quarter = grain_floor(today, "quarter")
        return _months_back(quarter, 9), grain_next(quarter, "quarter")
    if name == "this_year":
        return today.replace(month=1, day=1), today.replace(year=today.year + 1, month=1, day=1)
    if name == "last_3_years":
        return today.replace(year=today.year - 2, month=1, day=1), today.replace(year=today.year + 1, month=1, day=1)
    month = grain_floor(today, "month")
    return _months_back(month, 11), grain_next(month, "month")


def dimension_label(dim: str) -> str:
    return capfirst(str(DIMENSIONS.get(dim, dim)))


def member_labels() -> dict[str, dict[str, str]]:
    """Display labels of the members that are codes (channel, type, ...), translated."""
    labels = {
        "channel": dict(Channel.choices),
        "type": dict(TicketType.choices),
        "priority": dict(Priority.choices),
        "segment": dict(Segment.choices),
        "status": {**dict(RecallUnitStatus.choices), **dict(Status.choices)},
    }
    return {dim: {code: str(label) for code, label in choices.items()} for dim, choices in labels.items()}


class DashboardFilterForm(BootstrapMixin, forms.Form):
    """The filter bar of every dashboard page. Invalid values are ignored (the defaults
    apply), as on the queue; a member not offered (e.g. "(none)" from a drill-down) is
    kept, so every drill-down URL round-trips."""

    range = forms.ChoiceField(label=gettext_lazy("Period"), required=False)
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=gettext_lazy("Until (exclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    grain = forms.ChoiceField(label=gettext_lazy("Grain"), required=False)

    def __init__(self, data=None, *, user, dims=FILTER_DIMS, period_only=False, today=None):
        super().__init__(data)
        self.today = today or timezone.localdate()
        self.fields["range"].choices = [("", gettext_lazy("Custom dates")), *RANGES.items()]
        self.fields["grain"].choices = [(code, capfirst(str(label))) for code, (label, _t) in GRAINS.items()]
        if not period_only:
            for dim in FILTER_DIMS:
                if dim in dims:
                    self.fields[dim] = forms.ChoiceField(label=dimension_label(dim), required=False)
                    self.fields[dim].choices = self._member_choices(dim, user)
                    self.fields[dim].widget.attrs["class"] = "form-select"
        for name in ("range", "grain"):
            self.fields[name].widget.attrs["class"] = "form-select"
        for name in ("start", "end"):
            self.fields[name].widget.attrs["class"] = "form-control"
        self.fields["range"].widget.attrs["data-range-select"] = ""
        self.fields["start"].widget.attrs["data-date-input"] = ""
        self.fields["end"].widget.attrs["data-date-input"] = ""
        self.fields["end"].widget.attrs["title"] = gettext_lazy("The first day not included.")
        self._clean_state()

    def _member_choices(self, dim: str, user) -> list[tuple[str, str]]:
        everything = {
            "region": gettext_lazy("All regions"),
            "product_line": gettext_lazy("All product lines"),
            "product_model": gettext_lazy("All product models"),
            "channel": gettext_lazy("All channels"),
            "team": gettext_lazy("All teams"),
        }[dim]
        if dim == "region":
            members = [(r.name, r.name) for r in region_list()]
        elif dim == "product_line":
            members = [(line.code, line.name) for line in ProductLine.objects.order_by("name")]
        elif dim == "product_model":
            members = [(m.code, f"{m.code} · {m.name}") for m in product_model_list().order_by("code")]
        elif dim == "channel":
            members = list(Channel.choices)
        else:
            members = [(t.name, t.name) for t in ticket_selectors.teams_for_user(user)]
        asked = (self.data.get(dim) or "")[:MAX_MEMBER_LENGTH] if self.data else ""
        if asked and asked not in dict(members):
            members.append((asked, _("(none)") if asked == NONE_MEMBER else asked))
        return [("", everything), *members]

    def _clean_state(self) -> None:
        """The effective period and filters: a range names the dates (relative to today),
        else the dates given, else the default range."""
        data = self.data if self.is_bound else QueryDict()
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        range_name = cleaned.get("range") or ""
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start >= end:
            self.add_error("end", _("The end must be after the start."))
            start = end = None
        if not range_name and not (start or end):
            range_name = DEFAULT_RANGE
        if range_name:
            start, end = range_dates(range_name, self.today)
        elif not end:
            end = max(grain_next(grain_floor(self.today, "month"), "month"), start + dt.timedelta(days=1))
        elif not start:
            start = _months_back(grain_floor(end - dt.timedelta(days=1), "month"), 11)
        self.grain = cleaned.get("grain") or RANGE_GRAINS.get(range_name, "month")
        self.grain_label = str(GRAINS[self.grain][0])
        self.range_name = range_name
        self.start, self.end = start, end
        self.filters = {}
        for dim in DIMENSIONS:
            member = (data.get(dim) or "")[:MAX_MEMBER_LENGTH]
            if member:
                self.filters[dim] = member
        # The bar shows the effective values, so a relative range shows its dates.
        effective = {"range": range_name, "start": start.isoformat(), "end": end.isoformat(), "grain": self.grain}
        self.initial = effective
        if self.is_bound:
            self.data = self.data.copy()
            for name, value in effective.items():
                self.data[name] = value

    def state(self) -> dict:
        """The page state every widget reads: period, grain and dimension filters."""
        return {
            "range": self.range_name,
            "grain": self.grain,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "filters": dict(self.filters),
        }

    def chips(self, query: QueryDict, *, every: bool = False) -> list[dict]:
        """The dimension filters that are not fields of the bar (every: all of them),
        each with the query string of the page without it."""
        labels = member_labels()
        return [
            {
                "dim": dim,
                "label": dimension_label(dim),
                "member": _("(none)") if member == NONE_MEMBER else labels.get(dim, {}).get(member, member),
                "url": "?" + _without(query, dim, "page"),
            }
            for dim, member in self.filters.items()
            if every or dim not in self.fields
        ]


def _is_partial(request) -> bool:
    # htmx swaps the dashboard body; a history restore after a cache miss needs the whole page.
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _without(query: QueryDict, *names: str) -> str:
    query = query.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def kpi_info(kpi) -> dict:
    """A KPI as the catalogue endpoint describes it: the pages and their scripts read the
    same fields as API clients."""
    return KpiSerializer(kpi).data


def js_labels() -> dict[str, str]:
    """Every text the dashboard script shows, translated here."""
    labels = {
        "value": _("Value"),
        "target": _("Target"),
        "noTarget": _("No target"),
        "period": _("Period"),
        "numerator": _("Numerator"),
        "denominator": _("Denominator"),
        "records": _("Records"),
        "recordsOf": _("Show the records counted in this value"),
        "status": _("Status"),
        "met": pgettext_lazy("target", "Met"),
        "near": pgettext_lazy("target", "Near"),
        "missed": pgettext_lazy("target", "Missed"),
        "previous": _("Previous period"),
        "vsPrevious": _("vs previous period"),
        "noChange": _("No change"),
        "noPrevious": _("No previous value"),
        "provisional": _("Provisional"),
        "provisionalHelp": _("Still provisional: some records of this period can still change the value."),
        "dataQuality": _("Data quality"),
        "dataQualityShort": pgettext_lazy("data quality score", "DQ"),
        "notApplicable": _("Not available for these filters"),
        "noData": _("No data for these filters."),
        "noValue": _("No value"),
        "loadError": _("The data could not be loaded."),
        "cumulative": _("Cumulative %"),
        "paretoCount": _("Records in the numerator"),
        "paretoSum": _("Total"),
        "paretoLine": _("Line at 80%"),
        "topOf": _("Top %(shown)s of %(total)s members."),
        "quarter": _("%(year)s Q%(quarter)s"),
        "provisionalMark": _("provisional"),
        "page": _("Page %(number)s of %(pages)s"),
        "recordCount": _("%(count)s records"),
        "previousPage": _("Previous"),
        "nextPage": _("Next"),
        "none": _("(none)"),
        "noRecords": _("No records."),
        "better": _("better"),
        "worse": _("worse"),
    }
    return {key: str(value) for key, value in labels.items()}


def _config(request, *, state: dict, kpi=None, extra: dict | None = None) -> dict:
    """The JSON the dashboard script reads: where the API is, the page state, labels."""
    placeholder = "__code__"
    config = {
        "api": {
            "catalogue": reverse("kpi-list"),
            "overview": reverse("kpi-overview"),
            "values": reverse("kpi-values", kwargs={"code": placeholder}),
            "export": reverse("kpi-values-export", kwargs={"code": placeholder}),
            "records": reverse("kpi-records", kwargs={"code": placeholder}),
        },
        "pages": {
            "kpi": reverse("quality:kpi", kwargs={"code": placeholder}),
            "records": reverse("quality:records", kwargs={"code": placeholder}),
        },
        "state": state,
        "kpi": kpi_info(kpi) if kpi is not None else None,
        "drill_paths": [list(path) for path in DRILL_PATHS],
        "dimension_names": {dim: dimension_label(dim) for dim in DIMENSIONS},
        "unit_names": {code: str(label) for code, label in UNITS.items()},
        "grain_names": {code: str(label) for code, (label, _t) in GRAINS.items()},
        "members": member_labels(),
        "labels": js_labels(),
        "kpis": {
            k.code: {
                "code": k.code,
                "name": k.name,
                "unit": k.unit,
                "unit_name": k.unit_name,
                "kind": k.kind,
                "direction": k.direction,
                "dims": list(k.dims),
            }
            for k in selectors.kpi_catalogue(user=request.user)
        },
        "time_zone": kpi_zone().key,
    }
    config.update(extra or {})
    return config


def _render(request, template: str, partial: str, context: dict):
    # An htmx redraw of the body also redraws the header's actions (their form carries
    # the filters), out of band.
    context["partial"] = _is_partial(request)
    response = render(request, partial if context["partial"] else template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- pages ------------------------------------------------------------------------------------


@login_required
@require_GET
def overview(request):
    """Every KPI the user may see, as cards grouped by category, for one filter bar."""
    form = DashboardFilterForm(request.GET or None, user=request.user)
    state = form.state()
    context = {
        "form": form,
        "state": state,
        "chips": form.chips(request.GET),
        "has_home": _home_kind(request.user) != "overview",
        "config": _config(request, state=state),
        "dashboard_actions": dashboard_actions(request, state),
    }
    return _render(request, "quality/overview.html", "quality/_overview_body.html", context)


def _home_kind(user) -> str:
    roles = user_roles(user)
    if QUALITY_ENGINEER in roles:
        return "quality"
    if SUPERVISOR in roles:
        return "supervisor"
    if AGENT in roles:
        return "agent"
    return "overview"


def _queue_summary(user) -> list[dict]:
    """The agent's own queue in four counts, each linking to the queue filtered alike."""
    mine = ticket_selectors.ticket_queue(user=user, status="open", mine=True)
    now = timezone.now()
    queue = reverse("tickets:queue")
    return [
        {
            "label": _("My open tickets"),
            "count": mine.count(),
            "url": f"{queue}?status=open&mine=on",
            "icon": "bi-person-workspace",
            "css": "text-primary",
        },
        {
            "label": _("Overdue"),
            "count": mine.filter(resolution_due_at__lt=now).count(),
            "url": f"{queue}?status=open&mine=on&sort=due",
            "icon": "bi-alarm",
            "css": "text-danger",
        },
        {
            "label": _("Waiting for customer"),
            "count": ticket_selectors.ticket_queue(user=user, status=Status.WAITING_CUSTOMER, mine=True).count(),
            "url": f"{queue}?status={Status.WAITING_CUSTOMER}&mine=on",
            "icon": "bi-hourglass-split",
            "css": "text-warning",
        },
        {
            "label": _("Open in my teams"),
            "count": ticket_selectors.ticket_queue(user=user, status="open").count(),
            "url": f"{queue}?status=open",
            "icon": "bi-inboxes",
            "css": "text-secondary",
        },
    ]


def _chart(kpi: str, by: str, title, widget: str = "breakdown", limit: int | None = None) -> dict:
    return {"kpi": kpi, "by": by, "title": title, "widget": widget, "limit": limit}


def _agent_sections(user, visible: set[str]) -> list[dict]:
    codes = [code for code in AGENT_KPIS if code in visible]
    return [{"title": _("My KPIs"), "codes": codes, "filters": {"assignee": user.get_username()}, "charts": []}]


def _supervisor_sections(user, visible: set[str]) -> list[dict]:
    codes = [
        kpi.code
        for kpi in selectors.kpi_catalogue(user=user)
        if kpi.category == "service_efficiency" or kpi.code == "csat"
    ]
    charts = []
    if "backlog" in visible:
        charts.append(_chart("backlog", "assignee", _("Backlog by assignee"), "pareto"))
    if "first_response_hours" in visible:
        charts.append(_chart("first_response_hours", "assignee", _("First response time by assignee"), limit=20))
    teams = (Team.objects.filter(members=user) | Team.objects.filter(supervisor=user)).distinct().order_by("name")
    return [
        {
            "title": _("Team %(team)s") % {"team": team.name},
            "codes": codes,
            "filters": {"team": team.name},
            "charts": charts,
        }
        for team in teams
    ]


def _quality_sections(user, visible: set[str]) -> list[dict]:
    charts = []
    if "failures_per_1000" in visible:
        charts.append(_chart("failures_per_1000", "batch", _("Failures per 1000 units by batch"), limit=15))
        charts.append(_chart("failures_per_1000", "failure_mode", _("Failures by failure mode (Pareto)"), "pareto"))
    codes = [code for code in QUALITY_KPIS if code in visible]
    return [{"title": _("Failures, batches and recalls"), "codes": codes, "filters": {}, "charts": charts}]


HOME_SECTIONS = {"agent": _agent_sections, "supervisor": _supervisor_sections, "quality": _quality_sections}


@login_required
@require_GET
def home(request):
    """The dashboard of the user's role: an agent's own KPIs and queue, a supervisor's
    teams, a quality engineer's failures and recalls; everyone else the overview."""
    kind = _home_kind(request.user)
    if kind == "overview":
        url = reverse("quality:overview")
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    form = DashboardFilterForm(request.GET or None, user=request.user, period_only=True)
    state = form.state()
    visible = {kpi.code for kpi in selectors.kpi_catalogue(user=request.user)}
    sections = HOME_SECTIONS[kind](request.user, visible)
    for section in sections:
        section["filters_json"] = json.dumps(section["filters"])
        for chart in section["charts"]:
            chart["hint"] = _("Click a bar to drill down.")
    context = {
        "form": form,
        "state": state,
        "kind": kind,
        "chips": form.chips(request.GET),
        "has_home": True,
        "sections": sections,
        "queue_summary": _queue_summary(request.user) if kind == "agent" else None,
        "config": _config(request, state=state),
    }
    return _render(request, "quality/home.html", "quality/_home_body.html", context)


def _focus_period(value: str, *, grain: str, start: dt.date, end: dt.date) -> str:
    """A period_start within [start, end) at the grain, else "" (the last period)."""
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return ""
    label = grain_floor(day, grain)
    if label != day or not (grain_floor(start, grain) <= label < end):
        return ""
    return label.isoformat()


def _last_period(state: dict) -> str:
    end = dt.date.fromisoformat(state["end"])
    return grain_floor(end - dt.timedelta(days=1), state["grain"]).isoformat()


def _kpi_state(request, kpi) -> tuple[DashboardFilterForm, dict, list[str]]:
    """The filter form and state of a KPI's pages. Filters the KPI cannot be sliced by
    are dropped (and named, so the page can say so) rather than answered with a 400."""
    form = DashboardFilterForm(request.GET or None, user=request.user, dims=kpi.dims)
    state = form.state()
    dropped = [dim for dim in state["filters"] if dim not in kpi.dims]
    for dim in dropped:
        del state["filters"][dim]
        form.filters.pop(dim)
    start, end = dt.date.fromisoformat(state["start"]), dt.date.fromisoformat(state["end"])
    state["period"] = _focus_period(request.GET.get("period", ""), grain=state["grain"], start=start, end=end)
    return form, state, [dimension_label(dim) for dim in dropped]


def _breakdown_dims(kpi, filters: dict) -> list[str]:
    return [dim for dim in kpi.dims if dim not in filters]


@login_required
@require_GET
def kpi_detail(request, code):
    """One KPI: trend with target, breakdown and Pareto by a dimension, the definition,
    the rows; clicking drills down, and the last step is the record list."""
    kpi = selectors.kpi_get(user=request.user, code=code)
    form, state, dropped = _kpi_state(request, kpi)
    free = _breakdown_dims(kpi, state["filters"])
    by = request.GET.get("by", "")
    state["by"] = by if by in free else (free[0] if free else "")
    pareto = request.GET.get("pareto", "")
    preferred = [dim for dim in PARETO_PREFERENCE if dim in free] + free
    state["pareto"] = pareto if pareto in free else (preferred[0] if preferred else "")
    context = {
        "form": form,
        "kpi": kpi,
        "info": kpi_info(kpi),
        "state": state,
        "chips": form.chips(request.GET),
        "dropped": dropped,
        "free_dims": [(dim, dimension_label(dim)) for dim in free],
        "keep": [("by", state["by"]), ("pareto", state["pareto"])],
        "kind_label": KIND_LABELS.get(kpi.kind, kpi.kind),
        "dim_labels": [(dim, dimension_label(dim)) for dim in kpi.dims],
        "has_home": _home_kind(request.user) != "overview",
        "overview_query": _without(request.GET, "by", "pareto", "period"),
        "config": _config(request, state=state, kpi=kpi),
        "dashboard_actions": dashboard_actions(request, state),
    }
    return _render(request, "quality/kpi.html", "quality/_kpi_body.html", context)


@login_required
@require_GET
def kpi_records(request, code):
    """The drill-through: the records counted in one value (one period, the filters),
    numerator or denominator, as the records endpoint lists them."""
    kpi = selectors.kpi_get(user=request.user, code=code)
    form, state, dropped = _kpi_state(request, kpi)
    start, end = dt.date.fromisoformat(state["start"]), dt.date.fromisoformat(state["end"])
    period = _focus_period(request.GET.get("period_start", ""), grain=state["grain"], start=start, end=end)
    state["period_start"] = period or _last_period(state)
    side = request.GET.get("side", "")
    if kpi.denominator is None:
        side = "numerator"
    elif side not in ("numerator", "denominator"):
        # The denominator when both sides count one record set (its numerator is a
        # subset of it: the surveys of a CSAT); else the numerator (the failures, not
        # every unit sold).
        side = "denominator" if kpi.numerator.model == kpi.denominator.model else "numerator"
    state["side"] = side
    page = request.GET.get("page", "1")
    state["page"] = int(page) if page.isdigit() and int(page) > 0 else 1
    back = _without(request.GET, "period_start", "side", "page")
    context = {
        "form": form,
        "kpi": kpi,
        "info": kpi_info(kpi),
        "state": state,
        "chips": form.chips(request.GET, every=True),
        "dropped": dropped,
        "has_home": _home_kind(request.user) != "overview",
        "back_query": f"{back}&period={state['period_start']}" if back else f"period={state['period_start']}",
        "sides": [("numerator", _("Numerator")), ("denominator", _("Denominator"))]
        if kpi.denominator is not None
        else [],
        "config": _config(
            request,
            state=state,
            kpi=kpi,
            extra={
                "page_size": RECORDS_PAGE_SIZE,
                "record_labels": {name: str(label) for name, label in {**REGISTERED_LABELS, **RECORD_LABELS}.items()},
                "models": {name: str(label) for name, label in {**RECORD_MODEL_NAMES, **RECORD_MODELS}.items()},
            },
        ),
    }
    return render(request, "quality/records.html", context)


@login_required
@require_GET
def catalogue(request):
    """The KPI catalogue (指标口径): every KPI the user may see, both names and both
    definitions side by side."""
    kpis = selectors.kpi_catalogue(user=request.user)
    groups = []
    for category, names in CATEGORIES.items():
        rows = [
            {**kpi_info(kpi), "dims": [dimension_label(dim) for dim in kpi.dims]}
            for kpi in kpis
            if kpi.category == category
        ]
        if rows:
            groups.append({"code": category, "name": names[0], "kpis": rows})
    context = {"groups": groups, "count": len(kpis), "has_home": _home_kind(request.user) != "overview"}
    return render(request, "quality/catalogue.html", context)
