from django import template

from catalog.roles import user_has_global_read

register = template.Library()


@register.filter
def can_analyse(user) -> bool:
    """The reliability analyses read whole unit populations: global-read roles only."""
    return user_has_global_read(user)
