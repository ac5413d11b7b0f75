from django.urls import path

from . import analysis_views as views

app_name = "analysis"
urlpatterns = [
    path("", views.index, name="index"),
    path("weibull/", views.weibull, name="weibull"),
    path("nevada/", views.nevada, name="nevada"),
    path("claims/", views.claims, name="claims"),
    path("forecast/", views.forecast, name="forecast"),
    path("pareto/", views.pareto, name="pareto"),
]
