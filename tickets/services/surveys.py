"""Satisfaction surveys through the survey link: the answer (one per ticket and
resolution round, changeable for SURVEY_CHANGE_DAYS), the low-score callback, and the
e-mail that carries the link. Every write locks the ticket row first."""

import datetime as dt
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.exceptions import ApplicationError, ConflictError

from ..models import EventKind, ServiceTask, Survey, TaskKind, Ticket, TicketEvent
from .links import SURVEYABLE, survey_answer, survey_change_deadline, survey_external_id, survey_link_url
from .notifications import notification_send
from .tickets import _apply, _Change, _lock, _now

CSAT_RANGE = range(1, 6)
NPS_RANGE = range(0, 11)
LOW_CSAT = 2
CALLBACK_HOURS = 24
COMMENT_MAX_CHARS = 4000


def _summary(csat: int | None, nps: int | None) -> str:
    parts = [f"CSAT {csat}" if csat is not None else "", f"NPS {nps}" if nps is not None else ""]
    return " · ".join(filter(None, parts))


def _check(csat, nps, comment: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if csat is not None and csat not in CSAT_RANGE:
        errors["csat"] = [_("Choose a score from 1 to 5.")]
    if nps is not None and nps not in NPS_RANGE:
        errors["nps"] = [_("Choose a score from 0 to 10.")]
    if csat is None and nps is None:
        errors["__all__"] = [_("Please give at least one score.")]
    if len(comment) > COMMENT_MAX_CHARS:
        errors["comment"] = [_("At most %(limit)s characters.") % {"limit": COMMENT_MAX_CHARS}]
    return errors


@transaction.atomic
def survey_submit(
    *,
    ticket: Ticket,
    round: int,
    csat: int | None,
    nps: int | None,
    comment: str = "",
    at: datetime | None = None,
) -> Survey:
    """Record or change the answer of one resolution round. The first answer sets
    responded_at; a change sets changed_at and is refused (409) after the change window.
    Each call appends one `survey` event. CSAT <= 2 creates the round's callback task once
    and tells the team supervisor once (the unique task and the dedupe key)."""
    at = _now(at)
    comment = (comment or "").strip()
    errors = _check(csat, nps, comment)
    if errors:
        raise ApplicationError(_("Your answer was not saved."), errors=errors)
    ticket = _lock(ticket.pk, None)
    if ticket.status not in SURVEYABLE or round != ticket.reopened_count:
        raise ConflictError(_("This survey is closed."), errors={"round": [_("not current")]})
    survey = survey_answer(ticket, round)
    previous = ""
    if survey is None:
        survey = Survey.objects.create(
            external_id=survey_external_id(ticket, round),
            ticket=ticket,
            customer=ticket.customer,
            responded_at=at,
            csat=csat,
            nps=nps,
            comment=comment,
        )
    else:
        if at > survey_change_deadline(survey):
            raise ConflictError(_("This survey can no longer be changed."), errors={"round": [_("expired")]})
        previous = _summary(survey.csat, survey.nps)
        survey.csat, survey.nps, survey.comment, survey.changed_at = csat, nps, comment, at
        survey.save(update_fields=["csat", "nps", "comment", "changed_at"])
    change = _Change(kind=EventKind.SURVEY, from_value=previous, to_value=_summary(csat, nps), comment=comment)
    _apply(ticket, change, actor=None, at=at)
    if csat is not None and csat <= LOW_CSAT:
        _low_score_callback(ticket, round, csat, at)
    return survey


def _low_score_callback(ticket: Ticket, round: int, csat: int, at: datetime) -> None:
    due_at = at + dt.timedelta(hours=CALLBACK_HOURS)
    task, created = ServiceTask.objects.get_or_create(
        ticket=ticket,
        kind=TaskKind.CALLBACK,
        round=round,
        defaults={"team": ticket.team, "created_at": at, "due_at": due_at},
    )
    supervisor = ticket.team.supervisor if ticket.team_id else None
    if not created or supervisor is None:
        return
    notification_send(
        recipients=[supervisor],
        kind="survey.low_score",
        title=gettext_lazy("Low satisfaction score on %(number)s"),
        body=gettext_lazy(
            "The customer rated ticket %(number)s “%(subject)s” with CSAT %(csat)s. Please call back by %(due)s."
        ),
        params={
            "number": ticket.external_id,
            "subject": ticket.subject,
            "csat": csat,
            "due": f"{timezone.localtime(task.due_at):%Y-%m-%d %H:%M}",
        },
        url=reverse("tickets:detail", args=[ticket.pk]),
        payload={"ticket": ticket.external_id, "round": round, "csat": csat},
        urgent=False,
        dedupe_key=f"survey-low:{ticket.pk}:{round}",
        at=at,
    )


@transaction.atomic
def survey_email_send(*, ticket_id: int, round: int, at: datetime | None = None) -> bool:
    """E-mail the survey link of one round to the customer, once: an internal `survey`
    event marks it sent, so a retried or duplicated task is a no-op. Nothing is sent
    when the round is no longer current. Locks the ticket. Returns whether it sent."""
    at = _now(at)
    ticket = _lock(ticket_id, None)
    email = ticket.customer.email
    marker = f"emailed:{round}"
    if not email or ticket.status not in SURVEYABLE or round != ticket.reopened_count:
        return False
    if ticket.events.filter(kind=EventKind.SURVEY, to_value=marker).exists():
        return False
    # Customers have no profile language; they get the site's.
    with translation.override(settings.LANGUAGE_CODE):
        context = {"ticket": ticket, "customer": ticket.customer, "url": survey_link_url(ticket)}
        subject = _("How did we do? Service request %(number)s") % {"number": ticket.external_id}
        body = render_to_string("tickets/public/survey_email.txt", context)
        note = _("Survey link e-mailed to %(email)s.") % {"email": email}
    send_mail(subject, body, None, [email])
    TicketEvent.objects.create(ticket=ticket, actor=None, at=at, kind=EventKind.SURVEY, to_value=marker, comment=note)
    return True
