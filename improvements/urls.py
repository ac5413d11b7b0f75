"""Pages of the improvement loop (/improvements/...)."""

from django.urls import include, path

app_name = "improvements"
urlpatterns: list = [
    path("", include("improvements.review_urls")),
    path("", include("improvements.verification_urls")),
    path("", include("improvements.knowledge_urls")),
]
