"""Small display helpers of the traceability pages."""

from django import template

from ..trace_selectors import mode_label as _mode_label

register = template.Library()


@register.simple_tag
def mode_label(mode, with_parent=True):
    """'Parent > Child' in the active language."""
    return _mode_label(mode, with_parent=with_parent)


@register.filter
def rate(value, digits=1):
    """A per-1000 or PPM figure for display; '—' when undefined (no units in service)."""
    if value is None:
        return "—"
    return f"{value:,.{int(digits)}f}"
