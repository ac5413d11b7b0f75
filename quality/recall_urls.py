"""Recall campaign pages; mounted at /recalls/."""

from django.urls import path

from . import recall_views as views

app_name = "recalls"
urlpatterns = [
    path("", views.recall_list, name="list"),
    path("new/", views.recall_create, name="create"),
    path("<str:code>/", views.recall_detail, name="detail"),
    path("<str:code>/edit/", views.recall_edit, name="edit"),
    path("<str:code>/transition/", views.recall_transition, name="transition"),
    path("<str:code>/units/notify/", views.recall_units_notify, name="notify"),
    path("<str:code>/units/export/", views.recall_units_export, name="export"),
    path("<str:code>/units/<int:pk>/status/", views.recall_unit_status, name="unit_status"),
    path("<str:code>/units/<int:pk>/ticket/", views.recall_unit_ticket, name="unit_ticket"),
]
