from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import (
    AgentShift,
    BusinessCalendar,
    CalendarDay,
    DispatchRule,
    Notification,
    ServiceTask,
    SlaPolicy,
    Survey,
    Team,
    Ticket,
    TicketEvent,
    Webhook,
    WebhookDelivery,
    WorkingWindow,
)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "supervisor")
    search_fields = ("name",)
    filter_horizontal = ("members",)


# Dispatch (tickets.services.dispatch): rules by position, shifts per team in its calendar's zone.
@admin.register(DispatchRule)
class DispatchRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "region", "product_line", "ticket_type", "skill", "team", "active")
    list_editable = ("position", "active")
    list_filter = ("active", "team", "ticket_type", "region", "product_line")
    search_fields = ("name", "skill", "team__name")
    list_select_related = ("region", "product_line", "team")
    ordering = ("position", "id")


@admin.register(AgentShift)
class AgentShiftAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "weekday", "start", "end")
    list_filter = ("team", "weekday")
    search_fields = ("user__username", "user__first_name", "user__last_name", "team__name")
    list_select_related = ("user", "team")
    autocomplete_fields = ("user",)


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

    def has_delete_permission(self, request, obj=None):
        return False  # its timeline is append-only (the database refuses to delete it)


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("external_id", "customer", "ticket", "responded_at", "csat", "nps")
    list_filter = ("csat", "nps")
    search_fields = ("external_id", "customer__name", "ticket__external_id")
    raw_id_fields = ("customer", "ticket")
    date_hierarchy = "responded_at"


@admin.register(ServiceTask)
class ServiceTaskAdmin(admin.ModelAdmin):
    """Follow-ups and low-score callbacks; created and completed by the services."""

    list_display = ("ticket", "kind", "round", "team", "due_at", "done_at", "done_by")
    list_filter = ("kind", "team", ("done_at", admin.EmptyFieldListFilter))
    search_fields = ("ticket__external_id", "outcome")
    list_select_related = ("ticket", "team", "done_by")
    raw_id_fields = ("ticket", "done_by")
    date_hierarchy = "due_at"


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Notifications are written by tickets.services.notification_send; the admin reads them."""

    list_display = ("created_at", "recipient", "kind", "title", "urgent", "deliver_after", "read_at", "email_status")
    list_filter = ("kind", "urgent", "email_status", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "recipient__username", "dedupe_key")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "recipient",
        "kind",
        "title",
        "body",
        "url",
        "payload",
        "urgent",
        "dedupe_key",
        "created_at",
        "deliver_after",
        "read_at",
        "email_status",
        "emailed_at",
        "email_attempts",
    )

    def has_add_permission(self, request):
        return False


class WebhookDeliveryInline(admin.TabularInline):
    """The delivery log, read-only; the full, filterable log is the Webhook deliveries page."""

    model = WebhookDelivery
    extra = 0
    max_num = 0
    can_delete = False
    classes = ("collapse",)
    fields = ("created_at", "kind", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at")
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "kinds", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    inlines = [WebhookDeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "webhook", "kind", "status", "attempts", "last_status_code", "next_attempt_at")
    list_filter = ("status", "webhook", "kind")
    search_fields = ("dedupe_key", "last_error")
    list_select_related = ("webhook",)
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = (
        "webhook",
        "kind",
        "dedupe_key",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
        "payload",
    )

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send the selected deliveries again"))
    def retry(self, request, queryset):
        count = services.webhook_deliveries_retry(delivery_ids=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count)
            % {"count": count},
        )


# --- SLA (issue 5): calendars with their windows and days, policies -------------------


class WorkingWindowInline(admin.TabularInline):
    model = WorkingWindow
    extra = 0


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    fields = ("date", "kind", "name", "works_like", "source")
    ordering = ("-date",)


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "holiday_country", "is_default")
    search_fields = ("name",)
    inlines = [WorkingWindowInline, CalendarDayInline]
    actions = ["prefill_holidays"]

    def save_formset(self, request, form, formset, change):
        # A day added or edited here is the admin's decision: a later prefill leaves it
        # alone (save(commit=False) returns only the added and changed rows).
        instances = formset.save(commit=False)
        for obj in instances:
            if isinstance(obj, CalendarDay):
                obj.source = "manual"
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()

    @admin.action(description=_("Prefill holidays (this year and the next) from the holidays library"))
    def prefill_holidays(self, request, queryset):
        from django.utils import timezone

        year = timezone.localdate().year
        written = 0
        for calendar in queryset:
            written += services.calendar_holidays_prefill(calendar=calendar, years=[year, year + 1])
        self.message_user(
            request, ngettext("%(count)d day written.", "%(count)d days written.", written) % {"count": written}
        )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "priority",
        "ticket_type",
        "segment",
        "product_line",
        "region",
        "response_minutes",
        "resolution_minutes",
        "calendar",
        "active",
    )
    list_filter = ("active", "priority", "ticket_type", "segment", "calendar")
    search_fields = ("name",)
