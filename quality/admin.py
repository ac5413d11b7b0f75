from django.contrib import admin

from .models import Failure, FailureMode, FailurePart, Recall, RecallUnit


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


@admin.register(RecallUnit)
class RecallUnitAdmin(admin.ModelAdmin):
    list_display = ("recall", "unit", "status", "remedied_at")
    list_filter = ("status", "recall")
    search_fields = ("unit__serial", "recall__code")
    raw_id_fields = ("unit",)
