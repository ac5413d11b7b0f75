"""Presentation helpers of the import pages: status badges, durations. No queries."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from intake.models import ImportStatus

register = template.Library()

STATUS_STYLES = {
    ImportStatus.PENDING: ("text-bg-light border", "bi-hourglass"),
    ImportStatus.RUNNING: ("text-bg-info", "bi-arrow-repeat"),
    ImportStatus.SUCCEEDED: ("text-bg-success", "bi-check2-circle"),
    ImportStatus.REJECTED: ("text-bg-danger", "bi-x-octagon"),
    ImportStatus.DRY_RUN: ("text-bg-primary", "bi-clipboard-check"),
    ImportStatus.FAILED: ("text-bg-dark", "bi-exclamation-triangle"),
}


@register.simple_tag
def import_status_badge(value):
    css, icon = STATUS_STYLES.get(value, ("text-bg-light", "bi-question"))
    try:
        label = ImportStatus(value).label
    except ValueError:
        label = value
    return format_html('<span class="badge {}"><i class="bi {}" aria-hidden="true"></i> {}</span>', css, icon, label)


@register.filter
def duration(seconds) -> str:
    """1.4 s · 2 min 05 s · 1 h 02 min."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return _("%(seconds).1f s") % {"seconds": seconds}
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": rest}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
