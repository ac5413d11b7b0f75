"""The management quality report (helper R1 implements it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable


def quality_report_pdf(
    *,
    start: dt.date,
    end: dt.date,
    filters: dict | None = None,
    language: str = "en",
    user=None,
    progress: Callable[[int, str], None] | None = None,
) -> tuple[bytes, int]:
    """The PDF of the management quality report for [start, end) and the dashboard's
    filters, in `language`; returns (pdf bytes, page count). `progress(percent, stage)`
    is called as sections are done (the Celery task stores it for the page)."""
    raise NotImplementedError


def quality_report_is_empty(*, start: dt.date, end: dt.date, filters: dict | None = None) -> bool:
    """True when the period and scope hold no records at all (subscriptions' skip-if-empty)."""
    raise NotImplementedError
