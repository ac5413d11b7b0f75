"""Self-service metric pages (自助指标): list, define, edit (with the last 6 months'
values as a preview) and retire. Thin: the form parses, the service validates and
writes, and its reasons are shown on the fields; nothing is written when refused."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog.exceptions import ApplicationError

from . import metrics, services
from .metric_forms import MetricDefinitionForm

ADD_PERM = "quality.add_metricdefinition"
CHANGE_PERM = "quality.change_metricdefinition"


def _reference() -> list[dict]:
    """The fields each record set offers, for the help panel and the suggestions."""
    out = []
    for name, record_set in metrics.RECORD_SETS.items():
        fields = [
            {
                "name": key,
                "label": field.label,
                "type": field.type,
                "type_name": metrics.TYPE_NAMES[field.type],
                "operators": ", ".join(field.operators()),
                "choices": ", ".join(c.value for c in field.choices) if field.choices else "",
                "time": field.type in metrics.TIME_TYPES,
                "mean": field.type in (*metrics.NUMERIC_TYPES, "datetime"),
                "start": field.type == "datetime",
            }
            for key, field in record_set.fields.items()
        ]
        out.append({"code": name, "label": record_set.label, "dims": ", ".join(record_set.dims), "fields": fields})
    return out


def _form_page(request, form, *, definition=None, preview=None):
    context = {
        "form": form,
        "definition": definition,
        "preview": preview,
        "reference": _reference(),
        "current_set": form["record_set"].value() or "tickets",
        "can_change": request.user.has_perm(CHANGE_PERM),
    }
    return render(request, "quality/metrics/form.html", context)


@login_required
def metric_list(request):
    context = {
        "definitions": metrics.metric_definition_list(),
        "can_add": request.user.has_perm(ADD_PERM),
    }
    return render(request, "quality/metrics/list.html", context)


@login_required
@permission_required(ADD_PERM, raise_exception=True)
def metric_create(request):
    form = MetricDefinitionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            definition = services.metric_definition_save(create=True, user=request.user, **form.service_kwargs())
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("The metric %(code)s was saved.") % {"code": definition.code})
            return redirect("metrics:edit", code=definition.code)
    return _form_page(request, form)


@login_required
def metric_edit(request, code):
    """Everyone may read a definition and its preview; changing it needs the permission."""
    definition = metrics.metric_definition_get(code=code)
    can_change = request.user.has_perm(CHANGE_PERM)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        form = MetricDefinitionForm(request.POST, definition=definition)
        if form.is_valid():
            kwargs = {**form.service_kwargs(), "code": definition.code}
            try:
                saved = services.metric_definition_save(create=False, user=request.user, **kwargs)
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(
                    request,
                    _("The metric %(code)s was saved (version %(version)d).")
                    % {"code": saved.code, "version": saved.version},
                )
                return redirect("metrics:edit", code=saved.code)
        return _form_page(request, form, definition=definition)
    form = MetricDefinitionForm(definition=definition, read_only=not can_change)
    return _form_page(
        request, form, definition=definition, preview=metrics.metric_preview(user=request.user, definition=definition)
    )


@login_required
@permission_required(CHANGE_PERM, raise_exception=True)
@require_POST
def metric_deactivate(request, code):
    definition = metrics.metric_definition_get(code=code)
    services.metric_definition_deactivate(code=definition.code, user=request.user)
    messages.success(request, _("The metric %(code)s was retired.") % {"code": definition.code})
    return redirect("metrics:list")
