"""Reads of the 8D / CAPA report: one improvement issue laid out along the eight
disciplines (team, problem, containment, root cause, chosen actions, implementation,
prevention, closure). The figures come from the improvement app's own selectors (the
issue page shows the same), so the report never computes a number of its own."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language

from improvements import knowledge, review_selectors, selectors
from improvements.models import ActionKind, ActionStatus, ImprovementIssue, ReviewMeeting
from quality.kpi.registry import kpi_lookup


def person(user) -> str:
    """A user as people know them: full name, else username; empty for nobody."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _chinese() -> bool:
    return (get_language() or "").startswith("zh")


def action_timing(action, *, today: dt.date) -> str:
    """on_time / late (completed against the ORIGINAL due date, as action_on_time_rate
    counts), overdue / open (not done yet, against the current due date), cancelled."""
    if action.status == ActionStatus.CANCELLED:
        return "cancelled"
    if action.status == ActionStatus.DONE:
        return "on_time" if action.completed_on <= action.due_on else "late"
    return "overdue" if action.current_due_on < today else "open"


def _issue(*, issue_id: int, user) -> ImprovementIssue:
    """The issue (404 when the user may not see it; user None: a system caller)."""
    issues = selectors.issues_for_user(user) if user is not None else ImprovementIssue.objects.all()
    issue = (
        issues.select_related(
            "owner",
            "team",
            "product_line",
            "product_model",
            "component",
            "supplier",
            "region",
            "failure_mode",
            "fishbone_set",
            "plan_approved_by",
            "created_by",
        )
        .filter(pk=issue_id)
        .first()
    )
    if issue is None:
        raise Http404("No such improvement issue.")
    return issue


def _scope(issue: ImprovementIssue, batches: list[str]) -> list[tuple[str, str]]:
    """(field name, value) of the scope fields that are set, in the issue form's order."""
    rows = []
    for name in ("product_line", "product_model", "component", "supplier", "region", "failure_mode"):
        value = getattr(issue, name)
        if value is not None:
            label = capfirst(ImprovementIssue._meta.get_field(name).verbose_name)
            code = getattr(value, "code", "")
            named = getattr(value, "name_zh", "") if _chinese() else ""
            named = named or getattr(value, "name_en", "") or getattr(value, "name", "")
            rows.append((str(label), " ".join(filter(None, (code, named))) or str(value)))
    if batches:
        rows.append((str(capfirst(ImprovementIssue._meta.get_field("batches").verbose_name)), ", ".join(batches)))
    return rows


def _team(issue: ImprovementIssue, actions, reviews) -> dict:
    members = []
    if issue.team_id:
        members = sorted(person(u) for u in issue.team.members.all())
    action_owners = sorted({person(a.owner) for a in actions if a.owner_id})
    meeting_ids = {item.meeting_id for item in reviews}
    reviewers = {person(item.decided_by) for item in reviews if item.decided_by_id}
    for meeting in (
        ReviewMeeting.objects.filter(pk__in=meeting_ids).select_related("chair").prefetch_related("attendees")
    ):
        if meeting.chair_id:
            reviewers.add(person(meeting.chair))
        reviewers.update(person(u) for u in meeting.attendees.all())
    if issue.plan_approved_by_id:
        reviewers.add(person(issue.plan_approved_by))
    return {
        "owner": person(issue.owner),
        "created_by": person(issue.created_by),
        "team": issue.team.name if issue.team_id else "",
        "team_members": members,
        "action_owners": action_owners,
        "reviewers": sorted(r for r in reviewers if r),
    }


def _evidence(issue: ImprovementIssue) -> dict:
    return {
        "tickets": issue.tickets.count(),
        "failures": issue.failures.count(),
        "alerts": issue.alerts.count(),
        "surveys": issue.surveys.count(),
        "recalls": issue.recalls.count(),
    }


def _baseline(issue: ImprovementIssue) -> dict | None:
    if not issue.baseline_kpi:
        return None
    kpi = kpi_lookup(issue.baseline_kpi)
    return {
        "code": issue.baseline_kpi,
        "name": kpi.name if kpi else issue.baseline_kpi,
        "unit": kpi.unit if kpi else "",
        "value": issue.baseline_value,
        "start": issue.baseline_start,
        "end": issue.baseline_end,
        "filters": dict(issue.baseline_filters or {}),
    }


def _causes(issue: ImprovementIssue, causes) -> list[dict]:
    zh = _chinese()
    bones = []
    for bone in selectors.issue_fishbone(issue, causes):
        name = (bone["name_zh"] if zh and bone["name_zh"] else bone["name_en"]) or bone["code"]
        bones.append(
            {
                "code": bone["code"],
                "name": name,
                "causes": [
                    {
                        "description": c.description,
                        "verified": c.verified,
                        "verified_at": c.verified_at,
                        "verified_by": person(c.verified_by),
                        "evidence": c.evidence,
                        "evidence_failures": len(c.evidence_failures.all()),
                        "whys": [w.text for w in c.whys.all()],
                    }
                    for c in bone["causes"]
                ],
            }
        )
    return bones


