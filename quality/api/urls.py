from django.urls import include, path

from . import metrics, views

urlpatterns = [
    path("kpis/", views.KpiCatalogueView.as_view(), name="kpi-list"),
    path("kpis/overview/", views.KpiOverviewView.as_view(), name="kpi-overview"),
    path("kpis/<str:code>/", views.KpiDetailView.as_view(), name="kpi-detail"),
    path("kpis/<str:code>/values/", views.KpiValuesView.as_view(), name="kpi-values"),
    path("kpis/<str:code>/values/export/", views.KpiValuesExportView.as_view(), name="kpi-values-export"),
    path("kpis/<str:code>/records/", views.KpiRecordsView.as_view(), name="kpi-records"),
    path("metrics/", metrics.MetricListView.as_view(), name="metric-list"),
    path("metrics/fields/", metrics.MetricFieldsView.as_view(), name="metric-fields"),
    path("metrics/<str:code>/", metrics.MetricDetailView.as_view(), name="metric-detail"),
    # Issue 6: reliability analyses, failures and traceability, recalls.
    path("", include("quality.api.analysis")),
    path("", include("quality.api.failures")),
    path("", include("quality.api.recalls")),
    # Issue 7: alerts, rules, silences.
    path("", include("quality.api.alerts")),
]
