"""Shared set-up of the follow-up, survey-link and progress-link tests: a ticket worked
through the real gate up to a given status, at hand-chosen times."""

import datetime as dt

from django.utils import timezone

from tests.factories import CustomerFactory, TicketFactory
from tickets import services

# Monday 2025-06-02 09:00 Asia/Shanghai (the project's time zone).
T0 = timezone.make_aware(dt.datetime(2025, 6, 2, 9, 0))


def at(hours: float = 0, *, days: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours, days=days)


def worked_ticket(*, agent, team, status: str = "resolved", email: str = "", start: dt.datetime = T0, **fields):
    """A ticket created at `start`, assigned (+10 min), started (+20 min) and, as asked,
    waiting for the customer or resolved (+2 h)."""
    customer = CustomerFactory(email=email)
    ticket = TicketFactory(team=team, customer=customer, created_at=start, **fields)
    services.ticket_assign(ticket_id=ticket.pk, assignee=agent, actor=agent, at=start + dt.timedelta(minutes=10))
    services.ticket_transition(
        ticket_id=ticket.pk, to_status="in_progress", actor=agent, at=start + dt.timedelta(minutes=20)
    )
    if status in ("waiting_customer", "resolved"):
        services.ticket_transition(ticket_id=ticket.pk, to_status=status, actor=agent, at=start + dt.timedelta(hours=2))
    ticket.refresh_from_db()
    return ticket
