"""Admin: the fishbone category sets are configured here; issues, actions and meetings
are read here and changed through their pages (the services keep the gate and the logs)."""

from django.contrib import admin

from .models import Action, FishboneSet, ImprovementIssue, ReviewMeeting


@admin.register(FishboneSet)
class FishboneSetAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh", "is_default")
    search_fields = ("code", "name_en", "name_zh")


class _ReadOnly(admin.ModelAdmin):
    """State changes bypassing the gate would leave no event: the pages make them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImprovementIssue)
class ImprovementIssueAdmin(_ReadOnly):
    list_display = ("code", "title", "state", "severity", "owner", "detected_at", "closed_at")
    list_filter = ("state", "severity", "source")
    search_fields = ("code", "title")


@admin.register(Action)
class ActionAdmin(_ReadOnly):
    list_display = ("title", "issue", "kind", "owner", "due_on", "current_due_on", "status", "completed_on")
    list_filter = ("kind", "status")
    search_fields = ("title", "issue__code")


@admin.register(ReviewMeeting)
class ReviewMeetingAdmin(_ReadOnly):
    list_display = ("held_on", "title", "status", "chair")
    list_filter = ("status",)
