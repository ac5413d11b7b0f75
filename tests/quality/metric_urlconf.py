"""The project's urls plus the self-service metric pages (for the tests, until the
project mounts them at /dashboards/metrics/)."""

from django.urls import include, path

from aftersales.urls import handler404  # noqa: F401
from aftersales.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("dashboards/metrics/", include("quality.metric_urls")), *project_urlpatterns]
