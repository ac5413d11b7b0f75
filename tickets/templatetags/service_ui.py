from django import template

register = template.Library()


@register.inclusion_tag("tickets/_customer_card.html", takes_context=True)
def ticket_customer_card(context, ticket):
    # Placeholder wired into the detail page; filled in by the feature that owns it.
    return {"ticket": ticket, "request": context.get("request")}
