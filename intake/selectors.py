"""Reads of the import history, its rejected rows, the progress of running imports and
the mapping profiles. Import history is not scoped per user: every role that may read
it (intake.view_importrun) reads all of it."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import CharField, Count, F, Max, Q, QuerySet, Sum, TextField, Value
from django.db.models.functions import Coalesce, Lower, NullIf, Trim, TruncDate
from django.urls import reverse
from django.utils import timezone

from catalog.models import Customer, Region

from .contract import ENTITIES, LOOKUPS, REFS, REFS_SEPARATOR
from .models import ENTITY_ORDER, ImportMode, ImportRowError, ImportRun, ImportStatus, MappingProfile, RowErrorCode

# Written by intake.tasks.import_file_task while an import runs (rows read so far), and
# when it is queued (the rows the preview expects); both processes share the cache.
PROGRESS_KEY = "intake:progress:{run_id}"
TOTAL_KEY = "intake:total:{run_id}"
PROGRESS_TIMEOUT = 3600
UPLOAD_DIR = "imports"
UPLOAD_SUFFIXES = (".csv", ".xlsx")
FINISHED = frozenset({ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.DRY_RUN, ImportStatus.FAILED})
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class StoredUpload:
    token: str
    name: str  # the safe file name
    relative_path: str  # under MEDIA_ROOT, e.g. imports/<token>/customers.csv
    path: Path
    size: int


def import_run_list(*, filters: Mapping[str, str] | None = None) -> QuerySet[ImportRun]:
    """Newest first; `filters` may hold entity, status and source (blank = any)."""
    runs = ImportRun.objects.select_related("user", "profile").order_by("-started_at", "-id")
    for name in ("entity", "status", "source"):
        if value := (filters or {}).get(name):
            runs = runs.filter(**{name: value})
    return runs


def import_run_get(*, run_id) -> ImportRun | None:
    try:
        return import_run_list().get(pk=run_id)
    except (ImportRun.DoesNotExist, ValueError, TypeError):
        return None


def import_run_errors(*, run: ImportRun) -> QuerySet[ImportRowError]:
    return run.errors.order_by("row", "id")


def import_run_is_finished(run: ImportRun) -> bool:
    return run.status in FINISHED


def import_run_file_rejected(run: ImportRun) -> bool:
    """The file as a whole could not be imported (unreadable, empty, required columns
    missing): its errors are recorded on row 0."""
    return run.errors.filter(row=0).exists()


def import_run_passed_dry_run(run: ImportRun) -> bool:
    """A dry run whose file can be imported as it is: the file itself was readable and
    complete (no row-0 error), and no row was rejected (or lenient mode will skip them)."""
    if not run.dry_run or run.status != ImportStatus.DRY_RUN:
        return False
    if run.rejected and run.mode != ImportMode.LENIENT:
        return False
    return not import_run_file_rejected(run)


def mapping_profile_by_name(*, name: str) -> MappingProfile | None:
    return MappingProfile.objects.filter(name=name).first()


def import_progress(*, run: ImportRun) -> dict:
    """What the progress bar shows: status, rows read so far (from the cache while the
    import runs), the expected rows when the preview could tell, and a percentage."""
    finished = import_run_is_finished(run)
    rows_read = run.rows if finished else cache.get(PROGRESS_KEY.format(run_id=run.pk)) or run.processed
    total = run.rows if finished else cache.get(TOTAL_KEY.format(run_id=run.pk))
    if finished:
        percent = 100
    elif total:
        percent = min(99, int(100 * rows_read / total))  # an estimate: never "done" before it is
    else:
        percent = None
    return {"status": run.status, "finished": finished, "rows_read": rows_read, "total": total, "percent": percent}


def import_upload_get(*, token: str) -> StoredUpload | None:
    """The file stored by services.import_upload_store under this token, if any."""
    if not _TOKEN.match(str(token)):
        return None
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_DIR / token
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in UPLOAD_SUFFIXES:
            return StoredUpload(
                token=token,
                name=path.name,
                relative_path=f"{UPLOAD_DIR}/{token}/{path.name}",
                path=path,
                size=path.stat().st_size,
            )
    return None


def import_stored_file_path(relative_path: str) -> Path | None:
    """Where a run's stored upload is on disk, if it is still there."""
    if not relative_path:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def mapping_profile_list(*, entity: str | None = None) -> QuerySet[MappingProfile]:
    """All profiles; for an entity, those made for it and those for every entity."""
    profiles = MappingProfile.objects.order_by("name")
    if entity:
        profiles = profiles.filter(Q(entity=entity) | Q(entity=""))
    return profiles


