"""Pages of the improvement loop: knowledge (owned by its helper)."""

urlpatterns: list = []
