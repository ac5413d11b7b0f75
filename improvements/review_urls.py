"""Pages of the improvement loop: review meetings (included under the "improvements" namespace)."""

from django.urls import path

from . import review_views as views

urlpatterns: list = [
    path("meetings/", views.meeting_list, name="meeting-list"),
    path("meetings/new/", views.meeting_new, name="meeting-create"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting-detail"),
    path("meetings/<int:pk>/agenda/", views.meeting_agenda, name="meeting-agenda"),
    path("meetings/<int:pk>/items/", views.meeting_item_add, name="meeting-item-add"),
    path("meetings/<int:pk>/items/<int:item_pk>/decision/", views.meeting_item_decide, name="meeting-item-decide"),
    path("meetings/<int:pk>/held/", views.meeting_mark_held, name="meeting-hold"),
    path("meetings/<int:pk>/minutes.pdf", views.meeting_minutes_download, name="meeting-minutes-pdf"),
]
