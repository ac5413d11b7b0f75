"""Panels that apps above tickets add to the ticket page (failures, recalls, ...).

tickets may not import them, so they register here in their AppConfig.ready: a key,
a template and a context function. The ticket page renders every panel whose context
function returns a dict, in `order`; None hides the panel for that ticket and user."""

from __future__ import annotations

from collections.abc import Callable

from catalog.hooks import PageHooks

from .models import Ticket

_PANELS = PageHooks("context")


def ticket_panel_register(
    *, key: str, template: str, context: Callable[[Ticket, object], dict | None], order: int = 100
) -> None:
    """Register (or replace, by key: ready() may run twice in tests) a ticket panel."""
    _PANELS.register(key=key, fn=context, order=order, template=template)


def ticket_panels(ticket: Ticket, user) -> list[dict]:
    """The panels to show on this ticket for this user: [{key, template, context}]."""
    return _PANELS.shown(ticket, user)
