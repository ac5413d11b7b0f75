"""The recurrence watch after closure. (Helper H2 implements this module.)"""

from __future__ import annotations


def recurrence_watch(*, now=None) -> dict:
    """The daily job: for each closed issue still watched, a failure of its failure mode
    in its scope after closure reopens it (IMPROVEMENT_RECURRENCE_ACTION=reopen) or
    flags it (=flag). Idempotent."""
    raise NotImplementedError
