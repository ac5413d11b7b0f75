"""Reads of the improvement loop: who sees which issues and actions, the board, "my
actions", one issue with everything its page shows. Lists keep a constant number of
queries (select_related / prefetch / counts as subqueries)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.roles import user_has_global_read
from tickets.models import Team

from .models import (
    PHASES,
    Action,
    ActionEvent,
    ActionStatus,
    Cause,
    FishboneSet,
    ImprovementEvent,
    ImprovementIssue,
    State,
    Why,
)
from .services.actions import ISSUE_EVENT_KINDS

VIEW_PERM = "improvements.view_improvementissue"
WORK_PERM = "improvements.change_improvementissue"
ADD_PERM = "improvements.add_improvementissue"
ACTIVE_ACTION = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
BOARD_STATES = tuple(PHASES)
BOARD_CLOSED = 10
ACTION_KINDS_ON_ISSUE = tuple(ISSUE_EVENT_KINDS)  # the last closed issues shown in the board's closed column


def _authenticated(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def issues_workable(user) -> bool:
    """Quality engineers, committee members and admins work issues (their analysis, actions, moves)."""
    return _authenticated(user) and user.has_perm(WORK_PERM)


def issues_creatable(user) -> bool:
    return _authenticated(user) and user.has_perm(ADD_PERM)


def improvements_visible(user) -> bool:
    """The navbar entry: readers of issues, and anybody who owns an action."""
    if not _authenticated(user):
        return False
    return user.has_perm(VIEW_PERM) or Action.objects.filter(owner=user).exists()


def issues_for_user(user) -> QuerySet[ImprovementIssue]:
    """Global readers see every issue; others the issues they own, of their teams, or
    where they own an action. Out of scope is a 404 everywhere."""
    issues = ImprovementIssue.objects.all()
    if not _authenticated(user):
        return issues.none()
    if user_has_global_read(user):
        return issues
    return issues.filter(
        Q(owner=user)
        | Exists(Team.members.through.objects.filter(team_id=OuterRef("team_id"), user_id=user.pk))
        | Exists(Action.objects.filter(issue=OuterRef("pk"), owner=user))
    )


def actions_for_user(user) -> QuerySet[Action]:
    """Actions of the issues the user sees, plus the user's own actions."""
    actions = Action.objects.all()
    if not _authenticated(user):
        return actions.none()
    if user_has_global_read(user):
        return actions
    return actions.filter(Q(owner=user) | Q(issue__in=issues_for_user(user).values("pk")))


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) subquery: several counts on one row without join fan-out."""
    counted = queryset.order_by().values("issue").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def issues_annotated(queryset: QuerySet[ImprovementIssue], *, today: dt.date | None = None) -> QuerySet:
    """The figures a list row shows, counted in the database."""
    today = today or timezone.localdate()
    mine = Action.objects.filter(issue=OuterRef("pk"))
    return queryset.select_related("owner", "team", "product_line", "product_model").annotate(
        open_actions=_count(mine.filter(status__in=ACTIVE_ACTION)),
        overdue_actions=_count(mine.filter(status__in=ACTIVE_ACTION, current_due_on__lt=today)),
        verified_causes=_count(Cause.objects.filter(issue=OuterRef("pk"), verified=True)),
    )


def issue_list(
    *,
    user,
    state: str | None = None,
    severity: str | None = None,
    owner: str | None = None,
    product_line: str | None = None,
    q: str | None = None,
    mine: bool = False,
) -> QuerySet[ImprovementIssue]:
    issues = issues_for_user(user)
    if state:
        issues = issues.filter(state=state)
    if severity:
        issues = issues.filter(severity=severity)
    if owner:
        issues = issues.filter(owner__username=owner)
    if product_line:
        issues = issues.filter(product_line__code=product_line)
    if q:
        issues = issues.filter(Q(code__icontains=q) | Q(title__icontains=q) | Q(description__icontains=q))
    if mine:
        issues = issues.filter(Q(owner=user) | Exists(Action.objects.filter(issue=OuterRef("pk"), owner=user)))
    return issues_annotated(issues)


def issue_board(user, filters: dict | None = None, *, now: dt.datetime | None = None) -> list[dict]:
    """Columns draft..verification plus the last closed issues: [{state, label, issues,
    count}]; each issue carries open/overdue action counts and days in its state."""
    filters = dict(filters or {})
    now = now or timezone.now()
    base = issue_list(user=user, **filters)
    open_issues = list(base.filter(state__in=BOARD_STATES).order_by("state_entered_at", "id"))
    closed = list(base.filter(state=State.CLOSED).order_by("-closed_at", "-id")[:BOARD_CLOSED])
    columns = {state: [] for state in (*BOARD_STATES, State.CLOSED)}
    for issue in open_issues + closed:
        issue.days_in_state = max((now - issue.state_entered_at).total_seconds(), 0) / 86400
        columns[issue.state].append(issue)
    return [
        {"state": state, "label": State(state).label, "issues": issues, "count": len(issues)}
        for state, issues in columns.items()
    ]


def issue_get(*, user, pk) -> ImprovementIssue:
    """One issue the user may see (404 otherwise), with its scope loaded."""
    queryset = issues_annotated(issues_for_user(user)).select_related(
        "component", "supplier", "region", "failure_mode", "fishbone_set", "plan_approved_by", "created_by"
    )
    return get_object_or_404(queryset, pk=pk)


def issue_causes(issue: ImprovementIssue) -> list[Cause]:
    return list(
        issue.causes.select_related("verified_by")
        .prefetch_related(Prefetch("whys", queryset=Why.objects.order_by("position")), "evidence_failures")
        .order_by("id")
    )


def issue_actions(issue: ImprovementIssue) -> list[Action]:
    return list(
        issue.actions.select_related("owner", "cause")
        .prefetch_related(
            Prefetch(
                "events",
                queryset=ActionEvent.objects.filter(kind="due_changed").select_related("actor").order_by("at", "id"),
                to_attr="due_changes",
            )
        )
        .order_by("kind", "current_due_on", "id")
    )


def issue_timeline(issue: ImprovementIssue) -> list[dict]:
    """The issue's events and its actions' events, merged by time (newest first)."""
    rows = [
        {"at": e.at, "actor": e.actor, "kind": e.kind, "from": e.from_value, "to": e.to_value, "comment": e.comment}
        for e in ImprovementEvent.objects.filter(issue=issue).select_related("actor")
    ]
    rows += [
        {
            "at": e.at,
            "actor": e.actor,
            "kind": e.kind,
            "from": e.from_value,
            "to": e.to_value,
            "comment": e.comment,
            "action": e.action,
        }
        # The action services mirror their own changes on the issue's log; only the
        # daily job's marks (reminded, escalated) live on the action alone.
        for e in ActionEvent.objects.filter(action__issue=issue)
        .exclude(kind__in=ACTION_KINDS_ON_ISSUE)
        .select_related("actor", "action")
    ]
    rows.sort(key=lambda row: row["at"], reverse=True)
    return rows


def issue_fishbone(issue: ImprovementIssue, causes: list[Cause]) -> list[dict]:
    """The bones of the issue's category set (the default set when it has none), each
    with its causes; causes of a category no longer in the set go on an extra bone."""
    fishbone = issue.fishbone_set or FishboneSet.objects.filter(is_default=True).first()
    categories = list(fishbone.categories) if fishbone else []
    bones = [
        {"code": c["code"], "name_en": c.get("name_en", c["code"]), "name_zh": c.get("name_zh", ""), "causes": []}
        for c in categories
    ]
    by_code = {bone["code"]: bone for bone in bones}
    for cause in causes:
        bone = by_code.get(cause.category)
        if bone is None:
            bone = {"code": cause.category, "name_en": cause.category, "name_zh": "", "causes": []}
            by_code[cause.category] = bone
            bones.append(bone)
        bone["causes"].append(cause)
    return bones


def issue_phase_days(issue: ImprovementIssue, *, now: dt.datetime | None = None) -> list[dict]:
    """The closure waterfall: days per phase (stored), plus the running time of the
    phase the issue is in now (`running`)."""
    now = now or timezone.now()
    # Closure time counts from the earliest evidence (METRICS.md), so the waterfall starts
    # there: its total is the issue's improvement_closure_days once it is closed.
    waited = max((issue.created_at - issue.detected_at).total_seconds(), 0) / 86400
    rows = [{"phase": "detected", "label": _("Detection to opening"), "days": waited, "running": 0.0}]
    for phase in PHASES:
        days = getattr(issue, f"{phase}_days") or 0.0
        running = 0.0
        if issue.state == phase:
            running = max((now - issue.state_entered_at).total_seconds(), 0) / 86400
        rows.append({"phase": phase, "label": State(phase).label, "days": days, "running": running})
    return rows


def my_actions(user, *, today: dt.date | None = None, done_days: int = 30) -> dict[str, list[Action]]:
    """The user's actions: overdue, due within IMPROVEMENT_REMINDER_DAYS, later, and
    done recently (the last `done_days` days)."""
    today = today or timezone.localdate()
    soon = today + dt.timedelta(days=getattr(settings, "IMPROVEMENT_REMINDER_DAYS", 3))
    actions = Action.objects.filter(owner=user).select_related("issue", "cause")
    active = actions.filter(status__in=ACTIVE_ACTION).order_by("current_due_on", "id")
    groups = {"overdue": [], "soon": [], "later": []}
    for action in active:
        if action.current_due_on < today:
            groups["overdue"].append(action)
        elif action.current_due_on <= soon:
            groups["soon"].append(action)
        else:
            groups["later"].append(action)
    groups["done"] = list(
        actions.filter(status=ActionStatus.DONE, completed_on__gte=today - dt.timedelta(days=done_days)).order_by(
            "-completed_on", "-id"
        )
    )
    return groups


def action_list(*, user, mine: bool = False, overdue: bool = False, issue: int | None = None) -> QuerySet[Action]:
    actions = actions_for_user(user).select_related("issue", "owner", "cause")
    if mine:
        actions = actions.filter(owner=user)
    if overdue:
        actions = actions.filter(status__in=ACTIVE_ACTION, current_due_on__lt=timezone.localdate())
    if issue is not None:
        actions = actions.filter(issue_id=issue)
    return actions.order_by("current_due_on", "id")


def action_get(*, user, pk) -> Action:
    return get_object_or_404(actions_for_user(user).select_related("issue", "owner"), pk=pk)


def cause_get(*, user, pk) -> Cause:
    return get_object_or_404(Cause.objects.filter(issue__in=issues_for_user(user).values("pk")), pk=pk)


def action_editable_by(action: Action, user) -> bool:
    """Workers edit every action; an action's owner updates its status."""
    return issues_workable(user) or action.owner_id == getattr(user, "pk", None)
