"""REST API of the improvement loop (/api/v1/...)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("improvement-issues", views.ImprovementIssueViewSet, basename="improvement-issue")
router.register("improvement-causes", views.CauseViewSet, basename="improvement-cause")
router.register("improvement-actions", views.ActionViewSet, basename="improvement-action")

urlpatterns: list = [
    path("", include("improvements.api.reviews")),
    path("", include("improvements.api.verification")),
    *router.urls,
]
