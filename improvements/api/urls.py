"""REST API of the improvement loop (/api/v1/improvements/...)."""

urlpatterns: list = []
