"""The reviews section of the issue page (issue_reviews) and the badges of the
review-meeting pages."""

from django import template

from .. import review_selectors as selectors
from ..models import Decision, State

register = template.Library()

STATE_BADGES = {
    State.DRAFT: "text-bg-light border",
    State.TRIAGE: "text-bg-secondary",
    State.CONTAINMENT: "text-bg-warning",
    State.ROOT_CAUSE: "text-bg-info",
    State.ACTION_PLAN: "text-bg-primary",
    State.IMPLEMENTATION: "text-bg-primary",
    State.VERIFICATION: "text-bg-warning",
    State.CLOSED: "text-bg-success",
    State.REJECTED: "text-bg-dark",
    State.CANCELLED: "text-bg-dark",
}
DECISION_BADGES = {
    Decision.APPROVE_PLAN: "text-bg-primary",
    Decision.MORE_ANALYSIS: "text-bg-warning",
    Decision.ACCEPT_VERIFICATION: "text-bg-success",
    Decision.CLOSE: "text-bg-success",
    Decision.REOPEN: "text-bg-danger",
    Decision.NOTED: "text-bg-light border",
}


@register.filter
def issue_state_badge(state: str) -> str:
    return STATE_BADGES.get(state, "text-bg-secondary")


@register.filter
def decision_badge(decision: str) -> str:
    return DECISION_BADGES.get(decision, "text-bg-secondary")


@register.inclusion_tag("improvements/_reviews.html")
def issue_reviews(issue, user=None):
    """The issue's review cycles (distinct meetings that decided on it) and the decisions."""
    reviews = list(selectors.issue_reviews(issue))
    return {
        "issue": issue,
        "reviews": reviews,
        "cycles": len({item.meeting_id for item in reviews}),
        "can_read_meetings": user is not None and selectors.meetings_readable(user),
    }
