"""REST API of the improvement loop: reviews (owned by its helper)."""

urlpatterns: list = []
