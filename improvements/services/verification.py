"""Effectiveness verification: one KPI in one scope, before and after windows, an
optional control group; a Poisson rate-ratio test (counts per exposure) or a
two-proportion test (rates) gives the p-value and the effect; the verdict follows from
the data. (Helper H2 implements this module.)"""

from __future__ import annotations


def verification_run(
    *,
    issue_id: int,
    actor,
    kpi: str,
    filters: dict,
    before_start,
    before_end,
    after_start,
    after_end,
    control_filters: dict | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.2,
    comment: str = "",
    at=None,
):
    """Store a Verification; a not-effective verdict sends an issue in verification
    back to root cause (issue_loop_back)."""
    raise NotImplementedError
