"""Customer links: signed tokens for the progress and survey pages (no login), and
what a customer can do through them.

A token carries the ticket's public UUID and its link_version; raising the version
(ticket_links_revoke) revokes every link handed out before. The two kinds of link use
distinct salts, so a progress token is never accepted as a survey token or the other
way round. Every refusal is the same LinkInvalid, so a page shows nothing about why."""

import datetime as dt
import uuid
from datetime import datetime

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError, ConflictError
from catalog.models import User

from ..models import EventKind, Status, Survey, Ticket
from .followups import NotAllowed, user_can_work_ticket
from .tickets import _apply, _Change, _lock, _now, ticket_transition

PROGRESS_SALT = "tickets.links.progress"
SURVEY_SALT = "tickets.links.survey"
SURVEYABLE = frozenset({Status.RESOLVED, Status.CLOSED})
REPLY_MAX_CHARS = 4000


class LinkInvalid(Exception):
    """Tampered, expired, revoked, unknown or no longer current: one answer for all."""


def _sign(payload: dict, salt: str) -> str:
    # dumps() signs with a timestamp (TimestampSigner), which loads(max_age=) checks.
    return signing.dumps(payload, salt=salt)


def _load(token: str, salt: str, max_age: dt.timedelta | None = None) -> dict:
    try:
        payload = signing.loads(token, salt=salt, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        # SignatureExpired is a BadSignature; a malformed payload can raise the others.
        raise LinkInvalid from None
    if not isinstance(payload, dict):
        raise LinkInvalid
    return payload


def _ticket_for(payload: dict) -> Ticket:
    try:
        public_id = uuid.UUID(hex=str(payload["t"]))
        version = int(payload["v"])
        ticket = Ticket.objects.select_related("team", "customer").get(public_id=public_id)
    except (KeyError, ValueError, TypeError, Ticket.DoesNotExist):
        raise LinkInvalid from None
    if ticket.link_version != version:
        raise LinkInvalid
    return ticket


def progress_link_token(ticket: Ticket) -> str:
    return _sign({"t": ticket.public_id.hex, "v": ticket.link_version}, PROGRESS_SALT)


def survey_link_token(ticket: Ticket) -> str:
    """The survey of the current resolution round (reopened_count)."""
    return _sign({"t": ticket.public_id.hex, "v": ticket.link_version, "r": ticket.reopened_count}, SURVEY_SALT)


def progress_link_url(ticket: Ticket) -> str:
    return settings.SITE_URL + reverse("customer:progress", args=[progress_link_token(ticket)])


def survey_link_url(ticket: Ticket) -> str:
    return settings.SITE_URL + reverse("customer:survey", args=[survey_link_token(ticket)])


def progress_link_ticket(token: str) -> Ticket:
    """The one ticket a progress token names, while it is PROGRESS_LINK_DAYS old at most."""
    payload = _load(token, PROGRESS_SALT, dt.timedelta(days=settings.PROGRESS_LINK_DAYS))
    return _ticket_for(payload)


def survey_answer(ticket: Ticket, round: int) -> Survey | None:
    return Survey.objects.filter(external_id=survey_external_id(ticket, round)).first()


def survey_external_id(ticket: Ticket, round: int) -> str:
    external_id = f"W-{ticket.external_id}-{round}"
    # Ticket numbers may be 64 characters long; the UUID keeps a long one unique.
    return external_id if len(external_id) <= 64 else f"W-{ticket.public_id.hex}-{round}"


def survey_change_deadline(survey: Survey) -> datetime:
    return survey.responded_at + dt.timedelta(days=settings.SURVEY_CHANGE_DAYS)


def survey_link_ticket(token: str, *, now: datetime | None = None) -> tuple[Ticket, int]:
    """(ticket, round) of a survey token. Unanswered, the link lives SURVEY_LINK_DAYS
    after it was issued; once answered, until SURVEY_CHANGE_DAYS after the first answer.
    Only a resolved or closed ticket in the token's round can be rated."""
    payload = _load(token, SURVEY_SALT)
    ticket = _ticket_for(payload)
    try:
        round = int(payload["r"])
    except (KeyError, ValueError, TypeError):
        raise LinkInvalid from None
    if ticket.status not in SURVEYABLE or round != ticket.reopened_count:
        raise LinkInvalid
    survey = survey_answer(ticket, round)
    if survey is None:
        _load(token, SURVEY_SALT, dt.timedelta(days=settings.SURVEY_LINK_DAYS))
    elif _now(now) > survey_change_deadline(survey):
        raise LinkInvalid
    return ticket, round


@transaction.atomic
def ticket_links_revoke(*, ticket_id: int, actor: User, at: datetime | None = None) -> Ticket:
    """Raise link_version: every progress and survey link given out so far stops working.
    Locks the ticket; only someone who works it may do this."""
    at = _now(at)
    ticket = _lock(ticket_id, None)
    if not user_can_work_ticket(actor, ticket):
        raise NotAllowed(_("Only the ticket's team can do this."), errors={"ticket": [_("not your team")]})
    # An internal note: the customer must not learn that a link was revoked.
    change = _Change(
        kind=EventKind.NOTE,
        fields={"link_version": ticket.link_version + 1},
        comment=_("Customer links revoked."),
    )
    return _apply(ticket, change, actor=actor, at=at)


@transaction.atomic
def ticket_customer_reply(*, ticket_id: int, body: str, at: datetime | None = None) -> Ticket:
    """A reply through the progress link: a public customer_reply event (no actor). A
    ticket waiting for the customer goes back to in_progress in the same transaction,
    which resumes its SLA clock (the gate does that). A closed ticket takes no reply."""
    at = _now(at)
    body = (body or "").strip()
    if not body:
        raise ApplicationError(_("Please write a message."), errors={"body": [_("This field is required.")]})
    if len(body) > REPLY_MAX_CHARS:
        raise ApplicationError(
            _("Your message is too long."),
            errors={"body": [_("At most %(limit)s characters.") % {"limit": REPLY_MAX_CHARS}]},
        )
    ticket = _lock(ticket_id, None)
    if ticket.status == Status.CLOSED:
        raise ConflictError(_("This request is closed."), errors={"status": [_("closed")]})
    ticket = _apply(ticket, _Change(kind=EventKind.CUSTOMER_REPLY, comment=body, public=True), actor=None, at=at)
    if ticket.status == Status.WAITING_CUSTOMER:
        ticket = ticket_transition(ticket_id=ticket.pk, to_status=Status.IN_PROGRESS, actor=None, at=at)
    return ticket


@transaction.atomic
def ticket_customer_confirm(*, ticket_id: int, at: datetime | None = None) -> Ticket:
    """The customer confirms the resolution: resolved -> closed, through the gate."""
    ticket = _lock(ticket_id, None)
    if ticket.status != Status.RESOLVED:
        raise ConflictError(
            _("Only a resolved request can be confirmed."), errors={"status": [_("transition not allowed")]}
        )
    return ticket_transition(
        ticket_id=ticket.pk,
        to_status=Status.CLOSED,
        actor=None,
        comment=_("Resolution confirmed by the customer."),
        at=at,
    )
