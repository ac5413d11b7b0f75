"""The recall status report (helper R2 implements it)."""

from __future__ import annotations


def recall_report_pdf(*, recall_id: int, language: str = "en", user=None) -> tuple[bytes, int]:
    raise NotImplementedError
