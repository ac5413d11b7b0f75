from django.contrib import admin

from .models import GeneratedReport, ReportSubscription, SubscriptionDelivery


@admin.register(GeneratedReport)
class GeneratedReportAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "title", "language", "status", "progress", "requested_by", "requested_at", "pages")
    list_filter = ("kind", "status", "language")
    search_fields = ("title", "requested_by__username")
    raw_id_fields = ("requested_by", "subscription")
    readonly_fields = ("started_at", "finished_at", "size", "pages", "error")


class DeliveryInline(admin.TabularInline):
    model = SubscriptionDelivery
    extra = 0
    fields = ("period_start", "period_end", "status", "sent_at", "recipients", "error", "report")
    readonly_fields = fields
    can_delete = False


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    """Edits here do not resync the beat task: use the subscription pages or the API."""

    list_display = ("name", "owner", "schedule", "cron", "language", "active", "last_sent_at")
    list_filter = ("schedule", "active", "language")
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner", "periodic_task")
    inlines = [DeliveryInline]
