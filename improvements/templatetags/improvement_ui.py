"""Inclusion tags the issue page (owned by H4) renders; each section's owner fills its
tag: issue_verifications and issue_suggestions (H2), issue_reviews (H3)."""

from django import template

register = template.Library()


@register.inclusion_tag("improvements/_section_placeholder.html")
def issue_verifications(issue, user=None):
    return {"section": "verifications", "issue": issue}


@register.inclusion_tag("improvements/_section_placeholder.html")
def issue_suggestions(issue, user=None):
    return {"section": "suggestions", "issue": issue}


@register.inclusion_tag("improvements/_section_placeholder.html")
def issue_reviews(issue, user=None):
    return {"section": "reviews", "issue": issue}
