"""The navbar's "Improvement" entry (H4)."""

from django import template

from ..selectors import improvements_visible

register = template.Library()


@register.filter
def can_see_improvements(user) -> bool:
    """Readers of improvement issues, and anybody who owns an action."""
    return improvements_visible(user)
