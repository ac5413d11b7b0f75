"""Pages of the improvement loop: review (owned by its helper)."""

urlpatterns: list = []
