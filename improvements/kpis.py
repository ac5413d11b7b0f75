"""The improvement KPIs, registered into quality's KPI registry (METRICS.md, "Continuous
improvement"): improvement_closure_days, improvement_review_cycles, action_on_time_rate
and the per-phase durations (improvement_<phase>_days, the closure waterfall).

Mean KPIs follow the catalogue's shape: numerator = sum, denominator = count, over the
same records (issues closed in P)."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from quality.kpi.registry import Kpi, Measure, kpi_register, record_fields_register
from quality.services import kpi_change_marks_register

ISSUE_MODEL = "improvements.ImprovementIssue"
ACTION_MODEL = "improvements.Action"
ISSUE_DIMS = {"product_line": "product_line__code", "product_model": "product_model__code", "severity": "severity"}
ACTION_DIMS = {"owner": "owner__username", "product_line": "issue__product_line__code"}

# (phase, English name, Chinese name); the order of models.PHASES.
PHASE_NAMES = (
    ("draft", "Days in draft", "草稿时长"),
    ("triage", "Days in triage", "分诊时长"),
    ("containment", "Days in containment", "遏制时长"),
    ("root_cause", "Days in root cause", "根本原因分析时长"),
    ("action_plan", "Days in action plan", "措施计划时长"),
    ("implementation", "Days in implementation", "措施实施时长"),
    ("verification", "Days in verification", "效果验证时长"),
)


def _days(value) -> float:
    return value.total_seconds() / 86400 if isinstance(value, dt.timedelta) else float(value)


def _closed(**kwargs) -> Measure:
    return Measure(model=ISSUE_MODEL, time="closed_at", dims=ISSUE_DIMS, **kwargs)


def _elapsed():
    return ExpressionWrapper(F("closed_at") - F("detected_at"), output_field=DurationField())


def _review_count():
    """The issue's review cycles: the distinct meetings with a decided agenda item for it."""
    from .models import AgendaItem

    meetings = (
        AgendaItem.objects.filter(issue=OuterRef("pk"))
        .exclude(decision="")
        .order_by()
        .values("issue")
        .annotate(n=Count("meeting", distinct=True))
        .values("n")
    )
    return Coalesce(Subquery(meetings, output_field=IntegerField()), Value(0))


def _action(**kwargs) -> Measure:
    return Measure(model=ACTION_MODEL, time="due_on", is_date=True, dims=ACTION_DIMS, **kwargs)


def _phase_kpi(phase: str, name_en: str, name_zh: str) -> Kpi:
    return Kpi(
        code=f"improvement_{phase}_days",
        name_en=name_en,
        name_zh=name_zh,
        category="continuous_improvement",
        unit="days",
        direction="down",
        kind="mean",
        dims=tuple(ISSUE_DIMS),
        numerator=_closed(kind="sum", field=f"{phase}_days", convert=float),
        denominator=_closed(),
        definition_en=f"Improvement issues with closed_at in P: mean(days spent in the {phase.replace('_', ' ')} "
        "phase, summed over every visit).",
        definition_zh=f"P 内关闭(closed_at)的改进问题：mean(在“{name_zh[:-2]}”阶段停留的天数，多次进入累计)。",
    )


def improvement_kpis() -> list[Kpi]:
    return [
        Kpi(
            code="improvement_closure_days",
            name_en="Improvement closure time",
            name_zh="质量改进闭环时间",
            category="continuous_improvement",
            unit="days",
            direction="down",
            kind="mean",
            target=60,
            dims=tuple(ISSUE_DIMS),
            numerator=_closed(kind="sum", field=_elapsed, convert=_days),
            denominator=_closed(),
            definition_en="Improvement issues with closed_at in P: mean(closed_at − detected_at) in days "
            "(detected_at is the earliest evidence).",
            definition_zh="P 内关闭(closed_at)的改进问题：mean(关闭时间 − 发现时间)，单位天"
            "(发现时间为最早证据的时间)。",
        ),
        Kpi(
            code="improvement_review_cycles",
            name_en="Improvement review cycles",
            name_zh="改进评审轮次",
            category="continuous_improvement",
            unit="reviews",
            direction="down",
            kind="mean",
            target=3,
            dims=tuple(ISSUE_DIMS),
            numerator=_closed(kind="sum", field=_review_count, convert=int),
            denominator=_closed(),
            definition_en="Improvement issues with closed_at in P: mean(number of committee reviews that "
            "discussed the issue — distinct meetings with a decided agenda item for it).",
            definition_zh="P 内关闭的改进问题：mean(讨论过该问题的质量委员会评审次数——对该问题有已决议议程项的"
            "不同会议数)。",
        ),
        Kpi(
            code="action_on_time_rate",
            name_en="Action on-time completion rate",
            name_zh="措施按期完成率",
            category="continuous_improvement",
            unit="%",
            direction="up",
            kind="ratio",
            scale=100,
            target=90,
            dims=tuple(ACTION_DIMS),
            numerator=_action(where=lambda: Q(completed_on__isnull=False, completed_on__lte=F("due_on"))),
            denominator=_action(),
            definition_en="Actions with due_on (the original due date) in P: 100 × count(completed_on ≤ due_on) / "
            "count.",
            definition_zh="原定完成日期(due_on)在 P 内的措施：100 × count(完成日期 ≤ 原定完成日期) / count。",
        ),
        *(_phase_kpi(*names) for names in PHASE_NAMES),
    ]


def _issue_url(pk) -> str | None:
    try:
        return reverse("improvements:issue-detail", kwargs={"pk": pk})
    except NoReverseMatch:  # the issue page is not mounted (a trimmed URL conf)
        return None


def improvement_kpis_register() -> None:
    """Called from ImprovementsConfig.ready; registering twice is harmless."""
    for kpi in improvement_kpis():
        kpi_register(kpi)
    # The incremental snapshot refresh finds what changed: every closing saves the issue
    # (updated_at), every change of an action appends an ActionEvent. A reopened issue
    # leaves its old period to the nightly full recompute.
    kpi_change_marks_register(model="improvements.ImprovementIssue", field="updated_at", times=["closed_at"])
    kpi_change_marks_register(model="improvements.ActionEvent", field="pk", times=["action__due_on"])
    record_fields_register(
        ISSUE_MODEL,
        {
            "id": "pk",
            "ref": "code",
            "subject": "title",
            "status": "state",
            "severity": "severity",
            "product_model": "product_model__code",
            "detected_at": "detected_at",
            "closed_at": "closed_at",
        },
        link=lambda row: _issue_url(row["id"]),
        labels={
            "severity": _("Severity"),
            "detected_at": _("Detected"),
            "closed_at": _("Closed"),
            "owner": _("Owner"),
            "due_on": _("Original due date"),
            "completed_on": _("Completed on"),
            "issue": _("Issue"),
        },
        name=_("Improvement issues"),
    )
    record_fields_register(
        ACTION_MODEL,
        {
            "id": "pk",
            "ref": "issue__code",
            "issue": "issue_id",
            "subject": "title",
            "status": "status",
            "owner": "owner__username",
            "due_on": "due_on",
            "completed_on": "completed_on",
        },
        link=lambda row: _issue_url(row["issue"]),
        name=_("Improvement actions"),
    )
