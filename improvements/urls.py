"""Pages of the improvement loop (/improvements/...)."""

app_name = "improvements"
urlpatterns: list = []
