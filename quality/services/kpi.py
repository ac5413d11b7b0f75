"""Writes of the quality app: KPI snapshots and targets."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError

from ..kpi.engine import kpi_compute_plan
from ..kpi.periods import GRAINS, grain_floor, grain_next, kpi_zone
from ..kpi.registry import DIMENSIONS, kpi_lookup, kpi_registry
from ..metrics import MetricDefinitionError, metric_definition_clean
from ..models import KpiCube, KpiRefreshState, KpiSnapshot, KpiTarget, MetricDefinition
from ..selectors import SNAPSHOT_PLAN

# Which grains are stored, and for which single dimensions ("*": every supported one).
# Only months are kept per member: per-member days and weeks would outnumber the records.
DEFAULT_PLAN = {"day": [], "week": [], "month": ["*"], "quarter": [], "year": []}

# Where each record set's changes are found: (model, high-water field, the times a
# new or changed record can move). Changes the marks cannot see (an update of a
# failure in place) wait for the nightly full recompute.
_MARKS = [
    ("tickets.Ticket", "updated_at", ["created_at"]),
    ("tickets.Survey", "pk", ["responded_at"]),
    ("quality.Failure", "pk", ["occurred_at", "ticket__created_at"]),
    ("catalog.Customer", "pk", ["created_at"]),
    ("catalog.Unit", "pk", ["sold_on"]),
    ("catalog.Batch", "pk", ["produced_on"]),
    ("quality.Recall", "pk", ["opened_at"]),
    ("quality.RecallUnit", "pk", ["remedied_at", "recall__opened_at"]),
]
_OVERLAP = dt.timedelta(minutes=5)  # updated_at of a transaction still open at the mark


def kpi_change_marks_register(*, model: str, field: str, times: list[str]) -> None:
    """Apps above quality whose KPIs count their own records say where their changes
    show (a high-water `field`: "pk" or "updated_at") and which times those changes can
    move, so the incremental refresh sees them. Registering a model again replaces it."""
    _MARKS[:] = [mark for mark in _MARKS if mark[0] != model]
    _MARKS.append((model, field, list(times)))


def _plan() -> dict[str, list[str]]:
    plan = getattr(settings, "KPI_SNAPSHOT_PLAN", None) or DEFAULT_PLAN
    return {grain: list(DIMENSIONS) if "*" in dims else list(dims) for grain, dims in plan.items() if grain in GRAINS}


def _local_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(kpi_zone()).date()
    return value


def _marks_now() -> dict:
    marks = {}
    for label, field, _times in _MARKS:
        model = apps.get_model(label)
        if field == "updated_at":
            marks[label] = (timezone.now() - _OVERLAP).isoformat()
        else:
            marks[label] = model._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
    return marks


def _touched_from(marks: dict) -> dt.date | None:
    """The earliest local date a record changed since the marks can move a KPI."""
    earliest = None
    for label, field, times in _MARKS:
        if label not in marks:
            continue
        model = apps.get_model(label)
        lookup = (
            {"updated_at__gte": dt.datetime.fromisoformat(marks[label])}
            if field == "updated_at"
            else {"pk__gt": marks[label]}
        )
        # The count keeps PostgreSQL from answering a lone MIN by walking the time index
        # from its start past every old record (0.2 s); the new records are few.
        aggregates = {f"t{i}": Min(t) for i, t in enumerate(times)}
        found = model._default_manager.filter(**lookup).aggregate(**aggregates, n=Count("pk"))
        found.pop("n")
        for value in found.values():
            day = _local_date(value)
            if day is not None and (earliest is None or day < earliest):
                earliest = day
    return earliest


def _data_start() -> dt.date | None:
    found = [
        _local_date(apps.get_model(label)._default_manager.aggregate(t=Min(times[0]))["t"])
        for label, _field, times in _MARKS
    ]
    found = [day for day in found if day is not None]
    return min(found) if found else None


def _state() -> KpiRefreshState:
    try:
        with transaction.atomic():
            state, _created = KpiRefreshState.objects.get_or_create(name=SNAPSHOT_PLAN)
    except IntegrityError:  # two first runs at once: the other one created it
        state = KpiRefreshState.objects.get(name=SNAPSHOT_PLAN)
    return state


def kpi_snapshots_refresh(*, full: bool = False, since: dt.date | None = None, now: dt.datetime | None = None) -> dict:
    """Recompute the stored KPI rows: everything (`full`), from `since`, or only the
    periods touched since the last run (plus the periods whose rows are provisional).

    One transaction holding the plan's state row lock: a second run waits, then finds
    nothing new; a run killed midway leaves the previous snapshot. Rows are replaced
    per (KPI, grain, dimension) from the first touched period, so a rerun is a no-op."""
    started = time.monotonic()
    now = now or timezone.now()
    state = _state()
    with transaction.atomic():
        state = lock_one(KpiRefreshState.objects, state.pk)
        marks = _marks_now()
        today = _local_date(now)
        plan = _plan()
        if full or state.covered_from is None:
            start, mode = _data_start(), "full"
        elif since is not None:
            start, mode = since, "since"
        else:
            # From the last run's day at least: a period that began since has stock rows
            # (backlog, customers) even when no record changed.
            touched = _touched_from(state.marks.get("marks", {}))
            last = _local_date(state.last_run_at) or today
            start, mode = min(touched or last, last), "incremental"
        # Each KPI from its own first day (a provisional window reaches further back);
        # one plan computes them all, so the cube's groups are always the registry's.
        kpis = list(kpi_registry().values())
        starts: dict[str, dt.date] = {}
        for kpi in kpis:
            kpi_start = start
            if kpi.provisional_window is not None and mode == "incremental":
                open_from = _local_date(now - kpi.provisional_window()) - dt.timedelta(days=1)
                kpi_start = min(kpi_start or open_from, open_from)
            if kpi_start is not None:
                starts[kpi.code] = kpi_start
        if mode == "full":
            _cube_clear()  # rebuilt from the records below; no key of an old definition stays
        computed = kpi_compute_plan(kpis, plan=plan, starts=starts, today=today, now=now, rebuild=mode == "full")
        written = _store([k for k in kpis if k.code in starts], plan, starts, computed, now)
        if mode == "full" and connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # the planner's row counts of the new cube
                cursor.execute(f"ANALYZE {connection.ops.quote_name(KpiCube._meta.db_table)}")
        if start is not None and mode == "full":
            state.covered_from = start
        elif start is not None and state.covered_from is not None:
            state.covered_from = min(state.covered_from, start)
        state.covered_to = today + dt.timedelta(days=1)
        # The KPIs whose rows cover the whole stored range: all of them after a full run;
        # after a partial one, those already covered whose definition did not change (a
        # KPI registered since is read live until the next full run stores its history).
        # A state written before this list existed keeps none: readers then trust the
        # stored rows' definition versions, as they did, until the next full run.
        versions = {code: kpi.version for code, kpi in kpi_registry().items()}
        if mode != "full":
            before = state.marks.get("kpis")
            versions = None if before is None else {c: v for c, v in versions.items() if before.get(c) == v}
        state.marks = {
            **({"kpis": versions} if versions is not None else {}),
            "marks": marks,
            "plan": plan,
            "covered_to": {grain: grain_next(grain_floor(today, grain), grain).isoformat() for grain in plan},
        }
        state.last_run_at = now
        if mode == "full":
            state.last_full_at = now
        state.save(update_fields=["covered_from", "covered_to", "marks", "last_run_at", "last_full_at"])
    return {
        "mode": mode,
        "from": start.isoformat() if start else None,
        "rows": written,
        "seconds": round(time.monotonic() - started, 3),
    }


def _cube_clear() -> None:
    """Empty the cube for a full rebuild: TRUNCATE on PostgreSQL (transactional there,
    and far cheaper than deleting a million rows), DELETE elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(KpiCube._meta.db_table)}")
    else:
        KpiCube.objects.all().delete()


