"""Root-cause analysis: fishbone causes (categories of the issue's set), 5-why chains,
verification of a cause with its evidence, and a recall launched from a verified cause.
(Helper H1 implements this module.)"""

from __future__ import annotations


def cause_add(*, issue_id: int, actor, category: str, description: str, at=None):
    """Add a cause on one bone of the issue's fishbone set. Refused when the issue is
    closed, rejected or cancelled, or the category is not in the issue's set."""
    raise NotImplementedError


def cause_update(*, cause_id: int, actor, category: str | None = None, description: str | None = None):
    raise NotImplementedError


def cause_delete(*, cause_id: int, actor) -> None:
    raise NotImplementedError


def cause_verify(*, cause_id: int, actor, evidence: str, failure_ids=(), at=None):
    """Mark a cause verified; evidence text is required."""
    raise NotImplementedError


def cause_unverify(*, cause_id: int, actor, reason: str, at=None):
    raise NotImplementedError


def why_set(*, cause_id: int, actor, whys: list[str]):
    """Replace the cause's 5-why chain (1..5 answers, in order)."""
    raise NotImplementedError


def cause_recall_launch(*, cause_id: int, actor, title: str = "", severity: str = "class_ii", at=None):
    """Create a recall (draft) from a verified cause with the issue's scope (batches)."""
    raise NotImplementedError
