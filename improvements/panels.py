"""The alert page's "Improvement" panel (registered in quality.panels by apps.ready),
and the registry of links that apps above improvements add to the issue page."""

from __future__ import annotations

from collections.abc import Callable

from catalog.hooks import PageHooks

from . import selectors


def alert_improvement_panel(alert, user) -> dict | None:
    """The issues linked to the alert that the user sees, and whether the user may open
    one from it; hidden for users who neither see issues nor create them."""
    can_create = selectors.issues_creatable(user)
    if not (can_create or user.has_perm(selectors.VIEW_PERM)):
        return None
    issues = list(selectors.issues_for_user(user).filter(alerts=alert).order_by("-created_at", "-id"))
    return {"alert": alert, "issues": issues, "can_create": can_create}


# --- issue page actions -----------------------------------------------------------------------
# Links that apps above improvements add to the issue page's header (reports' "8D report
# (PDF)"); they register in their AppConfig.ready. `url(issue, user)` returns the link,
# or None to hide it for that issue and user.


_ISSUE_ACTIONS = PageHooks("url")


def issue_action_register(
    *, key: str, label, url: Callable[[object, object], str | None], icon: str = "", order: int = 100
) -> None:
    """Register (or replace, by key: ready() may run twice in tests) an issue page link."""
    _ISSUE_ACTIONS.register(key=key, fn=url, order=order, label=label, icon=icon)


def issue_actions(issue, user) -> list[dict]:
    """The links to show on this issue's page for this user: [{key, label, icon, url}]."""
    return _ISSUE_ACTIONS.shown(issue, user)