def _store(kpis, plan: dict[str, list[str]], starts: dict[str, dt.date], computed: dict, now) -> int:
    """Replace each (KPI, grain, dimension)'s rows from the grain's first period."""
    snapshots = []
    # One DELETE per grain and first period (not per KPI): the KPIs mostly share a start.
    stale: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for kpi in kpis:
        for grain in plan:
            stale[(grain, grain_floor(starts[kpi.code], grain))].append(kpi.code)
    for (grain, g_start), codes in stale.items():
        stored = KpiSnapshot.objects.filter(kpi__in=codes, grain=grain, dimension__in=["", *plan[grain]])
        stored.filter(period_start__gte=g_start).delete()
    for kpi in kpis:
        for grain, dims in plan.items():
            names = ["", *[d for d in dims if d in kpi.dims]]
            snapshots += [
                (
                    kpi.code,
                    grain,
                    dt.date.fromisoformat(row["period_start"]),
                    dim,
                    row[dim] if dim else "",
                    row["numerator"],
                    row["denominator"],
                    row["value"],
                    row["provisional"],
                    now,
                    kpi.version,
                )
                for dim in names
                for row in computed[(kpi.code, grain, dim)]
            ]
    _insert(snapshots)
    return len(snapshots)


_COPY_FIELDS = [
    "kpi",
    "grain",
    "period_start",
    "dimension",
    "member",
    "numerator",
    "denominator",
    "value",
    "provisional",
    "computed_at",
    "definition_version",
]


