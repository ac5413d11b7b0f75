"""Reads of the committee's reviews: meetings with their agenda, and an issue's review
cycles. The rule for a review cycle (one per distinct meeting with a decided item for
the issue) is the one the `improvement_review_cycles` KPI applies in SQL."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import NoReverseMatch, reverse

from catalog.roles import user_has_global_read

from .models import AgendaItem, AgendaKind, ImprovementIssue, MeetingStatus, ReviewMeeting
from .services.reviews import KIND_ORDER


def meetings_readable(user) -> bool:
    """Committee members, quality engineers, managers and admins read the meetings."""
    return user_has_global_read(user)


def meeting_list(*, status: str | None = None) -> QuerySet[ReviewMeeting]:
    """Meetings newest first, with their item counts (two aggregates, one query)."""
    meetings = ReviewMeeting.objects.select_related("chair").annotate(
        item_count=Count("items", distinct=True),
        decided_count=Count("items", filter=~Q(items__decision=""), distinct=True),
    )
    if status:
        meetings = meetings.filter(status=status)
    return meetings.order_by("-held_on", "-id")


def meeting_list_split(*, today) -> tuple[list[ReviewMeeting], list[ReviewMeeting]]:
    """(upcoming, past): planned meetings from today on, soonest first; the rest newest first."""
    meetings = list(meeting_list())
    upcoming = [m for m in meetings if m.status == MeetingStatus.PLANNED and m.held_on >= today]
    upcoming.sort(key=lambda m: (m.held_on, m.pk))
    past = [m for m in meetings if m not in upcoming]
    return upcoming, past


def meeting_items(meeting: ReviewMeeting) -> QuerySet[AgendaItem]:
    return meeting.items.select_related(
        "issue", "action", "action__owner", "alert", "alert__rule", "decided_by"
    ).order_by("position", "id")


def meeting_get(*, pk: int) -> ReviewMeeting:
    try:
        return ReviewMeeting.objects.select_related("chair", "created_by").prefetch_related("attendees").get(pk=pk)
    except ReviewMeeting.DoesNotExist:
        raise Http404("No such review meeting.") from None


def agenda_groups(items) -> list[dict]:
    """The agenda grouped by kind in the agenda's order: [{kind, label, items}]."""
    by_kind: dict[str, list[AgendaItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    return [
        {"kind": kind, "label": AgendaKind(kind).label, "items": by_kind[kind]}
        for kind in KIND_ORDER
        if kind in by_kind
    ]


def issue_review_cycles(issue: ImprovementIssue) -> int:
    """Number of distinct meetings with a decided item for the issue."""
    return AgendaItem.objects.filter(issue=issue).exclude(decision="").values("meeting_id").distinct().count()


def issue_reviews(issue: ImprovementIssue) -> QuerySet[AgendaItem]:
    """The issue's decided agenda items with their meeting, oldest meeting first."""
    return (
        AgendaItem.objects.filter(issue=issue)
        .exclude(decision="")
        .select_related("meeting", "decided_by")
        .order_by("meeting__held_on", "meeting_id", "decided_at", "id")
    )


def issue_url(issue_id: int) -> str:
    """The issue page (its route comes with the board; a plain path until it exists)."""
    try:
        return reverse("improvements:issue-detail", args=[issue_id])
    except NoReverseMatch:
        return f"/improvements/issues/{issue_id}/"
