from django import template

from ..recall_selectors import recalls_readable

register = template.Library()


@register.filter
def can_read_recalls(user) -> bool:
    """The navbar's "Recalls" item: agents and supervisors hold view_recall (unit
    history) but do not see campaigns."""
    return recalls_readable(user)