def _action_row(action, *, today: dt.date) -> dict:
    return {
        "kind": action.kind,
        "kind_label": str(ActionKind(action.kind).label),
        "title": action.title,
        "description": action.description,
        "owner": person(action.owner),
        "cause": action.cause.description if action.cause_id else "",
        "due_on": action.due_on,
        "current_due_on": action.current_due_on,
        "moved": action.current_due_on != action.due_on,
        "due_changes": [
            {"at": e.at, "from": e.from_value, "to": e.to_value, "comment": e.comment}
            for e in getattr(action, "due_changes", [])
        ],
        "status": action.status,
        "status_label": str(ActionStatus(action.status).label),
        "completed_on": action.completed_on,
        "evidence": action.completion_evidence,
        "timing": action_timing(action, today=today),
    }


def _verifications(issue: ImprovementIssue) -> list[dict]:
    rows = []
    for v in issue.verifications.order_by("created_at", "id"):
        kpi = kpi_lookup(v.kpi)
        rows.append(
            {
                "kpi": v.kpi,
                "kpi_name": kpi.name if kpi else v.kpi,
                "unit": kpi.unit if kpi else "",
                "filters": dict(v.filters or {}),
                "control_filters": v.control_filters,
                "before": (v.before_start, v.before_end),
                "after": (v.after_start, v.after_end),
                "test": v.test,
                "test_label": v.get_test_display(),
                "alpha": v.alpha,
                "min_effect": v.min_effect,
                "before_numerator": v.before_numerator,
                "before_denominator": v.before_denominator,
                "after_numerator": v.after_numerator,
                "after_denominator": v.after_denominator,
                "before_value": v.before_value,
                "after_value": v.after_value,
                "effect": v.effect,
                "relative_change": v.relative_change,
                "ci_low": v.ci_low,
                "ci_high": v.ci_high,
                "p_value": v.p_value,
                "verdict": v.verdict,
                "verdict_label": v.get_verdict_display(),
                "comment": v.comment,
                "created_at": v.created_at,
                "created_by": person(v.created_by),
            }
        )
    return rows


def capa_report_data(*, issue_id: int, user=None, now: dt.datetime | None = None) -> dict:
    """Everything the 8D report shows for one issue the user may see (Http404 otherwise).
    Labels are in the active language (call under translation.override)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    issue = _issue(issue_id=issue_id, user=user)
    causes = selectors.issue_causes(issue)
    action_objects = selectors.issue_actions(issue)
    actions = [_action_row(a, today=today) for a in action_objects]
    reviews = list(review_selectors.issue_reviews(issue))
    batches = list(issue.batches.order_by("code").values_list("code", flat=True))
    phases = selectors.issue_phase_days(issue, now=now)
    by_kind = {kind: [a for a in actions if a["kind"] == kind] for kind in ActionKind.values}
    done = [a for a in actions if a["timing"] in ("on_time", "late")]
    closure_days = None
    if issue.closed_at:
        # improvement_closure_days: from the earliest evidence to closure (METRICS.md).
        closure_days = (issue.closed_at - issue.detected_at).total_seconds() / 86400
    similar = knowledge.knowledge_suggestions(issue, user=user) if user is not None else []
    return {
        "issue": issue,
        "state_label": issue.get_state_display(),
        "severity_label": issue.get_severity_display(),
        "source_label": issue.get_source_display(),
        "scope": _scope(issue, batches),
        "batches": batches,
        "team": _team(issue, action_objects, reviews),
        "evidence": _evidence(issue),
        "baseline": _baseline(issue),
        "bones": _causes(issue, causes),
        "verified_causes": sum(1 for c in causes if c.verified),
        "actions": actions,
        "containment": by_kind[ActionKind.CONTAINMENT],
        "corrective": by_kind[ActionKind.CORRECTIVE],
        "prevention": by_kind[ActionKind.PREVENTIVE] + by_kind[ActionKind.SYSTEMIC],
        "on_time": sum(1 for a in done if a["timing"] == "on_time"),
        "completed": len(done),
        "plan_approved_at": issue.plan_approved_at,
        "plan_approved_by": person(issue.plan_approved_by),
        "verifications": _verifications(issue),
        "reviews": [
            {
                "held_on": item.meeting.held_on,
                "meeting": item.meeting.title,
                "decision": item.decision,
                "decision_label": item.get_decision_display(),
                "minutes": item.minutes,
                "decided_by": person(item.decided_by),
                "decided_at": item.decided_at,
            }
            for item in reviews
        ],
        "review_cycles": len({item.meeting_id for item in reviews}),
        "closed_at": issue.closed_at,
        "closure_days": closure_days,
        "phases": [{**row, "label": str(row["label"])} for row in phases],
        "in_knowledge_base": issue.state == "closed",
        "similar": [{"code": s.code, "title": s.title, "verdict": s.verdict} for s in similar],
        "generated_at": now,
    }
