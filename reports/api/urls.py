"""REST API of the reports app (/api/v1/...)."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("reports", views.ReportViewSet, basename="report")
router.register("report-subscriptions", views.ReportSubscriptionViewSet, basename="report-subscription")

urlpatterns = router.urls
