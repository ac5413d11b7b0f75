"""The SLA on the agent pages: the detail page's card, the queue's badge and countdown."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tickets.models import SlaTarget
from tickets.selectors import ticket_sla_state

register = template.Library()

SLA_STATES = {
    "breached": (gettext_lazy("Breached"), "text-bg-danger", "bi-alarm"),
    "at_risk": (gettext_lazy("At risk"), "text-bg-warning", "bi-exclamation-triangle"),
    "paused": (gettext_lazy("Paused"), "text-bg-secondary", "bi-pause-circle"),
    "ok": (gettext_lazy("On track"), "text-bg-success", "bi-check-circle"),
    "met": (gettext_lazy("Met"), "text-bg-light border", "bi-check2-all"),
    "none": (gettext_lazy("No SLA"), "text-bg-light border text-body-secondary", "bi-dash-circle"),
}


@register.inclusion_tag("tickets/_sla_card.html", takes_context=True)
def ticket_sla_card(context, ticket):
    now = context.get("now") or timezone.now()
    states = ticket_sla_state(ticket, now=now)
    targets = [{**states[t], "label": SlaTarget(t).label} for t in (SlaTarget.RESPONSE, SlaTarget.RESOLUTION)]
    return {
        "ticket": ticket,
        "targets": targets,
        "policy": ticket.sla_policy,
        "request": context.get("request"),
    }


@register.simple_tag
def sla_badge(state: str, *, late: bool = False):
    label, css, icon = SLA_STATES.get(state, SLA_STATES["none"])
    if state == "met" and late:
        label, css = _("Met late"), "text-bg-light border text-danger"
    return format_html(
        '<span class="badge {} sla-badge" data-sla-state="{}"><i class="bi {}" aria-hidden="true"></i> {}</span>',
        css,
        state,
        icon,
        label,
    )


@register.filter
def business_time(minutes) -> str:
    """Business minutes as "2 h 05 min" (the sign dropped: the caller says left or overdue)."""
    if minutes is None:
        return "—"
    total = int(round(abs(float(minutes))))
    hours, rest = divmod(total, 60)
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": rest}
    return _("%(minutes)d min") % {"minutes": rest}
