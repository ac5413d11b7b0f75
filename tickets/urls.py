from django.urls import path

from . import views

app_name = "tickets"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("export/", views.queue_export, name="export"),
    path("new/", views.ticket_create, name="create"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("lookup/customers/", views.customer_lookup, name="customer_lookup"),
    path("lookup/units/", views.unit_lookup, name="unit_lookup"),
    path("lookup/assignees/", views.assignee_lookup, name="assignee_lookup"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/comment/", views.ticket_comment, name="comment"),
    path("<int:pk>/assign/", views.ticket_assign, name="assign"),
    path("<int:pk>/transition/", views.ticket_transition, name="transition"),
]
