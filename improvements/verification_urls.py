"""Pages of the improvement loop: effectiveness verification (run from the issue page)."""

from django.urls import path

from . import verification_views

urlpatterns: list = [
    path("issues/<int:pk>/verifications/", verification_views.verification_run, name="verification-run"),
]
