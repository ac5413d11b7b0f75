"""Serializers of the reports API: input shapes are parsed here, rules live in services."""

from django.urls import reverse
from rest_framework import serializers

from ..models import GeneratedReport, ReportKind, ReportSubscription, Schedule, SubscriptionDelivery


class ReportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReportKind.choices)
    parameters = serializers.JSONField(
        help_text="quality: {start, end (exclusive), grain, filters {dimension: member}}; "
        "capa: {issue_id}; recall: {recall_id}"
    )
    language = serializers.CharField(default="en", max_length=10)


class GeneratedReportSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedReport
        fields = [
            "id",
            "kind",
            "title",
            "parameters",
            "language",
            "status",
            "progress",
            "stage",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "size",
            "pages",
            "error",
            "subscription",
            "url",
            "download_url",
            "page_url",
        ]
        read_only_fields = fields

    def get_url(self, report) -> str:
        return reverse("report-detail", args=[report.pk])

    def get_download_url(self, report) -> str | None:
        return reverse("report-download", args=[report.pk]) if report.status == "done" else None

    def get_page_url(self, report) -> str:
        return reverse("reports:detail", args=[report.pk])


class SubscriptionDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = SubscriptionDelivery
        fields = [
            "id",
            "period_start",
            "period_end",
            "status",
            "report",
            "recipients",
            "created_at",
            "sent_at",
            "error",
        ]
        read_only_fields = fields


class ReportSubscriptionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    recipients = serializers.ListField(child=serializers.CharField(max_length=254), required=False, max_length=50)
    scope = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    kind = serializers.ChoiceField(choices=ReportKind.choices, default=ReportKind.QUALITY)
    schedule = serializers.ChoiceField(choices=Schedule.choices)
    cron = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=10, default="en")
    skip_if_empty = serializers.BooleanField(default=True)
    active = serializers.BooleanField(default=True)

    class Meta:
        model = ReportSubscription
        fields = [
            "id",
            "owner",
            "name",
            "kind",
            "schedule",
            "cron",
            "scope",
            "language",
            "recipients",
            "skip_if_empty",
            "active",
            "created_at",
            "last_sent_at",
        ]
        read_only_fields = ["id", "owner", "created_at", "last_sent_at"]
