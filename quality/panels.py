"""Panels that apps above quality add to the alert page (improvement issues, ...).

quality may not import them, so they register here in their AppConfig.ready: a key,
a template and a context function. The alert page renders every panel whose context
function returns a dict, in `order`; None hides the panel for that alert and user."""

from __future__ import annotations

from collections.abc import Callable

from catalog.hooks import PageHooks

from .models import Alert

_PANELS = PageHooks("context")


def alert_panel_register(
    *, key: str, template: str, context: Callable[[Alert, object], dict | None], order: int = 100
) -> None:
    """Register (or replace, by key: ready() may run twice in tests) an alert panel."""
    _PANELS.register(key=key, fn=context, order=order, template=template)


def alert_panels(alert: Alert, user) -> list[dict]:
    """The panels to show on this alert for this user: [{key, template, context}]."""
    return _PANELS.shown(alert, user)


# --- dashboard actions ------------------------------------------------------------------------
# Buttons that apps above quality add to the dashboards (the overview and KPI pages),
# e.g. reports' "Download PDF" of the current filters. The context function gets the
# request and the page state (start, end, grain, filters); None hides the action.

_ACTIONS = PageHooks("context")


def dashboard_action_register(
    *, key: str, template: str, context: Callable[[object, dict], dict | None], order: int = 100
) -> None:
    """Register (or replace, by key) an action of the dashboards' header."""
    _ACTIONS.register(key=key, fn=context, order=order, template=template)


def dashboard_actions(request, state: dict) -> list[dict]:
    """The actions to show for this request and page state: [{key, template, context}]."""
    return _ACTIONS.shown(request, state)


# --- recall page actions ----------------------------------------------------------------------
# Links that apps above quality add to a recall's page header (reports' "Status report
# (PDF)"). `url(recall, user)` returns the link, or None to hide it.

_RECALL_ACTIONS = PageHooks("url")


def recall_action_register(
    *, key: str, label, url: Callable[[object, object], str | None], icon: str = "", order: int = 100
) -> None:
    """Register (or replace, by key) a link of the recall page's header."""
    _RECALL_ACTIONS.register(key=key, fn=url, order=order, label=label, icon=icon)


def recall_actions(recall, user) -> list[dict]:
    """The links to show on this recall's page for this user: [{key, label, icon, url}]."""
    return _RECALL_ACTIONS.shown(recall, user)
