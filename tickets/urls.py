from django.urls import path

from . import followup_views, notification_views, supervisor_views, views

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
    path("supervisor/", supervisor_views.supervisor_home, name="supervisor"),
    path("supervisor/<int:pk>/assign/", supervisor_views.supervisor_assign, name="supervisor_assign"),
    path("<int:pk>/tasks/<int:task_id>/complete/", followup_views.task_complete, name="task_complete"),
    path("<int:pk>/links/revoke/", followup_views.links_revoke, name="links_revoke"),
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/badge/", notification_views.notification_badge, name="notification_badge"),
    path("notifications/read-all/", notification_views.notification_read_all, name="notification_read_all"),
    path("notifications/<int:pk>/open/", notification_views.notification_open, name="notification_open"),
    path("notifications/<int:pk>/read/", notification_views.notification_read, name="notification_read"),
]
