"""The "Download PDF" action of the quality dashboards (registered in apps.ready)."""

from __future__ import annotations

from django.urls import reverse

from . import selectors


def dashboard_pdf_action(request, state: dict) -> dict | None:
    """The form that posts the page's period, grain and filters to the report request;
    hidden from users who may not generate reports."""
    if not selectors.reports_generatable(request.user):
        return None
    return {
        "url": reverse("reports:from_dashboard"),
        "start": state.get("start", ""),
        "end": state.get("end", ""),
        "grain": state.get("grain", ""),
        "filters": sorted((state.get("filters") or {}).items()),
        "next": request.get_full_path(),
    }
