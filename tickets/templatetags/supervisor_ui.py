"""The supervisor page's nav item: shown to supervisors and the global-read roles."""

from django import template

from tickets.supervisor_selectors import user_can_supervise

register = template.Library()


@register.filter
def can_supervise(user) -> bool:
    return user_can_supervise(user)
