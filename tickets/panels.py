"""Panels that apps above tickets add to the ticket page (failures, recalls, ...).

tickets may not import them, so they register here in their AppConfig.ready: a key,
a template and a context function. The ticket page renders every panel whose context
function returns a dict, in `order`; None hides the panel for that ticket and user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .models import Ticket


@dataclass(frozen=True)
class _Panel:
    key: str
    template: str
    context: Callable[[Ticket, object], dict | None]
    order: int


_PANELS: dict[str, _Panel] = {}


def ticket_panel_register(
    *, key: str, template: str, context: Callable[[Ticket, object], dict | None], order: int = 100
) -> None:
    """Register (or replace, by key: ready() may run twice in tests) a ticket panel."""
    _PANELS[key] = _Panel(key=key, template=template, context=context, order=order)


def ticket_panels(ticket: Ticket, user) -> list[dict]:
    """The panels to show on this ticket for this user: [{key, template, context}]."""
    shown = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(ticket, user)
        if context is not None:
            shown.append({"key": panel.key, "template": panel.template, "context": context})
    return shown
