"""Generation of PDF reports into the archive: a request validates the parameters and
queues a row; the Celery task builds the PDF with the builder of its kind, stores the
file and marks the row done (or failed, with the error). The page polls the row."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError
from quality.kpi.periods import GRAINS
from quality.kpi.registry import DIMENSIONS

from ..models import GeneratedReport, ReportKind, ReportStatus

logger = logging.getLogger(__name__)

# A quality report covers at most this many days (the PDF's trend charts stay readable).
REPORT_MAX_DAYS = 366
# A running report older than this is presumed lost with its worker and may be taken over.
DEFAULT_STALE_SECONDS = 15 * 60
# Progress is written at most this often (seconds): the page polls every second.
PROGRESS_INTERVAL = 0.5
MAX_MEMBER_LENGTH = 200
STAGE_LENGTH = 64


def report_languages() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def _stale_after() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "REPORT_STALE_SECONDS", DEFAULT_STALE_SECONDS))


def _date(value, field: str, errors: dict) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        errors[field] = [_("Enter a date as YYYY-MM-DD.") if value not in (None, "") else _("This field is required.")]
        return None


def report_filters_clean(filters, *, field: str = "filters") -> dict[str, str]:
    """The dashboard's dimension filters {dim: member}: known dimensions, text members."""
    if filters in (None, ""):
        return {}
    if not isinstance(filters, dict):
        raise ApplicationError(_("Invalid filters."), errors={field: [_("An object {dimension: member} is expected.")]})
    unknown = sorted(str(dim) for dim in filters if dim not in DIMENSIONS)
    if unknown:
        raise ApplicationError(
            _("Invalid filters."), errors={field: [_("Unknown dimension: %(dims)s.") % {"dims": ", ".join(unknown)}]}
        )
    cleaned = {}
    for dim, member in filters.items():
        if isinstance(member, bool) or not isinstance(member, (str, int)) or len(str(member)) > MAX_MEMBER_LENGTH:
            raise ApplicationError(
                _("Invalid filters."), errors={field: [_("Invalid member of %(dim)s.") % {"dim": dim}]}
            )
        if str(member).strip():
            cleaned[dim] = str(member).strip()
    return cleaned


def _quality_parameters(parameters: dict) -> tuple[dict, dict]:
    errors: dict = {}
    start = _date(parameters.get("start"), "start", errors)
    end = _date(parameters.get("end"), "end", errors)
    if start and end:
        if end <= start:
            errors["end"] = [_("The end must be after the start.")]
        elif (end - start).days > REPORT_MAX_DAYS:
            errors["end"] = [_("A report covers at most %(days)d days.") % {"days": REPORT_MAX_DAYS}]
    grain = parameters.get("grain") or "month"
    if grain not in GRAINS:
        errors["grain"] = [_("One of %(grains)s.") % {"grains": ", ".join(GRAINS)}]
    try:
        filters = report_filters_clean(parameters.get("filters"))
    except ApplicationError as error:
        errors.update(error.errors)
        filters = {}
    cleaned = {"start": start.isoformat() if start else None, "end": end.isoformat() if end else None}
    cleaned.update({"grain": grain, "filters": filters})
    return cleaned, errors


def _object_id(value, field: str, errors: dict) -> int | None:
    if isinstance(value, bool):
        value = None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[field] = [_("This field is required.") if value in (None, "") else _("Enter a whole number.")]
        return None
    if number <= 0 or number > 2**62:
        errors[field] = [_("Enter a whole number.")]
        return None
    return number


def _capa_parameters(parameters: dict, user) -> tuple[dict, dict, str]:
    from improvements.selectors import issues_for_user

    errors: dict = {}
    issue_id = _object_id(parameters.get("issue_id"), "issue_id", errors)
    label = ""
    if issue_id:
        issue = issues_for_user(user).filter(pk=issue_id).only("code").first()
        if issue is None:
            errors["issue_id"] = [_("No such improvement issue.")]
        else:
            label = issue.code
    return {"issue_id": issue_id}, errors, label


