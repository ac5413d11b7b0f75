from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("imports", views.ImportRunViewSet, basename="importrun")
urlpatterns = [
    path("data-quality/", views.DataQualityView.as_view(), name="data-quality"),
    # imports/<id>/ (digits) is a run of the history; any other segment names an entity to import into.
    re_path(r"^imports/(?P<entity>[^/]*[^0-9/][^/]*)/$", views.ImportEntityView.as_view(), name="import-entity"),
    *router.urls,
]
