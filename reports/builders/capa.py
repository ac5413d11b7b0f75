"""The 8D / CAPA report of one improvement issue (helper R2 implements it)."""

from __future__ import annotations


def capa_report_pdf(*, issue_id: int, language: str = "en", user=None) -> tuple[bytes, int]:
    raise NotImplementedError
