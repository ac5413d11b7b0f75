"""The service operation: teams, tickets with their append-only timeline, surveys."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Customer, Unit


class Team(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="teams", verbose_name=_("members")
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supervised_teams",
        verbose_name=_("supervisor"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return self.name


class TicketType(models.TextChoices):
    REPAIR = "repair", _("Repair")
    COMPLAINT = "complaint", _("Complaint")
    INQUIRY = "inquiry", _("Inquiry")
    INSTALLATION = "installation", _("Installation")
    PREVENTIVE = "preventive", _("Preventive")


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    WEB = "web", _("Web")
    APP = "app", _("App")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")
    STORE = "store", _("Store")
    ONSITE = "onsite", _("On site")


class Priority(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class Status(models.TextChoices):
    NEW = "new", _("New")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING_CUSTOMER = "waiting_customer", _("Waiting for customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class DispatchMethod(models.TextChoices):
    AUTO = "auto", _("Automatic")
    MANUAL = "manual", _("Manual")


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER)


class Ticket(models.Model):
    external_id = models.CharField(_("ticket number"), max_length=64, unique=True)
    # Public identifier for customer links; the integer pk never leaves staff pages.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("customer"))
    unit = models.ForeignKey(
        Unit, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets", verbose_name=_("unit")
    )
    type = models.CharField(_("type"), max_length=16, choices=TicketType.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    subject = models.CharField(_("subject"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets", verbose_name=_("team")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    dispatch_method = models.CharField(_("dispatch method"), max_length=8, choices=DispatchMethod.choices, blank=True)
    reassignments = models.PositiveIntegerField(_("reassignments"), default=0)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("response due at"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    follow_up_at = models.DateTimeField(_("follow-up at"), null=True, blank=True)
    visits = models.PositiveIntegerField(_("visits"), default=1)
    reopened_count = models.PositiveIntegerField(_("times reopened"), default=0)
    # Optimistic locking for API edits: every applied change increments it.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["resolved_at"]),
            models.Index(fields=["assigned_at"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["unit", "created_at"]),
            models.Index(fields=["type", "created_at"]),
            models.Index(fields=["status", "resolution_due_at"]),
            models.Index(fields=["updated_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assigned_at__isnull=True) | Q(assigned_at__gte=F("created_at")),
                name="ticket_assigned_after_created",
            ),
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True) | Q(first_response_at__gte=F("created_at")),
                name="ticket_response_after_created",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("created_at")),
                name="ticket_resolved_after_created",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(resolved_at__isnull=False, closed_at__gte=F("resolved_at")),
                name="ticket_closed_after_resolved",
            ),
        ]

    def __str__(self):
        return f"{self.external_id} {self.subject}"


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    REPLY = "reply", _("Reply")
    NOTE = "note", _("Internal note")


class TicketEvent(models.Model):
    """Append-only timeline: one row per applied change, never edited or deleted."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    from_value = models.CharField(max_length=64, blank=True)
    to_value = models.CharField(max_length=64, blank=True)
    comment = models.TextField(blank=True)
    public = models.BooleanField(default=False, help_text=_("Shown to the customer on the progress page."))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self):
        return f"{self.ticket_id}:{self.kind}@{self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("ticket events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("ticket events are append-only")


class Survey(models.Model):
    external_id = models.CharField(_("external ID"), max_length=64, unique=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="surveys", verbose_name=_("ticket")
    )
    # Its own customer (METRICS.md: may differ from the ticket's).
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="surveys", verbose_name=_("customer"))
    responded_at = models.DateTimeField(_("responded at"))
    csat = models.PositiveSmallIntegerField(_("CSAT (1-5)"), null=True, blank=True)
    nps = models.PositiveSmallIntegerField(_("NPS (0-10)"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["-responded_at"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        indexes = [models.Index(fields=["responded_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5), name="survey_csat_1_5"
            ),
            models.CheckConstraint(condition=Q(nps__isnull=True) | Q(nps__gte=0, nps__lte=10), name="survey_nps_0_10"),
            models.CheckConstraint(condition=Q(csat__isnull=False) | Q(nps__isnull=False), name="survey_has_a_score"),
        ]

    def __str__(self):
        return self.external_id
