"""The knowledge base (reads): closed issues with their verified root causes, their
actions and the verified effect, searchable by failure mode, component, product and
keywords; suggested on an open issue with the same failure mode."""

from __future__ import annotations

from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When

from .models import Action, ActionStatus, Cause, ImprovementIssue, State, Verification


def _latest_verification(field: str) -> Subquery:
    latest = Verification.objects.filter(issue=OuterRef("pk")).order_by("-created_at", "-id").values(field)[:1]
    return Subquery(latest)


def _closed(user=None) -> QuerySet[ImprovementIssue]:
    if user is None:
        issues = ImprovementIssue.objects.all()
    else:
        from .selectors import issues_for_user  # the pages' scoping rule, one place

        issues = issues_for_user(user)
    return issues.filter(state=State.CLOSED)


def knowledge_annotate(queryset: QuerySet[ImprovementIssue]) -> QuerySet[ImprovementIssue]:
    """The latest verification's figures on each row; verified causes and the actions
    (not cancelled) prefetched."""
    return (
        queryset.select_related("failure_mode", "component", "product_model", "product_line", "owner")
        .annotate(
            verdict=_latest_verification("verdict"),
            verified_kpi=_latest_verification("kpi"),
            verified_before=_latest_verification("before_value"),
            verified_after=_latest_verification("after_value"),
            verified_p=_latest_verification("p_value"),
        )
        .prefetch_related(
            Prefetch("causes", queryset=Cause.objects.filter(verified=True).order_by("id"), to_attr="root_causes"),
            Prefetch(
                "actions",
                queryset=Action.objects.exclude(status=ActionStatus.CANCELLED).order_by("kind", "id"),
                to_attr="kept_actions",
            ),
        )
    )


def knowledge_search(
    *,
    q: str = "",
    failure_mode=None,
    component=None,
    product_model=None,
    product_line=None,
    user=None,
) -> QuerySet[ImprovementIssue]:
    """Closed issues, newest closure first. Scope filters take an object, a pk or a code;
    `q` matches (icontains) the title, the description, causes' descriptions and
    evidence and actions' titles."""
    issues = _closed(user)
    for name, value in (
        ("failure_mode", failure_mode),
        ("component", component),
        ("product_model", product_model),
        ("product_line", product_line),
    ):
        if value in (None, ""):
            continue
        if hasattr(value, "pk"):
            issues = issues.filter(**{f"{name}_id": value.pk})
        elif isinstance(value, int) or str(value).isdigit():
            issues = issues.filter(Q(**{f"{name}_id": int(value)}) | Q(**{f"{name}__code": str(value)}))
        else:
            issues = issues.filter(**{f"{name}__code": str(value).strip()})
    for word in (q or "").split():
        # Each word somewhere; EXISTS keeps one row per issue without DISTINCT.
        cause = Cause.objects.filter(issue=OuterRef("pk")).filter(
            Q(description__icontains=word) | Q(evidence__icontains=word)
        )
        action = Action.objects.filter(issue=OuterRef("pk"), title__icontains=word)
        issues = issues.filter(
            Q(title__icontains=word)
            | Q(description__icontains=word)
            | Q(code__iexact=word)
            | Exists(cause)
            | Exists(action)
        )
    return knowledge_annotate(issues).order_by("-closed_at", "-id")


def knowledge_suggestions(issue: ImprovementIssue, limit: int = 5, *, user=None) -> list[ImprovementIssue]:
    """Closed issues with the same failure mode (those with the same component first),
    excluding the issue itself, newest first. None without a failure mode."""
    if issue.failure_mode_id is None:
        return []
    issues = _closed(user).filter(failure_mode_id=issue.failure_mode_id).exclude(pk=issue.pk)
    issues = knowledge_annotate(issues)
    order = ["-closed_at", "-id"]
    if issue.component_id:
        same = When(component_id=issue.component_id, then=Value(1))
        issues = issues.alias(same=Case(same, default=Value(0), output_field=IntegerField()))
        order.insert(0, "-same")
    return list(issues.order_by(*order)[:limit])
