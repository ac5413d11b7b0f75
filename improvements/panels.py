"""The alert page's "Improvement" panel (registered in quality.panels by apps.ready)."""

from __future__ import annotations

from . import selectors


def alert_improvement_panel(alert, user) -> dict | None:
    """The issues linked to the alert that the user sees, and whether the user may open
    one from it; hidden for users who neither see issues nor create them."""
    can_create = selectors.issues_creatable(user)
    if not (can_create or user.has_perm(selectors.VIEW_PERM)):
        return None
    issues = list(selectors.issues_for_user(user).filter(alerts=alert).order_by("-created_at", "-id"))
    return {"alert": alert, "issues": issues, "can_create": can_create}
