"""/reports/capa/<issue>.pdf and /reports/recall/<recall>.pdf; included by reports.urls
(so the names are reports:capa_pdf and reports:recall_pdf)."""

from django.urls import path

from . import capa_views

urlpatterns = [
    path("capa/<int:issue_pk>.pdf", capa_views.capa_pdf, name="capa_pdf"),
    path("recall/<int:recall_pk>.pdf", capa_views.recall_pdf, name="recall_pdf"),
]
