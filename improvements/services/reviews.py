"""Quality-committee reviews: meetings, the automatic agenda, decisions and minutes.
(Helper H3 implements this module.)"""

from __future__ import annotations


def meeting_create(*, actor, title: str, held_on, attendees=(), chair=None, location: str = ""):
    raise NotImplementedError


def meeting_agenda_build(*, meeting_id: int, actor, now=None) -> int:
    """Add the automatic agenda: new problems in triage, plans awaiting approval,
    overdue actions, problems awaiting verification, open critical alerts. Idempotent."""
    raise NotImplementedError


def agenda_item_add(*, meeting_id: int, actor, issue_id: int | None = None, kind: str = "other"):
    raise NotImplementedError


def agenda_item_decide(*, item_id: int, actor, decision: str, minutes: str = "", at=None):
    """Record a decision and its minutes; applies it to the issue (approve_plan,
    more_analysis, accept_verification, close, reopen, noted)."""
    raise NotImplementedError


def meeting_hold(*, meeting_id: int, actor, minutes: str = ""):
    raise NotImplementedError
