"""The customer card on the staff ticket page: follow-up and callbacks, the survey
answer, and the customer links as a message ready to copy into an e-mail or SMS."""

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import selectors
from tickets.forms import ServiceTaskCompleteForm
from tickets.models import TaskKind
from tickets.services.followups import user_can_work_ticket
from tickets.services.links import SURVEYABLE, progress_link_url, survey_answer, survey_link_url

register = template.Library()


def customer_message(ticket, *, progress_url: str, survey_url: str) -> str:
    """The text an agent sends, in the agent's language (the active one)."""
    parts = [
        _("Dear %(name)s,") % {"name": ticket.customer.name},
        _("you can follow your service request %(number)s and write to us here: %(url)s")
        % {"number": ticket.external_id, "url": progress_url},
    ]
    if survey_url:
        parts.append(_("How did we do? Please rate our service here: %(url)s") % {"url": survey_url})
    parts.append(_("Your service team"))
    return "\n\n".join(parts)


@register.inclusion_tag("tickets/_customer_card.html", takes_context=True)
def ticket_customer_card(context, ticket):
    request = context.get("request")
    user = getattr(request, "user", None)
    tasks = list(selectors.ticket_service_tasks(ticket=ticket))
    round = ticket.reopened_count
    can_work = user_can_work_ticket(user, ticket)
    surveyable = ticket.status in SURVEYABLE
    card = {
        "ticket": ticket,
        "request": request,
        "now": timezone.now(),
        "can_work": can_work,
        "open_follow_ups": [t for t in tasks if t.kind == TaskKind.FOLLOW_UP and t.done_at is None],
        "open_callbacks": [t for t in tasks if t.kind == TaskKind.CALLBACK and t.done_at is None],
        "done_tasks": [t for t in tasks if t.done_at is not None and t.round == round],
        "answer": survey_answer(ticket, round) if surveyable else None,
        "form": ServiceTaskCompleteForm(),
    }
    if can_work:
        # Only the people who work the ticket get links that open it to the customer.
        progress_url = progress_link_url(ticket)
        survey_url = survey_link_url(ticket) if surveyable else ""
        card.update(
            progress_url=progress_url,
            survey_url=survey_url,
            message=customer_message(ticket, progress_url=progress_url, survey_url=survey_url),
        )
    return card
