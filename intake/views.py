"""Import pages: thin; parse the form, call one selector or service, render.

Upload -> preview (the header, its mapping and the first rows) -> a dry run or the
import, queued as a Celery task -> the run page, which polls the task's progress.
The import history and the mapping profiles have their own pages."""

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError

from . import selectors, services
from .columns import entity_columns
from .forms import (
    ImportChoicesForm,
    MappingProfileForm,
    QualityFilterForm,
    RunFilterForm,
    RunStartForm,
    UploadForm,
    max_upload_bytes,
)
from .models import ENTITY_ORDER, ImportMode
from .preview import PREVIEW_ROWS, map_header, read_head

VIEW_PERM = "intake.view_importrun"
ADD_PERM = "intake.add_importrun"
RUNS_PAGE_SIZE = 25
ERRORS_PAGE_SIZE = 50
CSV_HEADER = ["file", "row", "column", "value", "reason"]
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_partial(request) -> bool:
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


def _run_or_404(pk):
    run = selectors.import_run_get(run_id=pk)
    if run is None:
        raise Http404("No such import run.")
    return run


def _entity_columns_table() -> list[tuple[str, list[tuple[str, bool]]]]:
    return [(entity, list(entity_columns(entity).items())) for entity in ENTITY_ORDER]


# --- upload and preview -----------------------------------------------------------------------


@login_required
@permission_required(ADD_PERM, raise_exception=True)
def upload(request):
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                stored = services.import_upload_store(file=form.cleaned_data["file"])
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                profile = form.cleaned_data["profile"]
                query = {
                    "entity": form.cleaned_data["entity"],
                    "profile": profile.pk if profile else "",
                    "mode": form.cleaned_data["mode"],
                }
                return redirect(f"{reverse('intake:preview', args=[stored.token])}?{urlencode(query)}")
    else:
        entity = request.GET.get("entity")
        form = UploadForm(initial={"entity": entity if entity in ENTITY_ORDER else None, "mode": ImportMode.STRICT})
    context = {"form": form, "max_upload_bytes": max_upload_bytes(), "entity_columns": _entity_columns_table()}
    return render(request, "intake/upload.html", context)


