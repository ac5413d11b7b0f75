"""What this app plugs into the apps below it: the "overdue_actions" process check and
the "improvement" auto-action of alert rules, and the ticket page's panel."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone

from .models import ImprovementIssue, State
from .services.actions import OPEN_ACTION, issue_url
from .services.issues import OPEN_STATES

STATE_BADGES = {
    State.DRAFT: "text-bg-light border",
    State.TRIAGE: "text-bg-info",
    State.CONTAINMENT: "text-bg-warning",
    State.ROOT_CAUSE: "text-bg-warning",
    State.ACTION_PLAN: "text-bg-primary",
    State.IMPLEMENTATION: "text-bg-primary",
    State.VERIFICATION: "text-bg-info",
    State.CLOSED: "text-bg-success",
    State.REJECTED: "text-bg-secondary",
    State.CANCELLED: "text-bg-secondary",
}
VIEW_PERM = "improvements.view_improvementissue"


def overdue_actions_check(*, rule, at: dt.datetime, period) -> dict[str, int]:
    """{team name or "": open actions of open issues due before the period's end (its
    local date)}, grouped by the issue's team in one aggregate query."""
    end = timezone.localdate(period[1])
    rows = (
        ImprovementIssue.objects.filter(
            state__in=OPEN_STATES,
            actions__status__in=OPEN_ACTION,
            actions__current_due_on__lt=end,
        )
        .values("team__name")
        .annotate(n=Count("actions"))
    )
    return {row["team__name"] or "": row["n"] for row in rows}


def improvement_auto_action(*, alert) -> str:
    """The alert rule's "improvement" auto-action: a draft issue (the same one when the
    alert already has an open issue). Runs inside the alert's firing transaction."""
    from .services.sources import issue_create_from_alert

    issue = issue_create_from_alert(alert_id=alert.pk, actor=None, at=alert.last_fired_at or timezone.now())
    return f"issue {issue.code}"


def ticket_improvements_panel(ticket, user) -> dict | None:
    """The ticket page's "Improvement" panel: the issues listing the ticket, or one of
    its failures, as evidence; hidden when there is none."""
    issues = list(
        ImprovementIssue.objects.filter(Q(tickets=ticket) | Q(failures__ticket=ticket))
        .distinct()
        .order_by("-created_at", "-pk")
        .values("pk", "code", "title", "state")
    )
    if not issues:
        return None
    labels = dict(State.choices)
    for row in issues:
        row["state_label"] = labels.get(row["state"], row["state"])
        row["badge"] = STATE_BADGES.get(row["state"], "text-bg-secondary")
        row["url"] = issue_url(row["pk"])
    return {"issues": issues, "can_read": user.has_perm(VIEW_PERM)}


def hooks_register() -> None:
    from quality.services.alerts import alert_auto_action_register, alert_process_check_register
    from tickets.panels import ticket_panel_register

    alert_process_check_register("overdue_actions", overdue_actions_check)
    alert_auto_action_register("improvement", improvement_auto_action)
    ticket_panel_register(
        key="improvements", template="improvements/_ticket_panel.html", context=ticket_improvements_panel, order=150
    )
