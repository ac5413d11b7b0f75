from django import template

from ..alert_access import alerts_readable

register = template.Library()


@register.filter
def can_read_alerts(user) -> bool:
    """The navbar's "Alerts" item (its count comes by htmx, so no page pays for it)."""
    return alerts_readable(user)
