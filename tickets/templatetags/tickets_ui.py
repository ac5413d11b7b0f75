"""Presentation helpers of the agent pages: badges and labels. No queries."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from catalog.roles import ADMIN, AGENT, COMMITTEE_MEMBER, MANAGER, QUALITY_ENGINEER, SUPERVISOR, user_roles
from tickets.forms import person_label
from tickets.models import Priority, Status

register = template.Library()

PRIORITY_CLASSES = {
    Priority.URGENT: "text-bg-danger",
    Priority.HIGH: "text-bg-warning",
    Priority.NORMAL: "text-bg-light border",
    Priority.LOW: "text-bg-light border text-body-secondary",
}
STATUS_CLASSES = {
    Status.NEW: "text-bg-info",
    Status.ASSIGNED: "text-bg-primary",
    Status.IN_PROGRESS: "status-in-progress",
    Status.WAITING_CUSTOMER: "text-bg-warning",
    Status.RESOLVED: "text-bg-success",
    Status.CLOSED: "text-bg-secondary",
}
ROLE_LABELS = {
    AGENT: _("Agent"),
    SUPERVISOR: _("Supervisor"),
    QUALITY_ENGINEER: _("Quality engineer"),
    COMMITTEE_MEMBER: _("Committee member"),
    MANAGER: _("Manager"),
    ADMIN: _("Administrator"),
}


def _label(choices, value) -> str:
    try:
        return choices(value).label
    except ValueError:
        return value


@register.simple_tag
def status_badge(value):
    return format_html(
        '<span class="badge {}">{}</span>', STATUS_CLASSES.get(value, "text-bg-light"), _label(Status, value)
    )


@register.simple_tag
def priority_badge(value):
    return format_html(
        '<span class="badge {}">{}</span>', PRIORITY_CLASSES.get(value, "text-bg-light"), _label(Priority, value)
    )


@register.simple_tag
def role_labels(user) -> str:
    """The user's roles, translated, in the order of catalog.roles.ROLES."""
    roles = user_roles(user)
    return " · ".join(str(label) for role, label in ROLE_LABELS.items() if role in roles)


@register.filter
def person(user) -> str:
    """A user's display name: full name, else username; empty for nobody."""
    return "" if user is None else person_label(user)
