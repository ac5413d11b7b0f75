from django.urls import path

from . import trace_views as views

app_name = "trace"
urlpatterns = [
    path("", views.index, name="index"),
    path("units/<str:serial>/", views.unit_history, name="unit"),
    path("modes/<str:code>/", views.mode_detail, name="mode"),
    path("batches/<str:code>/", views.batch_detail, name="batch"),
    path("suppliers/<str:code>/", views.supplier_detail, name="supplier"),
    path("tickets/<int:pk>/failures/", views.failure_record, name="failure_record"),
    path("failures/<int:pk>/delete/", views.failure_delete, name="failure_delete"),
]
