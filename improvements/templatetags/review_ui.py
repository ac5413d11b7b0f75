"""Section of the issue page owned by the reviews helper (H3): issue_reviews."""

from django import template

register = template.Library()


@register.inclusion_tag("improvements/_section_placeholder.html")
def issue_reviews(issue, user=None):
    return {"section": "reviews", "issue": issue}
