"""Actions with owners: the original due date is frozen, every change of the current
due date is logged with a reason; reminders before the due date and escalation when
overdue run daily and at most once per action and day. (Helper H1 implements this module.)"""

from __future__ import annotations


def action_create(
    *, issue_id: int, actor, kind: str, title: str, owner, due_on, description: str = "", cause_id=None, at=None
):
    raise NotImplementedError


def action_update(*, action_id: int, actor, title: str | None = None, description: str | None = None, owner=None):
    raise NotImplementedError


def action_due_change(*, action_id: int, actor, due_on, reason: str, at=None):
    raise NotImplementedError


def action_status_set(*, action_id: int, actor, status: str, evidence: str = "", completed_on=None, at=None):
    """open / in_progress / done (needs completion evidence) / cancelled (needs a reason in evidence)."""
    raise NotImplementedError


def actions_remind(*, now=None) -> dict:
    """The daily job: remind owners of actions due within IMPROVEMENT_REMINDER_DAYS and
    escalate overdue ones to the issue owner and team supervisors. Idempotent."""
    raise NotImplementedError
