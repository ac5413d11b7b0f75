from django.urls import path

from . import alert_views as views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("badge/", views.alert_badge, name="badge"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/series/", views.alert_series, name="series"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("<int:pk>/assign/", views.alert_assign, name="assign"),
    path("<int:pk>/resolve/", views.alert_resolve, name="resolve"),
    path("<int:pk>/silence/", views.alert_silence, name="silence"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<slug:code>/", views.rule_edit, name="rule_edit"),
    path("rules/<slug:code>/replay/", views.rule_replay, name="rule_replay"),
    path("silences/", views.silence_list, name="silences"),
    path("silences/<int:pk>/expire/", views.silence_expire, name="silence_expire"),
]
