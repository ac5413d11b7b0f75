"""REST API of the improvement loop: verification (owned by its helper)."""

urlpatterns: list = []
