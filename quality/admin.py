from django.contrib import admin

from .models import (
    Alert,
    AlertEvaluation,
    AlertEvent,
    AlertRule,
    AlertSilence,
    Failure,
    FailureMode,
    FailurePart,
    Recall,
    RecallUnit,
)


@admin.register(FailureMode)
class FailureModeAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_zh", "parent")
    list_filter = ("parent",)
    search_fields = ("code", "name_en", "name_zh")


class FailurePartInline(admin.TabularInline):
    model = FailurePart
    extra = 0
    raw_id_fields = ("component",)


@admin.register(Failure)
class FailureAdmin(admin.ModelAdmin):
    inlines = [FailurePartInline]
    list_display = (
        "external_id",
        "unit",
        "failure_mode",
        "component",
        "occurred_at",
        "repaired_at",
        "root_cause_category",
        "labor_hours",
        "parts_cost",
    )
    list_filter = ("failure_mode", "root_cause_category", "component__supplier")
    search_fields = ("external_id", "unit__serial", "ticket__external_id")
    list_select_related = ("unit", "failure_mode", "component")
    raw_id_fields = ("ticket", "unit", "repeat_of")
    date_hierarchy = "occurred_at"


class RecallUnitInline(admin.TabularInline):
    model = RecallUnit
    extra = 0
    raw_id_fields = ("unit",)


@admin.register(Recall)
class RecallAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "severity", "opened_at", "closed_at")
    list_filter = ("severity",)
    search_fields = ("code", "title")
    filter_horizontal = ("batches",)
    inlines = [RecallUnitInline]

    def has_delete_permission(self, request, obj=None):
        return False  # its events are append-only (the database refuses to delete them)


@admin.register(RecallUnit)
class RecallUnitAdmin(admin.ModelAdmin):
    list_display = ("recall", "unit", "status", "remedied_at")
    list_filter = ("status", "recall")
    search_fields = ("unit__serial", "recall__code")
    raw_id_fields = ("unit",)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "kpi", "split_by", "grain", "severity", "schedule", "active")
    list_filter = ("kind", "severity", "schedule", "active")
    search_fields = ("code", "name", "kpi")
    filter_horizontal = ("recipient_users", "recipient_teams")
    readonly_fields = ("created_at", "updated_at", "last_evaluated_at")

    def has_delete_permission(self, request, obj=None):
        # A rule's alerts and their append-only events would go with it: switch it off.
        return False


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "kind", "actor", "from_value", "to_value", "comment")

    def has_add_permission(self, request, obj=None):
        return False  # append-only: written by quality.services.alerts


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-mostly: the lifecycle goes through the services (alert centre, API)."""

    list_display = ("rule", "member_key", "status", "severity", "period_start", "value", "last_fired_at")
    list_filter = ("status", "severity", "rule")
    search_fields = ("member_key", "rule__code")
    inlines = [AlertEventInline]
    readonly_fields = [f.name for f in Alert._meta.fields if f.name != "assignee"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # its events are append-only (the database refuses to delete them)


@admin.register(AlertEvaluation)
class AlertEvaluationAdmin(admin.ModelAdmin):
    list_display = ("rule", "member_key", "as_of", "period_start", "value", "baseline", "decision", "evaluated_at")
    list_filter = ("decision", "rule")
    date_hierarchy = "evaluated_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AlertSilence)
class AlertSilenceAdmin(admin.ModelAdmin):
    list_display = ("rule", "kpi", "member", "starts_at", "ends_at", "created_by")
    list_filter = ("rule",)
