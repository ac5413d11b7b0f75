"""Sections of the issue page owned by the verification/knowledge helper (H2):
issue_verifications and issue_suggestions."""

from django import template

register = template.Library()


@register.inclusion_tag("improvements/_section_placeholder.html")
def issue_verifications(issue, user=None):
    return {"section": "verifications", "issue": issue}


@register.inclusion_tag("improvements/_section_placeholder.html")
def issue_suggestions(issue, user=None):
    return {"section": "suggestions", "issue": issue}
