from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from catalog.health import healthz
from catalog.metrics import metrics
from catalog.throttles import login_throttle

api_v1 = [
    path("", include("catalog.api.urls")),
    path("", include("tickets.api.urls")),
    path("", include("quality.api.urls")),
    path("", include("intake.api.urls")),
    path("", include("improvements.api.urls")),
    path("", include("reports.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Prometheus scrape endpoint; see catalog.metrics for who may read it.
    path("metrics", metrics, name="prometheus-django-metrics"),
    path("", RedirectView.as_view(pattern_name="quality:home", permanent=False)),
    path("login/", login_throttle(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("tickets/", include("tickets.urls")),
    # Customer pages behind signed links (progress, survey): no login.
    path("c/", include("tickets.public_urls")),
    path("dashboards/metrics/", include("quality.metric_urls")),
    path("dashboards/", include("quality.urls")),
    path("analysis/", include("quality.analysis_urls")),
    path("trace/", include("quality.trace_urls")),
    path("recalls/", include("quality.recall_urls")),
    path("alerts/", include("quality.alert_urls")),
    path("improvements/", include("improvements.urls")),
    path("intake/", include("intake.urls")),
    path("reports/", include("reports.urls")),
    # The admin's sign-in shares the login throttle (axes already covers both).
    path("admin/login/", login_throttle(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]

# JSON under /api/ (INTERFACES.md errors), Django's page elsewhere.
handler404 = "catalog.api.exceptions.not_found"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
