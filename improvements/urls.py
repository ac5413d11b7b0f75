"""Pages of the improvement loop (/improvements/...)."""

from django.urls import include, path

from . import views

app_name = "improvements"
urlpatterns: list = [
    path("", views.board, name="board"),
    path("issues/new/", views.issue_create, name="issue-create"),
    path("issues/new/from-alert/", views.issue_from_alert, name="issue-from-alert"),
    path("issues/new/from-records/", views.issue_from_records, name="issue-from-records"),
    path("issues/<int:pk>/", views.issue_detail, name="issue-detail"),
    path("issues/<int:pk>/edit/", views.issue_edit, name="issue-edit"),
    path("issues/<int:pk>/transition/", views.issue_transition, name="issue-transition"),
    path("issues/<int:pk>/reopen/", views.issue_reopen, name="issue-reopen"),
    path("issues/<int:pk>/approve/", views.issue_plan_approve, name="issue-approve"),
    path("issues/<int:pk>/evidence/", views.issue_evidence, name="issue-evidence"),
    path("issues/<int:pk>/causes/", views.cause_add, name="cause-add"),
    path("issues/<int:pk>/actions/", views.action_add, name="action-add"),
    path("causes/<int:pk>/verify/", views.cause_verify, name="cause-verify"),
    path("causes/<int:pk>/unverify/", views.cause_unverify, name="cause-unverify"),
    path("causes/<int:pk>/whys/", views.cause_whys, name="cause-whys"),
    path("causes/<int:pk>/delete/", views.cause_delete, name="cause-delete"),
    path("causes/<int:pk>/recall/", views.cause_recall, name="cause-recall"),
    path("actions/mine/", views.my_actions, name="my-actions"),
    path("actions/<int:pk>/due-date/", views.action_due, name="action-due"),
    path("actions/<int:pk>/status/", views.action_status, name="action-status"),
    path("", include("improvements.review_urls")),
    path("", include("improvements.verification_urls")),
    path("", include("improvements.knowledge_urls")),
]