def mapping_profile_get(*, profile_id) -> MappingProfile | None:
    try:
        return MappingProfile.objects.get(pk=profile_id)
    except (MappingProfile.DoesNotExist, ValueError, TypeError):
        return None


# --- data-quality report ----------------------------------------------------------------------
# Every figure is one aggregate query (per entity for completeness, otherwise one for all
# entities); Python only arranges the grouped rows. The same on SQLite and PostgreSQL.

DQ_WINDOWS = (7, 30, 90)
DQ_DEFAULT_WINDOW = 30
DQ_TOP_COLUMNS = 5
DQ_STANDARD_SOURCE = "standard template"
# The score's weights (data_quality_score): completeness, validity, freshness.
DQ_WEIGHTS = {"completeness": 0.5, "validity": 0.3, "freshness": 0.2}
DQ_FRESHNESS_POINTS = {"fresh": 100.0, "stale": 50.0, "never_imported": 100.0}

FRESH = "fresh"
STALE = "stale"
NEVER_IMPORTED = "never_imported"
NO_DATA = "no_data"


def _dq_entities(entity: str | None) -> tuple[str, ...]:
    return (entity,) if entity else ENTITY_ORDER


def _dq_percent(part, whole) -> float | None:
    return round(100.0 * (part or 0) / whole, 1) if whole else None


def _dq_source():
    """A run's source: its profile's source_system, else the profile's name, else the
    standard template (no profile)."""
    return Coalesce(NullIf("profile__source_system", Value("")), "profile__name", Value(DQ_STANDARD_SOURCE))


def _dq_window(window_days: int):
    """The window: the last `window_days` local days, today included, from local midnight."""
    today = timezone.localdate()
    first = today - timedelta(days=window_days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min), timezone.get_current_timezone())
    return first, today, since


def _dq_window_runs(*, window_days: int, entities: tuple[str, ...]) -> QuerySet[ImportRun]:
    """The runs the window's validity and volume count: finished (written, rejected or
    failed), not dry runs, finished inside the window."""
    _, _, since = _dq_window(window_days)
    return ImportRun.objects.filter(
        entity__in=entities,
        dry_run=False,
        status__in=(ImportStatus.SUCCEEDED, ImportStatus.REJECTED, ImportStatus.FAILED),
        finished_at__gte=since,
    )


def data_quality_completeness(*, entity: str | None = None) -> dict[str, dict]:
    """Completeness per entity and contract column (intake.contract.ENTITIES): the share
    of the entity's stored records whose field is not null and, for text fields, not
    blank; a reference column is complete when its foreign key is set, a list of
    references (recall batches) when it holds at least one. One aggregate query per
    entity (COUNT ... FILTER). -> {entity: {"records", "columns": [{"column", "required",
    "filled", "percent"}]}}; percent is None for an entity without records."""
    result = {}
    for name in _dq_entities(entity):
        spec = ENTITIES[name]
        has_m2m = any(column.type == REFS for column in spec.columns)
        aggregates = {"_records": Count("pk", distinct=has_m2m)}
        for index, column in enumerate(spec.columns):
            if column.type == REFS:
                filled = Q(**{f"{column.name}__isnull": False})
            else:
                model_field = spec.model._meta.get_field(column.name)
                filled = Q(**{f"{column.attname}__isnull": False})
                if isinstance(model_field, CharField | TextField):
                    filled &= ~Q(**{column.attname: ""})
            aggregates[f"c{index}"] = Count("pk", filter=filled, distinct=has_m2m)
        counts = spec.model._default_manager.order_by().aggregate(**aggregates)
        records = counts["_records"]
        result[name] = {
            "records": records,
            "columns": [
                {
                    "column": column.name,
                    "required": column.required,
                    "filled": counts[f"c{index}"],
                    "percent": _dq_percent(counts[f"c{index}"], records),
                }
                for index, column in enumerate(spec.columns)
            ],
        }
    return result