def _recall_parameters(parameters: dict, user) -> tuple[dict, dict, str]:
    from quality.models import Recall
    from quality.recall_selectors import recalls_readable

    errors: dict = {}
    recall_id = _object_id(parameters.get("recall_id"), "recall_id", errors)
    label = ""
    if recall_id:
        recall = Recall.objects.filter(pk=recall_id).only("code").first() if recalls_readable(user) else None
        if recall is None:
            errors["recall_id"] = [_("No such recall.")]
        else:
            label = recall.code
    return {"recall_id": recall_id}, errors, label


def report_title(*, kind: str, parameters: dict, label: str = "") -> str:
    """The title of a report in the active language (the PDF's header says the same)."""
    name = str(ReportKind(kind).label)
    if kind == ReportKind.QUALITY:
        start = dt.date.fromisoformat(parameters["start"])
        last = dt.date.fromisoformat(parameters["end"]) - dt.timedelta(days=1)
        return f"{name} {start:%Y-%m-%d} – {last:%Y-%m-%d}"
    return f"{name} {label}".strip()


def report_parameters_clean(*, kind: str, parameters, language: str, user) -> tuple[dict, str]:
    """Validated parameters of a report and its title in `language`; ApplicationError
    with {field: [reasons]} otherwise."""
    if kind not in ReportKind.values:
        raise ApplicationError(
            _("Unknown report kind."),
            errors={"kind": [_("One of %(kinds)s.") % {"kinds": ", ".join(ReportKind.values)}]},
        )
    if language not in report_languages():
        raise ApplicationError(
            _("Unsupported language."),
            errors={"language": [_("One of %(codes)s.") % {"codes": ", ".join(report_languages())}]},
        )
    if not isinstance(parameters, dict):
        raise ApplicationError(_("Invalid parameters."), errors={"parameters": [_("An object is expected.")]})
    label = ""
    if kind == ReportKind.QUALITY:
        cleaned, errors = _quality_parameters(parameters)
    elif kind == ReportKind.CAPA:
        cleaned, errors, label = _capa_parameters(parameters, user)
    else:
        cleaned, errors, label = _recall_parameters(parameters, user)
    if errors:
        raise ApplicationError(_("The report parameters are not valid."), errors=errors)
    with translation.override(language):
        title = report_title(kind=kind, parameters=cleaned, label=label)
    return cleaned, title


def report_request(
    *, kind: str, parameters, language: str, user, subscription=None, queue: bool = True
) -> GeneratedReport:
    """Validate the parameters, archive a queued report and queue its generation once
    the row is committed (queue=False: the caller generates it itself, as a subscription
    delivery does). The requester reads it in the archive and polls its page."""
    cleaned, title = report_parameters_clean(kind=kind, parameters=parameters, language=language, user=user)
    report = GeneratedReport.objects.create(
        kind=kind,
        parameters=cleaned,
        language=language,
        title=title[:255],
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        subscription=subscription,
    )
    if queue:
        from ..tasks import report_generate_task

        report_generate_task.delay_on_commit(report.pk)
    return report


# --- generation -------------------------------------------------------------------------------


def _builder_call(report: GeneratedReport, progress) -> tuple[bytes, int]:
    # Resolved at call time: the builders live in their own modules (and tests replace them).
    from ..builders import capa, quality, recall

    params, user = report.parameters, report.requested_by
    if report.kind == ReportKind.QUALITY:
        kwargs = {
            "start": dt.date.fromisoformat(params["start"]),
            "end": dt.date.fromisoformat(params["end"]),
            "filters": dict(params.get("filters") or {}),
            "language": report.language,
            "user": user,
            "progress": progress,
        }
        # The grain is stored for the archive; the builder takes it only if it asks for it.
        if "grain" in inspect.signature(quality.quality_report_pdf).parameters:
            kwargs["grain"] = params.get("grain") or "month"
        return quality.quality_report_pdf(**kwargs)
    if report.kind == ReportKind.CAPA:
        return capa.capa_report_pdf(issue_id=params["issue_id"], language=report.language, user=user)
    return recall.recall_report_pdf(recall_id=params["recall_id"], language=report.language, user=user)


def report_file_name(report: GeneratedReport) -> str:
    """Where the PDF is stored: reports/<yyyy>/<mm>/<kind>-<id>.pdf (by request time)."""
    at = timezone.localtime(report.requested_at)
    return f"reports/{at:%Y}/{at:%m}/{report.kind}-{report.pk}.pdf"


