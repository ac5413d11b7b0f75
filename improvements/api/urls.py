"""REST API of the improvement loop (/api/v1/...)."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("improvements.api.reviews")),
    path("", include("improvements.api.verification")),
]