def data_quality_validity(*, window_days: int = DQ_DEFAULT_WINDOW, entity: str | None = None) -> dict[str, dict]:
    """Validity per entity and source over the window (finished, non-dry-run runs of the
    last `window_days` days): runs, rows read, rows rejected, rejection rate = 100 *
    rejected / rows (None without rows); and the columns that failed most (rejected-row
    reasons grouped by column). One aggregate query each. -> {entity: {"runs", "rows",
    "rejected", "rejection_rate", "by_source": [...], "top_columns": [{"column", "count"}]}}"""
    entities = _dq_entities(entity)
    runs = _dq_window_runs(window_days=window_days, entities=entities)
    result = {
        name: {"runs": 0, "rows": 0, "rejected": 0, "rejection_rate": None, "by_source": [], "top_columns": []}
        for name in entities
    }
    grouped = (
        runs.annotate(source_name=_dq_source())
        .values("entity", "source_name")
        .annotate(runs=Count("pk"), rows=Sum("rows"), rejected=Sum("rejected"))
        .order_by("entity", "source_name")
    )
    for row in grouped:
        item = result[row["entity"]]
        rows, rejected = row["rows"] or 0, row["rejected"] or 0
        item["by_source"].append(
            {
                "source": row["source_name"],
                "runs": row["runs"],
                "rows": rows,
                "rejected": rejected,
                "rejection_rate": _dq_percent(rejected, rows),
            }
        )
        item["runs"] += row["runs"]
        item["rows"] += rows
        item["rejected"] += rejected
    for item in result.values():
        item["rejection_rate"] = _dq_percent(item["rejected"], item["rows"])
    failing = (
        ImportRowError.objects.filter(run__in=runs)
        .values("run__entity", "column")
        .annotate(count=Count("pk"))
        .order_by("run__entity", "-count", "column")
    )
    for row in failing:
        top = result[row["run__entity"]]["top_columns"]
        if len(top) < DQ_TOP_COLUMNS:
            top.append({"column": row["column"], "count": row["count"]})
    return result


def data_quality_broken_references(
    *, window_days: int = DQ_DEFAULT_WINDOW, entity: str | None = None
) -> dict[str, list[dict]]:
    """Rows rejected in the window for a reference to a record that does not exist
    (code unknown_reference, whatever the language of the reason), per entity and column.
    One aggregate query."""
    entities = _dq_entities(entity)
    result: dict[str, list[dict]] = {name: [] for name in entities}
    rows = (
        ImportRowError.objects.filter(
            run__in=_dq_window_runs(window_days=window_days, entities=entities),
            code=RowErrorCode.UNKNOWN_REFERENCE,
        )
        .values("run__entity", "column")
        .annotate(count=Count("pk"))
        .order_by("run__entity", "-count", "column")
    )
    for row in rows:
        result[row["run__entity"]].append({"column": row["column"], "count": row["count"]})
    return result


