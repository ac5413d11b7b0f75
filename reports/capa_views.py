"""Direct downloads of the small per-object reports: the 8D report of an improvement
issue and the status report of a recall. They are generated at once (a second or
less), archived like every other report (the generation service), and returned."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.exceptions import ApplicationError
from improvements.selectors import issues_for_user
from quality.models import Recall
from quality.recall_selectors import recalls_readable

from .models import ReportKind, ReportStatus
from .services import report_generate, report_languages, report_pdf_bytes, report_request


def _language(request) -> str:
    """?lang= when given (an unknown code is refused: 400), else the page's language."""
    asked = request.GET.get("lang")
    if asked is not None:
        return asked
    current = (get_language() or "en").lower()
    return next((code for code in report_languages() if current.startswith(code)), "en")


def _generate(request, *, kind: str, parameters: dict, name: str) -> HttpResponse:
    try:
        report = report_request(
            kind=kind, parameters=parameters, language=_language(request), user=request.user, queue=False
        )
    except ApplicationError as error:
        return HttpResponseBadRequest("; ".join(m for ms in error.errors.values() for m in ms) or str(error))
    report = report_generate(report_id=report.pk)
    if report is None or report.status != ReportStatus.DONE:
        # The archive row keeps the error for the administrators.
        return HttpResponse(_("The report could not be generated."), status=500, content_type="text/plain")
    response = HttpResponse(report_pdf_bytes(report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}-{report.language}.pdf"'
    return response


@login_required
@require_GET
def capa_pdf(request, issue_pk: int):
    """The 8D report of an issue the user sees (others: 404)."""
    issue = issues_for_user(request.user).filter(pk=issue_pk).only("code").first()
    if issue is None:
        raise Http404("No such improvement issue.")
    return _generate(request, kind=ReportKind.CAPA, parameters={"issue_id": issue.pk}, name=f"8d-{issue.code}")


@login_required
@require_GET
def recall_pdf(request, recall_pk: int):
    """The status report of a recall, for readers of recalls (others: 404)."""
    recall = Recall.objects.filter(pk=recall_pk).only("code").first() if recalls_readable(request.user) else None
    if recall is None:
        raise Http404("No such recall.")
    return _generate(request, kind=ReportKind.RECALL, parameters={"recall_id": recall.pk}, name=f"recall-{recall.code}")
