from django.contrib import admin

from .models import Survey, Team, Ticket, TicketEvent


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "supervisor")
    search_fields = ("name",)
    filter_horizontal = ("members",)


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ("at", "actor", "kind", "from_value", "to_value", "comment", "public")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # the timeline is written by the services only


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "subject",
        "customer",
        "type",
        "channel",
        "priority",
        "status",
        "team",
        "assignee",
        "created_at",
    )
    list_filter = ("status", "type", "channel", "priority", "team", "dispatch_method")
    search_fields = ("external_id", "subject", "customer__name", "customer__external_id", "unit__serial")
    list_select_related = ("customer", "team", "assignee")
    raw_id_fields = ("customer", "unit", "assignee")
    date_hierarchy = "created_at"
    readonly_fields = ("public_id", "version", "updated_at")
    inlines = [TicketEventInline]


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("external_id", "customer", "ticket", "responded_at", "csat", "nps")
    list_filter = ("csat", "nps")
    search_fields = ("external_id", "customer__name", "ticket__external_id")
    raw_id_fields = ("customer", "ticket")
    date_hierarchy = "responded_at"