def data_quality_duplicates(*, window_days: int = DQ_DEFAULT_WINDOW, entity: str | None = None) -> dict:
    """Duplicates. (a) Per entity: rows rejected in the window because their key repeated
    inside the file (code duplicate_key); one aggregate query.
    (b) Probable duplicate customers in the database: groups of 2+ customers sharing a
    non-blank phone, and groups sharing the same case-folded, trimmed name AND non-blank
    city; counts of groups and of the records in them (GROUP BY ... HAVING COUNT(*) > 1),
    one query each. -> {"keys_rejected": {entity: count}, "customers": {"phone": {"groups",
    "records"}, "name_city": {...}}} (customers only when the entity is customers or any)."""
    entities = _dq_entities(entity)
    keys = {name: 0 for name in entities}
    rows = (
        ImportRowError.objects.filter(
            run__in=_dq_window_runs(window_days=window_days, entities=entities),
            code=RowErrorCode.DUPLICATE_KEY,
        )
        .values("run__entity")
        .annotate(count=Count("pk"))
        .order_by("run__entity")
    )
    for row in rows:
        keys[row["run__entity"]] = row["count"]
    result: dict = {"keys_rejected": keys, "customers": None}
    if "customers" in entities:
        by_phone = (
            Customer.objects.order_by()
            .annotate(phone_key=Trim("phone"))
            .exclude(phone_key="")
            .values("phone_key")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        by_name_city = (
            Customer.objects.order_by()
            .annotate(name_key=Lower(Trim("name")), city_key=Lower(Trim("city")))
            .exclude(city_key="")
            .values("name_key", "city_key")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        result["customers"] = {
            label: {"groups": totals["groups"] or 0, "records": totals["records"] or 0}
            for label, totals in (
                ("phone", by_phone.aggregate(groups=Count("n"), records=Sum("n"))),
                ("name_city", by_name_city.aggregate(groups=Count("n"), records=Sum("n"))),
            )
        }
    return result


def data_quality_freshness(*, entity: str | None = None, records: Mapping[str, int] | None = None) -> dict[str, dict]:
    """Freshness per entity and source: the finished_at of the last successful import
    (status written, not a dry run) and its age in hours; stale when older than
    settings.DATA_FRESHNESS_HOURS. The entity's status follows its newest import over all
    sources: fresh / stale; "never_imported" when it has records but no import at all
    (demo data or manual entry); "no_data" when it has neither. One aggregate query (plus
    the record counts, from data_quality_completeness when not given)."""
    entities = _dq_entities(entity)
    if records is None:
        records = {name: item["records"] for name, item in data_quality_completeness(entity=entity).items()}
    limit_hours = settings.DATA_FRESHNESS_HOURS
    now = timezone.now()

    def _age(moment) -> float:
        return round((now - moment).total_seconds() / 3600, 1)

    result = {name: {"status": None, "last_import": None, "age_hours": None, "by_source": []} for name in entities}
    rows = (
        ImportRun.objects.filter(
            entity__in=entities, dry_run=False, status=ImportStatus.SUCCEEDED, finished_at__isnull=False
        )
        .annotate(source_name=_dq_source())
        .values("entity", "source_name")
        .annotate(last=Max("finished_at"))
        .order_by("entity", "-last")
    )
    for row in rows:
        item = result[row["entity"]]
        age = _age(row["last"])
        item["by_source"].append(
            {
                "source": row["source_name"],
                "last_import": row["last"],
                "age_hours": age,
                "stale": age > limit_hours,
            }
        )
        if item["last_import"] is None or row["last"] > item["last_import"]:
            item["last_import"], item["age_hours"] = row["last"], age
    for name, item in result.items():
        if item["last_import"] is not None:
            item["status"] = STALE if item["age_hours"] > limit_hours else FRESH
        else:
            item["status"] = NEVER_IMPORTED if records.get(name) else NO_DATA
    return result


def data_quality_volume(*, window_days: int = DQ_DEFAULT_WINDOW, entity: str | None = None) -> dict[str, list[dict]]:
    """Rows written (created + updated) per local day (TruncDate in the configured time
    zone of finished_at) per entity, over the window's runs, every day of the window
    listed (0 when nothing was written). One aggregate query."""
    entities = _dq_entities(entity)
    first, today, _ = _dq_window(window_days)
    rows = (
        _dq_window_runs(window_days=window_days, entities=entities)
        .annotate(day=TruncDate("finished_at", tzinfo=timezone.get_current_timezone()))
        .values("entity", "day")
        .annotate(written=Sum(F("created") + F("updated")))
        .order_by("entity", "day")
    )
    written = {(row["entity"], row["day"]): row["written"] or 0 for row in rows}
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    return {name: [{"date": day, "written": written.get((name, day), 0)} for day in days] for name in entities}


def _dq_score(*, completeness: dict, validity: dict, freshness: dict) -> tuple[float | None, dict]:
    """score = 0.5 * C + 0.3 * V + 0.2 * F, rounded to 0.1, where C = the mean completeness
    of the entity's optional (not required) columns (100 when it has none), V = 100 -
    the window's rejection rate (100 without rows), F = 100 fresh, 50 stale, 100 never
    imported. None for an entity without records."""
    if not completeness["records"]:
        return None, {"completeness": None, "validity": None, "freshness": None}
    optional = [c["percent"] for c in completeness["columns"] if not c["required"]]
    parts = {
        "completeness": round(sum(optional) / len(optional), 1) if optional else 100.0,
        "validity": round(100.0 - validity["rejection_rate"], 1) if validity["rejection_rate"] is not None else 100.0,
        "freshness": DQ_FRESHNESS_POINTS.get(freshness["status"], 100.0),
    }
    score = sum(DQ_WEIGHTS[name] * parts[name] for name in DQ_WEIGHTS)
    return round(score, 1), parts


def data_quality_score(*, entity: str, window_days: int = DQ_DEFAULT_WINDOW) -> float | None:
    """The entity's data-quality score, 0..100 (formula: _dq_score), for dashboards to
    show beside a KPI whose records come from it; None when the entity has no records.
    Four queries whatever the data."""
    completeness = data_quality_completeness(entity=entity)[entity]
    if not completeness["records"]:
        return None
    validity = data_quality_validity(window_days=window_days, entity=entity)[entity]
    freshness = data_quality_freshness(entity=entity, records={entity: completeness["records"]})[entity]
    score, _ = _dq_score(completeness=completeness, validity=validity, freshness=freshness)
    return score


def data_quality_report(*, window_days: int = DQ_DEFAULT_WINDOW, entity: str | None = None) -> dict:
    """The data-quality report per entity (all, or one): records, score and its parts,
    completeness per column, validity per source, broken references, duplicate keys,
    freshness per source and the volume trend; plus the probable duplicate customers.
    A fixed number of queries (one per entity for completeness, a handful for the rest)."""
    first, today, _ = _dq_window(window_days)
    completeness = data_quality_completeness(entity=entity)
    validity = data_quality_validity(window_days=window_days, entity=entity)
    broken = data_quality_broken_references(window_days=window_days, entity=entity)
    duplicates = data_quality_duplicates(window_days=window_days, entity=entity)
    freshness = data_quality_freshness(
        entity=entity, records={name: item["records"] for name, item in completeness.items()}
    )
    volume = data_quality_volume(window_days=window_days, entity=entity)
    entities = []
    for name in _dq_entities(entity):
        score, parts = _dq_score(completeness=completeness[name], validity=validity[name], freshness=freshness[name])
        entities.append(
            {
                "entity": name,
                "records": completeness[name]["records"],
                "score": score,
                "score_parts": parts,
                "completeness": completeness[name]["columns"],
                "validity": validity[name],
                "broken_references": broken[name],
                "duplicate_keys_rejected": duplicates["keys_rejected"][name],
                "freshness": freshness[name],
                "volume": volume[name],
                # Of the per-day sums above (no records read): the trend's total and scale.
                "volume_total": sum(day["written"] for day in volume[name]),
                "volume_max": max((day["written"] for day in volume[name]), default=0),
            }
        )
    return {
        "window_days": window_days,
        "since": first,
        "until": today,
        "generated_at": timezone.now(),
        "freshness_hours": settings.DATA_FRESHNESS_HOURS,
        "weights": dict(DQ_WEIGHTS),
        "entities": entities,
        "duplicate_customers": duplicates["customers"],
    }


# --- export in the standard template ------------------------------------------------


def _template_cell(value) -> str:
    """A stored value as the contract writes it: ISO 8601 (timestamps with their UTC
    offset), true/false, decimals as stored; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def template_export_rows(*, entity: str, chunk_size: int = 5000):
    """The records of `entity` as rows of the standard template (DATA_CONTRACT.md):
    first the header, then one list of cells per record, references written as the
    natural keys they are imported by. What import_file reads back is what was stored
    (the round trip of the demo data set is tested). Streams in pk order."""
    spec = ENTITIES[entity]
    model = spec.model
    paths, many = [], []
    for column in spec.columns:
        if column.type == REFS:
            many.append(column)
            paths.append(None)
        elif column.ref:
            lookup = LOOKUPS[column.ref]
            # Regions are written by name (the import resolves names and spellings).
            key = "name" if lookup.model is Region else lookup.key
            paths.append(f"{column.name}__{key}")
        else:
            paths.append(column.name)
    yield [c.name for c in spec.columns]
    queryset = model.objects.order_by("pk")
    last = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last).values("pk", *(p for p in paths if p))[:chunk_size])
        if not chunk:
            return
        last = chunk[-1]["pk"]
        related = {}
        for column in many:
            lookup = LOOKUPS[column.ref]
            through = getattr(model, column.name).through
            source = f"{model._meta.model_name}_id"
            keys = through.objects.filter(**{f"{source}__in": [r["pk"] for r in chunk]}).values_list(
                source, f"{lookup.model._meta.model_name}__{lookup.key}"
            )
            grouped: dict[int, list[str]] = {}
            for pk, key in keys:
                grouped.setdefault(pk, []).append(key)
            related[column.name] = {pk: REFS_SEPARATOR.join(sorted(v)) for pk, v in grouped.items()}
        for record in chunk:
            yield [
                related[c.name].get(record["pk"], "") if p is None else _template_cell(record[p])
                for c, p in zip(spec.columns, paths, strict=True)
            ]


# --- the data-quality score beside a KPI (registered into quality in IntakeConfig.ready) --

DQ_CARD_CACHE_KEY = "intake:dq-card:{entity}"


def data_quality_card(model_label: str) -> dict | None:
    """For the KPI cards: the data-quality score of the template entity whose records a
    KPI counts ("tickets.Ticket" -> tickets), or None when no entity stores that model
    or it has no records. Cached for DATA_QUALITY_CARD_SECONDS: the score scans the
    entity's table, the overview must not pay that on every request."""
    entity = next((name for name, spec in ENTITIES.items() if spec.model._meta.label == model_label), None)
    if entity is None:
        return None
    key = DQ_CARD_CACHE_KEY.format(entity=entity)
    card = cache.get(key)
    if card is None:
        score = data_quality_score(entity=entity)
        card = {"entity": entity, "score": score}
        cache.set(key, card, settings.DATA_QUALITY_CARD_SECONDS)
    if card["score"] is None:
        return None
    return {**card, "label": f"{card['score']:.1f}", "url": f"{reverse('intake:quality')}?entity={entity}"}
