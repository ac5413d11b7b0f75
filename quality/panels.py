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


# --- dashboard actions ------------------------------------------------------------------------
# Buttons that apps above quality add to the dashboards (the overview and KPI pages),
# e.g. reports' "Download PDF" of the current filters. The context function gets the
# request and the page state (start, end, grain, filters); None hides the action.


@dataclass(frozen=True)
class _Action:
    key: str
    template: str
    context: Callable[[object, dict], dict | None]
    order: int


_ACTIONS: dict[str, _Action] = {}


def dashboard_action_register(
    *, key: str, template: str, context: Callable[[object, dict], dict | None], order: int = 100
) -> None:
    """Register (or replace, by key) an action of the dashboards' header."""
    _ACTIONS[key] = _Action(key=key, template=template, context=context, order=order)


def dashboard_actions(request, state: dict) -> list[dict]:
    """The actions to show for this request and page state: [{key, template, context}]."""
    shown = []
    for action in sorted(_ACTIONS.values(), key=lambda a: (a.order, a.key)):
        context = action.context(request, state)
        if context is not None:
            shown.append({"key": action.key, "template": action.template, "context": context})
    return shown


# --- recall page actions ----------------------------------------------------------------------
# Links that apps above quality add to a recall's page header (reports' "Status report
# (PDF)"). `url(recall, user)` returns the link, or None to hide it.


@dataclass(frozen=True)
class _RecallAction:
    key: str
    label: object  # a lazy translation: rendered in the page's language
    icon: str
    url: Callable[[object, object], str | None]
    order: int


_RECALL_ACTIONS: dict[str, _RecallAction] = {}


def recall_action_register(
    *, key: str, label, url: Callable[[object, object], str | None], icon: str = "", order: int = 100
) -> None:
    """Register (or replace, by key) a link of the recall page's header."""
    _RECALL_ACTIONS[key] = _RecallAction(key=key, label=label, icon=icon, url=url, order=order)


def recall_actions(recall, user) -> list[dict]:
    """The links to show on this recall's page for this user: [{key, label, icon, url}]."""
    shown = []
    for action in sorted(_RECALL_ACTIONS.values(), key=lambda a: (a.order, a.key)):
        url = action.url(recall, user)
        if url:
            shown.append({"key": action.key, "label": action.label, "icon": action.icon, "url": url})
    return shown
