"""Sections of the issue page owned by the verification/knowledge helper (H2):
issue_verifications (the verifications and the form to run one) and issue_suggestions
(closed issues with the same failure mode)."""

from django import template
from django.utils import timezone

from quality.kpi.registry import kpi_lookup, kpi_registry

from ..knowledge import knowledge_suggestions
from ..models import PHASES, TestKind, Verdict
from ..services.verification import RATE_DAYS, verification_test_for
from ..verification_views import RUN_PERM, default_windows, pairs_format

register = template.Library()

VERDICT_BADGES = {"effective": "text-bg-success", "partial": "text-bg-warning", "not_effective": "text-bg-danger"}
VERDICT_ICONS = {"effective": "bi-check-circle", "partial": "bi-dash-circle", "not_effective": "bi-x-circle"}


def _kpi_name(code: str) -> str:
    kpi = kpi_lookup(code)
    return kpi.name if kpi else code


def verification_rows(issue) -> list:
    rows = list(issue.verifications.select_related("created_by").order_by("-created_at", "-id"))
    for v in rows:
        kpi = kpi_lookup(v.kpi)
        v.kpi_name = kpi.name if kpi else v.kpi
        v.unit_name = kpi.unit_name if kpi else ""
        v.is_rate_ratio = v.test == TestKind.POISSON
        v.badge = VERDICT_BADGES.get(v.verdict, "text-bg-secondary")
        v.icon = VERDICT_ICONS.get(v.verdict, "bi-question-circle")
        v.scope_text = pairs_format(v.filters) or "–"
        v.control_text = pairs_format(v.control_filters)
        v.relative_pct = None if v.relative_change is None else v.relative_change * 100
    return rows


def _default_scope(issue) -> dict[str, str]:
    """The baseline scope, else the issue's own: one batch (else the model, else the
    line) and the failure mode."""
    if issue.baseline_filters:
        return dict(issue.baseline_filters)
    scope: dict[str, str] = {}
    batches = list(issue.batches.values_list("code", flat=True)[:2])
    if len(batches) == 1:
        scope["batch"] = batches[0]
    elif issue.product_model_id:
        scope["product_model"] = issue.product_model.code
    elif issue.product_line_id:
        scope["product_line"] = issue.product_line.code
    if issue.failure_mode_id:
        scope["failure_mode"] = issue.failure_mode.code
    return scope


def testable_kpis() -> list[dict]:
    return [
        {
            "code": k.code,
            "name": k.name,
            "unit": k.unit_name,
            "test": verification_test_for(k),
            "dims": ", ".join(k.dims),
        }
        for k in kpi_registry().values()
        if verification_test_for(k)
    ]


@register.inclusion_tag("improvements/_verifications.html", takes_context=True)
def issue_verifications(context, issue, user=None):
    user = user or context.get("user")
    kpis = testable_kpis()
    codes = {k["code"] for k in kpis}
    chosen = issue.baseline_kpi if issue.baseline_kpi in codes else "failures_per_1000"
    can_run = bool(user and user.has_perm(RUN_PERM) and issue.state in PHASES)
    return {
        "issue": issue,
        "verifications": verification_rows(issue),
        "can_run": can_run,
        "kpis": kpis,
        "chosen_kpi": chosen,
        "scope": pairs_format(_default_scope(issue)),
        "windows": default_windows(issue, today=timezone.localdate()) if can_run else {},
        "rate_days": RATE_DAYS,
        "csrf_token": context.get("csrf_token"),
        "in_verification": issue.state == "verification",
    }


def knowledge_decorate(issues) -> None:
    """Labels and badges of the latest verification on knowledge rows."""
    for s in issues:
        s.badge = VERDICT_BADGES.get(s.verdict or "", "text-bg-secondary")
        s.verdict_label = Verdict(s.verdict).label if s.verdict in Verdict.values else ""
        s.kpi_name = _kpi_name(s.verified_kpi) if s.verified_kpi else ""


@register.inclusion_tag("improvements/_suggestions.html")
def issue_suggestions(issue, user=None):
    suggestions = knowledge_suggestions(issue, user=user) if issue.failure_mode_id and issue.state in PHASES else []
    knowledge_decorate(suggestions)
    return {"issue": issue, "suggestions": suggestions}
