"""Creating an issue from where the problem shows: an alert (scope from its member),
a selection of tickets or failures. (Helper H1 implements this module.)"""

from __future__ import annotations


def issue_create_from_alert(*, alert_id: int, actor, title: str = "", at=None):
    raise NotImplementedError


def issue_create_from_records(
    *, actor, ticket_ids=(), failure_ids=(), title: str = "", severity: str = "major", at=None
):
    raise NotImplementedError
