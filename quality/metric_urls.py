"""Self-service metric pages; mounted at /dashboards/metrics/."""

from django.urls import path

from . import metric_views

app_name = "metrics"
urlpatterns = [
    path("", metric_views.metric_list, name="list"),
    path("new/", metric_views.metric_create, name="create"),
    path("<slug:code>/", metric_views.metric_edit, name="edit"),
    path("<slug:code>/retire/", metric_views.metric_deactivate, name="deactivate"),
]