def _claim(report_id: int, now: dt.datetime) -> GeneratedReport | None:
    """Mark the report running for this worker, or None when there is nothing to do:
    done or failed already, or running in another worker that is not stale."""
    with transaction.atomic():
        try:
            report = lock_one(GeneratedReport.objects.all(), report_id)
        except GeneratedReport.DoesNotExist:
            return None
        if report.status in (ReportStatus.DONE, ReportStatus.FAILED):
            return None
        if report.status == ReportStatus.RUNNING and report.started_at and now - report.started_at < _stale_after():
            return None
        report.status, report.started_at = ReportStatus.RUNNING, now
        report.progress, report.stage, report.error = 0, "", ""
        report.save(update_fields=["status", "started_at", "progress", "stage", "error"])
        return report


def _progress_writer(report: GeneratedReport):
    """progress(percent, stage) for the builder: throttled, and only while this worker
    still holds the report (the claim is its started_at)."""
    last = [0.0]
    claimed = GeneratedReport.objects.filter(pk=report.pk, status=ReportStatus.RUNNING, started_at=report.started_at)

    def progress(percent, stage="") -> None:
        moment = time.monotonic()
        if moment - last[0] < PROGRESS_INTERVAL:
            return
        last[0] = moment
        try:
            value = max(0, min(99, int(percent)))  # 100 only when the file is stored
        except (TypeError, ValueError):
            return
        claimed.update(progress=value, stage=str(stage or "")[:STAGE_LENGTH])

    return progress


def report_generate(*, report_id: int, now: dt.datetime | None = None) -> GeneratedReport | None:
    """Build, store and finish one report. Idempotent: a done or failed report, or one
    another worker is running (not stale), is left alone; a second worker that loses the
    race at the end discards its file. A builder error marks the report failed with the
    error (nothing is re-raised: the row tells the requester)."""
    report = _claim(report_id, now or timezone.now())
    if report is None:
        return GeneratedReport.objects.filter(pk=report_id).first()
    token = report.started_at
    name = ""
    try:
        progress = _progress_writer(report)
        if transaction.get_connection().in_atomic_block:
            # Inside a caller's transaction (a subscription delivery): a failing read must
            # not poison it, so the build gets a savepoint.
            with transaction.atomic():
                pdf, pages = _builder_call(report, progress)
        else:
            pdf, pages = _builder_call(report, progress)
        if not isinstance(pdf, (bytes, bytearray)) or not bytes(pdf[:5]) == b"%PDF-":
            raise ValueError("the builder returned no PDF")
        name = report_file_name(report)
        if default_storage.exists(name):
            default_storage.delete(name)  # left by a worker that died before finishing
        name = default_storage.save(name, ContentFile(bytes(pdf)))
    except Exception as error:  # noqa: BLE001 (any builder error fails the report, visibly)
        logger.exception("report %s failed", report_id)
        if name:
            default_storage.delete(name)
        GeneratedReport.objects.filter(pk=report_id, status=ReportStatus.RUNNING, started_at=token).update(
            status=ReportStatus.FAILED,
            error=f"{type(error).__name__}: {error}"[:4000],
            finished_at=timezone.now(),
            stage="",
        )
        return GeneratedReport.objects.filter(pk=report_id).first()
    with transaction.atomic():
        report = lock_one(GeneratedReport.objects.all(), report_id)
        if report.status != ReportStatus.RUNNING or report.started_at != token:
            # Taken over (this worker was presumed dead): keep the other worker's result.
            if name != report.file.name:
                default_storage.delete(name)
            return report
        report.file.name = name
        report.size, report.pages = len(pdf), int(pages or 0)
        report.status, report.progress, report.stage = ReportStatus.DONE, 100, ""
        report.finished_at = timezone.now()
        report.save(update_fields=["file", "size", "pages", "status", "progress", "stage", "finished_at"])
    return report


def report_pdf_bytes(report: GeneratedReport) -> bytes:
    with default_storage.open(report.file.name, "rb") as handle:
        return handle.read()
