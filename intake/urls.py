app_name = "intake"
# The upload page, import history and data-quality pages are routed here.
urlpatterns: list = []
