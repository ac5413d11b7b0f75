from django.urls import path

from . import views

app_name = "quality"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("home/", views.home, name="home"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("kpi/<str:code>/", views.kpi_detail, name="kpi"),
    path("kpi/<str:code>/records/", views.kpi_records, name="records"),
]
