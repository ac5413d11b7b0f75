"""Fixtures of R3's report tests (generation, pages, API, subscriptions): files go to a
temporary MEDIA_ROOT, Celery runs in the test's thread, and the builders are replaced by
a tiny real PDF (catalog.pdf.pdf_build) unless a test asks for the real one."""

from __future__ import annotations

import pytest
from reportlab.platypus import PageBreak

from catalog.pdf import pdf_build, pdf_paragraph, pdf_styles
from tests.factories import UserFactory

CALLS: list[dict] = []


def tiny_pdf(title: str = "Test report", pages: int = 2) -> bytes:
    styles = pdf_styles()
    story = []
    for number in range(pages):
        if number:
            story.append(PageBreak())
        story.append(pdf_paragraph(f"{title} — page {number + 1}", styles["title"]))
    return pdf_build(story, title=title)


def fake_quality_report_pdf(*, start, end, filters=None, language="en", user=None, progress=None):
    CALLS.append({"start": start, "end": end, "filters": filters, "language": language, "user": user})
    if progress:
        progress(40, "KPI summary")
    return tiny_pdf(f"Quality {start}..{end} {language}"), 2


@pytest.fixture
def report_env(settings, tmp_path, monkeypatch):
    from reports.builders import capa, quality, recall

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    CALLS.clear()
    monkeypatch.setattr(quality, "quality_report_pdf", fake_quality_report_pdf)
    monkeypatch.setattr(quality, "quality_report_is_empty", lambda *, start, end, filters=None: False)
    monkeypatch.setattr(capa, "capa_report_pdf", lambda *, issue_id, language="en", user=None: (tiny_pdf("CAPA", 1), 1))
    monkeypatch.setattr(
        recall, "recall_report_pdf", lambda *, recall_id, language="en", user=None: (tiny_pdf("Recall", 1), 1)
    )
    return settings


@pytest.fixture
def manager_user(db):
    return UserFactory(username="mgr_wang", first_name="Wang", last_name="Lei", roles=["manager"])


@pytest.fixture
def engineer_user(db):
    return UserFactory(username="qe_zhou", first_name="Zhou", last_name="Min", roles=["quality_engineer"])


@pytest.fixture
def agent_user(db):
    return UserFactory(username="agent_liu", roles=["agent"])


QUALITY_PARAMS = {"start": "2026-03-01", "end": "2026-04-01", "grain": "month", "filters": {"region": "East"}}