@login_required
@permission_required(ADD_PERM, raise_exception=True)
def preview(request, token):
    stored = selectors.import_upload_get(token=token)
    if stored is None:
        raise Http404("No such upload.")
    if request.method == "POST":
        start = RunStartForm(request.POST)
        if start.is_valid():
            data = start.cleaned_data
            head = read_head(stored.path, entity=data["entity"])
            try:
                run = services.import_run_queue(
                    entity=data["entity"],
                    stored_file=stored.relative_path,
                    file_name=stored.name,
                    mode=data["mode"],
                    profile=data["profile"],
                    user=request.user,
                    dry_run=data["action"] == RunStartForm.DRY_RUN,
                    expected_rows=head.estimated_rows,
                )
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                return redirect("intake:run_detail", pk=run.pk)
        choices = ImportChoicesForm(request.POST)
    else:
        choices = ImportChoicesForm(request.GET or None, initial={"mode": ImportMode.STRICT})
    valid = choices.is_valid()
    entity = choices.cleaned_data["entity"] if valid else ""
    head = read_head(stored.path, entity=entity)
    context = {"stored": stored, "head": head, "choices": choices, "preview_rows": PREVIEW_ROWS}
    if valid:
        data = choices.cleaned_data
        profile = data["profile"]
        mapping, missing = map_header(
            head.header, columns=entity_columns(entity), column_map=profile.column_map if profile else None
        )
        context.update(
            entity=entity,
            profile=profile,
            mode=data["mode"],
            mapping=mapping,
            missing=missing,
            unknown=[m.header for m in mapping if m.how == "unknown"],
            start_form=RunStartForm(initial={**data, "profile": profile.pk if profile else ""}),
        )
    return render(request, "intake/preview.html", context)


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def template_csv(request, entity):
    """The standard template of one entity: its header row, ready to fill."""
    columns = entity_columns(entity)
    if not columns:
        raise Http404("No such entity.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{entity}.csv"'
    response.write("\ufeff")
    csv.writer(response).writerow(columns)
    return response


# --- runs -------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def run_list(request):
    form = RunFilterForm(request.GET or None)
    runs = selectors.import_run_list(filters=form.filters() if form.is_bound else None)
    page = Paginator(runs, RUNS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    }
    template = "intake/_run_results.html" if _is_partial(request) else "intake/run_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def run_detail(request, pk):
    run = _run_or_404(pk)
    errors = Paginator(selectors.import_run_errors(run=run), ERRORS_PAGE_SIZE).get_page(request.GET.get("page"))
    can_import = (
        request.user.has_perm(ADD_PERM)
        and selectors.import_run_passed_dry_run(run)
        and selectors.import_stored_file_path(run.stored_file) is not None
    )
    context = {
        "run": run,
        "progress": selectors.import_progress(run=run),
        "errors": errors,
        "error_range": errors.paginator.get_elided_page_range(errors.number, on_each_side=2, on_ends=1),
        "warnings": [_warning_text(w) for w in run.warnings or []],
        "can_import_for_real": can_import,
        "file_rejected": selectors.import_run_file_rejected(run),
        "unchanged": services.import_run_unchanged(run) if selectors.import_run_is_finished(run) else 0,
    }
    return render(request, "intake/run_detail.html", context)


def _warning_text(warning) -> str:
    if isinstance(warning, dict):
        return " · ".join(str(v) for v in warning.values() if v not in (None, ""))
    return str(warning)


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def run_progress(request, pk):
    """The progress partial, polled every second by htmx while the run is queued or
    running. When it has finished, the whole page is reloaded (counts, errors)."""
    run = _run_or_404(pk)
    progress = selectors.import_progress(run=run)
    response = render(request, "intake/_run_progress.html", {"run": run, "progress": progress})
    if progress["finished"] and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer rows."""

    def write(self, value):
        return value


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def run_errors_csv(request, pk):
    """The rejected rows as CSV (UTF-8 with BOM, so spreadsheet programs read CJK), streamed."""
    run = _run_or_404(pk)
    writer = csv.writer(_Echo())
    file_name = _csv_cell(run.file_name)

    def lines():
        yield "\ufeff" + writer.writerow(CSV_HEADER)
        for error in selectors.import_run_errors(run=run).iterator(chunk_size=2000):
            yield writer.writerow(
                [file_name, error.row, _csv_cell(error.column), _csv_cell(error.value), _csv_cell(error.reason)]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-errors.csv"'
    return response


@login_required
@permission_required(ADD_PERM, raise_exception=True)
@require_POST
def run_import_for_real(request, pk):
    run = _run_or_404(pk)
    try:
        real = services.import_run_import_for_real(run=run, user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("intake:run_detail", pk=run.pk)
    messages.success(request, _("The import of %(file)s was queued.") % {"file": real.file_name})
    return redirect("intake:run_detail", pk=real.pk)


# --- data quality -----------------------------------------------------------------------------


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def quality(request):
    """The data-quality report (selectors.data_quality_report) for one entity or all."""
    form = QualityFilterForm(request.GET or None)
    report = selectors.data_quality_report(**form.report_args())
    return render(request, "intake/quality.html", {"form": form, "report": report})


# --- mapping profiles -------------------------------------------------------------------------


@login_required
@permission_required("intake.view_mappingprofile", raise_exception=True)
@require_GET
def profile_list(request):
    return render(request, "intake/profile_list.html", {"profiles": selectors.mapping_profile_list()})


def _profile_form(request, profile=None):
    if request.method == "POST":
        form = MappingProfileForm(request.POST)
        if form.is_valid():
            try:
                saved = services.mapping_profile_save(profile=profile, **form.cleaned_data)
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(request, _("Mapping profile %(name)s was saved.") % {"name": saved.name})
                return redirect("intake:profile_list")
    else:
        form = MappingProfileForm(initial=MappingProfileForm.initial_for(profile) if profile else None)
    context = {"form": form, "profile": profile, "entity_columns": _entity_columns_table()}
    return render(request, "intake/profile_form.html", context)


@login_required
@permission_required("intake.add_mappingprofile", raise_exception=True)
def profile_create(request):
    return _profile_form(request)


@login_required
@permission_required("intake.change_mappingprofile", raise_exception=True)
def profile_edit(request, pk):
    profile = selectors.mapping_profile_get(profile_id=pk)
    if profile is None:
        raise Http404("No such mapping profile.")
    return _profile_form(request, profile)