def _insert(snapshots: list[tuple]) -> None:
    """COPY on PostgreSQL (a full refresh writes some 200,000 rows), else bulk_create;
    a row is a tuple in _COPY_FIELDS order."""
    if connection.vendor != "postgresql":
        objects = [KpiSnapshot(**dict(zip(_COPY_FIELDS, row, strict=True))) for row in snapshots]
        KpiSnapshot.objects.bulk_create(objects, batch_size=2000)
        return
    table = connection.ops.quote_name(KpiSnapshot._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(KpiSnapshot._meta.get_field(f).column) for f in _COPY_FIELDS)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in snapshots:
            copy.write_row(row)


def kpi_target_set(
    *,
    kpi_code: str,
    value: float,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    dimension: str = "",
    member: str = "",
    user=None,
) -> KpiTarget:
    """Add a target; validated against the KPI's dimensions."""
    kpi = kpi_lookup(kpi_code)
    errors = {}
    if kpi is None:
        errors["kpi"] = [_("Unknown KPI “%(code)s”.") % {"code": kpi_code[:64]}]
    elif dimension and dimension not in kpi.dims:
        errors["dimension"] = [_("%(kpi)s has no dimension %(dim)s.") % {"kpi": kpi_code, "dim": dimension[:32]}]
    if bool(dimension) != bool(member):
        errors["member"] = [_("A member needs a dimension, and a dimension a member.")]
    if valid_to is not None and valid_to <= valid_from:
        errors["valid_to"] = [_("The end must be after the start.")]
    if errors:
        raise ApplicationError(next(iter(errors.values()))[0], errors=errors)
    return KpiTarget.objects.create(
        kpi=kpi_code,
        dimension=dimension,
        member=member,
        value=value,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


# Self-service metrics

_METRIC_FIELDS = (
    "name_en",
    "name_zh",
    "description",
    "record_set",
    "kind",
    "time_field",
    "mean_field",
    "mean_start_field",
    "numerator_filters",
    "base_filters",
    "unit",
    "direction",
    "target",
    "scale",
    "active",
)


def metric_definition_save(
    *,
    code: str,
    create: bool,
    name_en: str,
    record_set: str,
    kind: str,
    time_field: str,
    direction: str,
    name_zh: str = "",
    description: str = "",
    mean_field: str = "",
    mean_start_field: str = "",
    numerator_filters: list | None = None,
    base_filters: list | None = None,
    unit: str = "",
    target: float | None = None,
    scale: float = 1,
    active: bool = True,
    user=None,
) -> MetricDefinition:
    """Create (`create`: the code must be new, and no catalogue KPI's) or update a
    self-service metric (MetricDefinition.DoesNotExist when there is none).

    Everything is validated first (MetricDefinitionError, 400, every reason by field):
    a refused definition writes nothing. An update locks the row and bumps `version`
    when any field changed, so values stored for the old definition are not used."""
    data = {
        "code": code,
        "name_en": name_en,
        "name_zh": name_zh,
        "description": description,
        "record_set": record_set,
        "kind": kind,
        "time_field": time_field,
        "mean_field": mean_field,
        "mean_start_field": mean_start_field,
        "numerator_filters": numerator_filters,
        "base_filters": base_filters,
        "unit": unit,
        "direction": direction,
        "target": target,
        "scale": scale,
        "active": active,
    }
    fields = metric_definition_clean(data, creating=create)
    actor = user if getattr(user, "is_authenticated", False) else None
    if create:
        taken = MetricDefinitionError(
            _("A metric with the code “%(code)s” already exists.") % {"code": code},
            errors={"code": [_("A metric with this code already exists.")]},
        )
        if MetricDefinition.objects.filter(code=fields["code"]).exists():
            raise taken
        try:
            with transaction.atomic():
                return MetricDefinition.objects.create(**fields, created_by=actor, updated_by=actor)
        except IntegrityError:  # created by someone else since the check
            raise taken from None
    with transaction.atomic():
        pk = MetricDefinition.objects.values_list("pk", flat=True).get(code=code)
        definition = lock_one(MetricDefinition.objects, pk)
        changed = [name for name in _METRIC_FIELDS if getattr(definition, name) != fields[name]]
        if not changed:
            return definition
        for name in changed:
            setattr(definition, name, fields[name])
        definition.version += 1
        definition.updated_by = actor
        definition.updated_at = timezone.now()
        definition.save(update_fields=[*changed, "version", "updated_by", "updated_at"])
    return definition


def metric_definition_deactivate(*, code: str, user=None) -> MetricDefinition:
    """Take a metric out of the catalogue (it keeps its code, targets and history; saving
    it with active=True brings it back). Locks the row; a second call is a no-op."""
    with transaction.atomic():
        pk = MetricDefinition.objects.values_list("pk", flat=True).get(code=code)
        definition = lock_one(MetricDefinition.objects, pk)
        if definition.active:
            definition.active = False
            definition.version += 1
            definition.updated_by = user if getattr(user, "is_authenticated", False) else None
            definition.updated_at = timezone.now()
            definition.save(update_fields=["active", "version", "updated_by", "updated_at"])
    return definition
