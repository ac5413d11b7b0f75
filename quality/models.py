"""Failures traced to unit, component and supplier; recalls run unit by unit."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Batch, Component, Unit
from tickets.models import Ticket


class FailureMode(models.Model):
    """A node of the failure-mode taxonomy (a code tree)."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )

    UNCLASSIFIED = "UNCLASSIFIED"

    class Meta:
        ordering = ["code"]
        verbose_name = _("failure mode")
        verbose_name_plural = _("failure modes")

    def __str__(self):
        return f"{self.code} {self.name_en}"


class RootCauseCategory(models.TextChoices):
    PEOPLE = "people", _("People")
    PROCESS = "process", _("Process")
    TECHNOLOGY = "technology", _("Technology")
    CUSTOMER = "customer", _("Customer")
    EXTERNAL = "external", _("External")
    MATERIAL = "material", _("Material")
    DESIGN = "design", _("Design")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    SUPPLIER = "supplier", _("Supplier")
    UNKNOWN = "unknown", _("Unknown")


class Failure(models.Model):
    external_id = models.CharField(_("external ID"), max_length=64, unique=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="failures", verbose_name=_("ticket"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="failures", verbose_name=_("unit"))
    failure_mode = models.ForeignKey(
        FailureMode, on_delete=models.PROTECT, related_name="failures", verbose_name=_("failure mode")
    )
    component = models.ForeignKey(
        Component, on_delete=models.PROTECT, null=True, blank=True, related_name="failures", verbose_name=_("component")
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    repaired_at = models.DateTimeField(_("repaired at"), null=True, blank=True)
    root_cause_category = models.CharField(
        _("root-cause category"), max_length=16, choices=RootCauseCategory.choices, blank=True
    )
    labor_hours = models.DecimalField(_("labour hours"), max_digits=8, decimal_places=2, default=0)
    parts_cost = models.DecimalField(_("parts cost"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("failure")
        verbose_name_plural = _("failures")
        indexes = [
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["repaired_at"]),
            models.Index(fields=["unit", "failure_mode", "occurred_at"]),
            models.Index(fields=["component", "occurred_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(repaired_at__isnull=True) | Q(repaired_at__gte=F("occurred_at")),
                name="failure_repaired_after_occurred",
            ),
            models.CheckConstraint(
                condition=Q(labor_hours__gte=0) & Q(parts_cost__gte=0), name="failure_costs_not_negative"
            ),
        ]

    def __str__(self):
        return self.external_id


class RecallSeverity(models.TextChoices):
    CLASS_I = "class_i", _("Class I")
    CLASS_II = "class_ii", _("Class II")
    CLASS_III = "class_iii", _("Class III")


class Recall(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    title = models.CharField(_("title"), max_length=255)
    severity = models.CharField(_("severity"), max_length=10, choices=RecallSeverity.choices)
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    batches = models.ManyToManyField(Batch, related_name="recalls", verbose_name=_("batches"))

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("recall")
        verbose_name_plural = _("recalls")
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="recall_closed_after_opened",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.title}"


class RecallUnitStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    NOTIFIED = "notified", _("Notified")
    SCHEDULED = "scheduled", _("Scheduled")
    REMEDIED = "remedied", _("Remedied")
    UNREACHABLE = "unreachable", _("Unreachable")


class RecallUnit(models.Model):
    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="recall_units", verbose_name=_("recall"))
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="recall_units", verbose_name=_("unit"))
    status = models.CharField(
        _("status"), max_length=12, choices=RecallUnitStatus.choices, default=RecallUnitStatus.PENDING
    )
    remedied_at = models.DateTimeField(_("remedied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recall unit")
        verbose_name_plural = _("recall units")
        constraints = [
            models.UniqueConstraint(fields=["recall", "unit"], name="recall_unit_unique"),
            models.CheckConstraint(
                condition=~Q(status="remedied") | Q(remedied_at__isnull=False), name="recall_unit_remedied_has_time"
            ),
        ]

    def __str__(self):
        return f"{self.recall.code}/{self.unit.serial}"
