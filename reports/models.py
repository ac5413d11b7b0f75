"""PDF reports: the archive of generated reports (who, when, which parameters) and the
subscriptions that send them on a schedule, with their delivery log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReportKind(models.TextChoices):
    QUALITY = "quality", _("Management quality report")
    CAPA = "capa", _("8D / CAPA report")
    RECALL = "recall", _("Recall status report")


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class GeneratedReport(models.Model):
    """One generated (or queued) PDF. `parameters` holds what defines it: the period
    (start, end exclusive), grain and scope filters of a quality report, the issue of a
    CAPA report, the recall of a recall report."""

    kind = models.CharField(_("kind"), max_length=12, choices=ReportKind.choices)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    title = models.CharField(_("title"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("progress"), default=0)  # percent
    stage = models.CharField(_("stage"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="reports/%Y/%m/", blank=True)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Set when a subscription produced it.
    subscription = models.ForeignKey(
        "ReportSubscription", on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("generated report")
        verbose_name_plural = _("generated reports")
        indexes = [models.Index(fields=["status", "requested_at"]), models.Index(fields=["kind", "requested_at"])]

    def __str__(self):
        return f"{self.kind}:{self.pk}:{self.status}"


class Schedule(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    CRON = "cron", _("Cron expression")


class ReportSubscription(models.Model):
    """A user's standing order: a report kind, a scope, a language, recipients and a
    schedule (weekly: the previous ISO week; monthly: the previous month; cron: the
    period since the previous run). Its django-celery-beat task (`periodic_task`) runs
    the delivery job; a delivery per (subscription, period) is sent once."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=ReportKind.choices, default=ReportKind.QUALITY)
    schedule = models.CharField(_("schedule"), max_length=8, choices=Schedule.choices, default=Schedule.MONTHLY)
    cron = models.CharField(_("cron expression"), max_length=100, blank=True)  # "m h dom mon dow"
    scope = models.JSONField(_("scope"), default=dict, blank=True)  # dashboard filters {dim: member}
    language = models.CharField(_("language"), max_length=10, default="en")
    recipients = models.JSONField(_("recipients"), default=list, blank=True)  # e-mail addresses
    skip_if_empty = models.BooleanField(_("skip if empty"), default=True)
    active = models.BooleanField(_("active"), default=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)

    class Meta:
        ordering = ["owner", "name"]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        constraints = [
            models.CheckConstraint(condition=~Q(schedule="cron") | ~Q(cron=""), name="cron_subscription_has_cron"),
        ]

    def __str__(self):
        return self.name


class DeliveryStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped (empty)")
    FAILED = "failed", _("Failed")
    PENDING = "pending", _("Pending")


class SubscriptionDelivery(models.Model):
    """The delivery log: one row per subscription and reported period. The unique
    constraint makes a second run of the job for the same period a no-op."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="deliveries")
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    status = models.CharField(_("status"), max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    report = models.ForeignKey(GeneratedReport, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    recipients = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("subscription delivery")
        verbose_name_plural = _("subscription deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_start", "period_end"], name="one_delivery_per_period"
            )
        ]

    def __str__(self):
        return f"{self.subscription_id}:{self.period_start}:{self.status}"
