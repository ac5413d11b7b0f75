"""Presentation helpers of the report pages: status badges, readable parameters. No queries."""

import datetime as dt

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from quality.kpi.periods import GRAINS
from quality.kpi.registry import DIMENSIONS
from reports.models import DeliveryStatus, ReportStatus

register = template.Library()

STATUS_STYLES = {
    ReportStatus.QUEUED: ("text-bg-light border", "bi-hourglass"),
    ReportStatus.RUNNING: ("text-bg-info", "bi-arrow-repeat"),
    ReportStatus.DONE: ("text-bg-success", "bi-check2-circle"),
    ReportStatus.FAILED: ("text-bg-danger", "bi-exclamation-triangle"),
}
DELIVERY_STYLES = {
    DeliveryStatus.SENT: ("text-bg-success", "bi-send-check"),
    DeliveryStatus.SKIPPED: ("text-bg-light border", "bi-skip-forward"),
    DeliveryStatus.FAILED: ("text-bg-danger", "bi-exclamation-triangle"),
    DeliveryStatus.PENDING: ("text-bg-warning", "bi-hourglass"),
}


def _badge(css, icon, label):
    return format_html('<span class="badge {}"><i class="bi {}" aria-hidden="true"></i> {}</span>', css, icon, label)


@register.simple_tag
def report_status_badge(value):
    css, icon = STATUS_STYLES.get(value, ("text-bg-light", "bi-question"))
    return _badge(css, icon, ReportStatus(value).label if value in ReportStatus.values else value)


@register.simple_tag
def delivery_status_badge(value):
    css, icon = DELIVERY_STYLES.get(value, ("text-bg-light", "bi-question"))
    return _badge(css, icon, DeliveryStatus(value).label if value in DeliveryStatus.values else value)


@register.filter
def language_name(code) -> str:
    return str(dict(settings.LANGUAGES).get(code, code))


@register.filter
def period_text(parameters) -> str:
    """ "2026-03-01 – 2026-03-31" of a quality report's [start, end)."""
    try:
        start = dt.date.fromisoformat(parameters["start"])
        last = dt.date.fromisoformat(parameters["end"]) - dt.timedelta(days=1)
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{start:%Y-%m-%d} – {last:%Y-%m-%d}"


@register.filter
def last_day(end) -> dt.date | None:
    """The last day of a period whose end is exclusive."""
    return end - dt.timedelta(days=1) if isinstance(end, dt.date) else None


@register.filter
def scope_text(filters) -> str:
    """ "Region: East · Channel: phone", or "All" without filters."""
    if not filters:
        return _("All")
    return " · ".join(f"{capfirst(str(DIMENSIONS.get(dim, dim)))}: {member}" for dim, member in sorted(filters.items()))


@register.filter
def grain_name(code) -> str:
    return capfirst(str(GRAINS[code][0])) if code in GRAINS else ""
