from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("units", views.UnitViewSet, basename="unit")
router.register("product-models", views.ProductModelViewSet, basename="productmodel")
router.register("batches", views.BatchViewSet, basename="batch")
urlpatterns = router.urls
