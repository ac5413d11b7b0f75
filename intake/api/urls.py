from rest_framework.routers import SimpleRouter

router = SimpleRouter()
# The bulk import endpoints and the import history are registered here.
urlpatterns = router.urls
