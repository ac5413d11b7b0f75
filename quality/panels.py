"""Panels that apps above quality add to the alert page (improvement issues, ...).

quality may not import them, so they register here in their AppConfig.ready: a key,
a template and a context function. The alert page renders every panel whose context
function returns a dict, in `order`; None hides the panel for that alert and user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .models import Alert


@dataclass(frozen=True)
class _Panel:
    key: str
    template: str
    context: Callable[[Alert, object], dict | None]
    order: int


_PANELS: dict[str, _Panel] = {}


def alert_panel_register(
    *, key: str, template: str, context: Callable[[Alert, object], dict | None], order: int = 100
) -> None:
    """Register (or replace, by key: ready() may run twice in tests) an alert panel."""
    _PANELS[key] = _Panel(key=key, template=template, context=context, order=order)


def alert_panels(alert: Alert, user) -> list[dict]:
    """The panels to show on this alert for this user: [{key, template, context}]."""
    shown = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(alert, user)
        if context is not None:
            shown.append({"key": panel.key, "template": panel.template, "context": context})
    return shown
