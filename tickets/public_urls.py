"""Customer pages behind signed links (no login), included at /c/."""

from django.urls import path

from . import public_views

app_name = "customer"
urlpatterns = [
    path("p/<str:token>/", public_views.progress, name="progress"),
    path("s/<str:token>/", public_views.survey, name="survey"),
]
