from django.urls import path, re_path

from . import views

app_name = "intake"
urlpatterns = [
    path("", views.upload, name="upload"),
    re_path(r"^uploads/(?P<token>[0-9a-f]{32})/$", views.preview, name="preview"),
    path("templates/<str:entity>.csv", views.template_csv, name="template_csv"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("runs/<int:pk>/errors.csv", views.run_errors_csv, name="run_errors_csv"),
    path("runs/<int:pk>/import/", views.run_import_for_real, name="run_import"),
    path("quality/", views.quality, name="quality"),
    path("profiles/", views.profile_list, name="profile_list"),
    path("profiles/new/", views.profile_create, name="profile_create"),
    path("profiles/<int:pk>/", views.profile_edit, name="profile_edit"),
]
