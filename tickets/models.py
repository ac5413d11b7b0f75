"""The service operation: teams, tickets with their append-only timeline, surveys."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import AppendOnlyEvent, Customer, ProductLine, Region, Segment, Unit


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class BusinessCalendar(models.Model):
    """Working time of a team: weekly windows in its own time zone, minus holidays,
    plus make-up working days (调休). SLA clocks and quiet hours run on it."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    # Whose public holidays the prefill takes from the `holidays` library (ISO 3166 code).
    holiday_country = models.CharField(_("holiday country"), max_length=8, blank=True, default="CN")
    # Used by policies and people without a team calendar.
    is_default = models.BooleanField(_("default calendar"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar")
        ]

    def __str__(self):
        return self.name


class WorkingWindow(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="windows")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        verbose_name = _("working window")
        verbose_name_plural = _("working windows")
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="window_ends_after_start")]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday")
    WORKDAY = "workday", _("Make-up working day")


class CalendarDaySource(models.TextChoices):
    LIBRARY = "library", _("Holiday library")
    MANUAL = "manual", _("Edited by hand")


class CalendarDay(models.Model):
    """An exception to the weekly windows: a day off, or a working day (调休) that works
    like `works_like`. Hand-edited rows are never overwritten by a prefill."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=8, choices=CalendarDayKind.choices)
    name = models.CharField(_("name"), max_length=120, blank=True)
    works_like = models.PositiveSmallIntegerField(
        _("works like"), choices=Weekday.choices, default=Weekday.MONDAY, help_text=_("For make-up working days.")
    )
    source = models.CharField(
        _("source"), max_length=8, choices=CalendarDaySource.choices, default=CalendarDaySource.MANUAL
    )

    class Meta:
        ordering = ["calendar", "date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="one_entry_per_calendar_day")]

    def __str__(self):
        return f"{self.date} {self.get_kind_display()}"


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
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="teams",
        verbose_name=_("business calendar"),
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


class SlaPolicy(models.Model):
    """Targets in business minutes for the tickets it matches. Blank criteria match
    anything; among the active policies that match, the most specific wins (see
    tickets.services.sla for the exact rule)."""

    name = models.CharField(_("name"), max_length=120)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, blank=True)
    ticket_type = models.CharField(_("ticket type"), max_length=16, choices=TicketType.choices, blank=True)
    segment = models.CharField(_("customer segment"), max_length=16, choices=Segment.choices, blank=True)
    product_line = models.ForeignKey(
        ProductLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("product line")
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("region")
    )
    response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))
    # Blank: the ticket team's calendar, else the default calendar.
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        verbose_name=_("business calendar"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(response_minutes__gt=0, resolution_minutes__gt=0), name="sla_targets_positive"
            )
        ]

    def __str__(self):
        return self.name


class SlaDueSource(models.TextChoices):
    POLICY = "policy", _("SLA policy")
    IMPORT = "import", _("Imported")


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER)


class Ticket(models.Model):
    external_id = models.CharField(_("ticket number"), max_length=64, unique=True)
    # Public identifier for customer links; the integer pk never leaves staff pages.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The four foreign keys below are served by the composite indexes of Meta (their
    # leading column); their own single-column indexes would only slow down inserts.
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("customer"), db_index=False
    )
    unit = models.ForeignKey(
        Unit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("unit"),
        db_index=False,
    )
    type = models.CharField(_("type"), max_length=16, choices=TicketType.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    subject = models.CharField(_("subject"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("team"),
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
        db_index=False,
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
    # SLA clock. Due times come from the policy (recomputed from elapsed business time on
    # a change of priority or policy) or from an import; paused business minutes move
    # them on; sla_next_check_at is when the escalation sweep must next look at it.
    # No index: only deleting a policy looks tickets up by it (deactivate instead).
    sla_policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("SLA policy"),
        db_index=False,
    )
    sla_due_source = models.CharField(_("due times from"), max_length=8, choices=SlaDueSource.choices, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    sla_paused_minutes = models.PositiveIntegerField(_("SLA paused (business minutes)"), default=0)
    sla_next_check_at = models.DateTimeField(null=True, blank=True)
    # Routing tag for dispatch rules (e.g. "compressor", "installation-high-rise").
    skill = models.CharField(_("skill tag"), max_length=64, blank=True)
    # Customer links carry it; raising it revokes every link given out before.
    link_version = models.PositiveIntegerField(default=1)
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
            # The sweep reads only the tickets with a pending SLA checkpoint.
            models.Index(
                fields=["sla_next_check_at"], name="ticket_sla_next_check", condition=Q(sla_next_check_at__isnull=False)
            ),
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
    CUSTOMER_REPLY = "customer_reply", _("Customer reply")
    PRIORITY = "priority", _("Priority changed")
    SLA = "sla", _("SLA")
    ESCALATED = "escalated", _("Escalated")
    FOLLOW_UP = "follow_up", _("Follow-up")
    SURVEY = "survey", _("Survey")


class TicketEvent(AppendOnlyEvent):
    """Append-only timeline: one row per applied change, never edited or deleted."""

    # Served by the (ticket, at) index.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    public = models.BooleanField(default=False, help_text=_("Shown to the customer on the progress page."))

    class Meta(AppendOnlyEvent.Meta):
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "at"])]

    def __str__(self):
        return f"{self.ticket_id}:{self.kind}@{self.at:%Y-%m-%d %H:%M}"


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
    # Answers through the survey link may be changed for a while; this is the last change.
    changed_at = models.DateTimeField(_("changed at"), null=True, blank=True)

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


class SlaTarget(models.TextChoices):
    RESPONSE = "response", _("First response")
    RESOLUTION = "resolution", _("Resolution")


class EscalationLevel(models.IntegerChoices):
    AT_RISK = 1, _("At risk")
    BREACHED = 2, _("Breached")
    LONG_BREACHED = 3, _("Breached for long")


class Escalation(models.Model):
    """One row per level reached, at most once per ticket and target (the unique
    constraint makes a second sweep, or a retried one, a no-op)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    target = models.CharField(_("target"), max_length=16, choices=SlaTarget.choices)
    level = models.PositiveSmallIntegerField(_("level"), choices=EscalationLevel.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    due_at = models.DateTimeField(_("due at"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [models.UniqueConstraint(fields=["ticket", "target", "level"], name="one_escalation_per_level")]
        indexes = [models.Index(fields=["at"])]

    def __str__(self):
        return f"{self.ticket_id}:{self.target}:L{self.level}"


class EmailStatus(models.TextChoices):
    NONE = "none", _("No e-mail")
    PENDING = "pending", _("Waiting")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Notification(models.Model):
    """An in-app notice (the bell) and, optionally, its e-mail. Any app sends through
    tickets.services.notification_send; dedupe_key makes a repeated send a no-op."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=64)
    title = models.CharField(_("title"), max_length=255)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    dedupe_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Non-urgent notices wait for the recipient's working hours.
    deliver_after = models.DateTimeField(_("deliver after"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_status = models.CharField(_("e-mail"), max_length=8, choices=EmailStatus.choices, default=EmailStatus.NONE)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["recipient", "read_at", "deliver_after"]),
            models.Index(fields=["email_status", "deliver_after"]),
        ]

    def __str__(self):
        return f"{self.recipient_id}:{self.kind}"


class Webhook(models.Model):
    """An outbound endpoint: JSON payloads signed with HMAC-SHA256 of the body."""

    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("secret"), max_length=128)
    # Notification kinds it receives (e.g. ["sla.breached"]); empty: all of them.
    kinds = models.JSONField(_("kinds"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self):
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """The delivery log: one row per webhook and event, retried with backoff."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(_("kind"), max_length=64)
    payload = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["webhook", "dedupe_key"], name="one_delivery_per_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.webhook_id}:{self.kind}:{self.status}"


class DispatchRule(models.Model):
    """Routes a new ticket to a team. Rules are tried by position; the first whose
    non-blank criteria all match wins."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=100)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("region")
    )
    product_line = models.ForeignKey(
        ProductLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("product line")
    )
    ticket_type = models.CharField(_("ticket type"), max_length=16, choices=TicketType.choices, blank=True)
    skill = models.CharField(_("skill tag"), max_length=64, blank=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="dispatch_rules", verbose_name=_("team"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("dispatch rule")
        verbose_name_plural = _("dispatch rules")

    def __str__(self):
        return self.name


class AgentShift(models.Model):
    """When an agent is on shift for a team, in the team calendar's time zone. A team
    without shifts counts every member as on shift during its working time."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="shifts", verbose_name=_("team"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts", verbose_name=_("agent")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["team", "user", "weekday", "start"]
        verbose_name = _("shift")
        verbose_name_plural = _("shifts")
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="shift_ends_after_start")]

    def __str__(self):
        return f"{self.user_id}@{self.team_id} {self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class TaskKind(models.TextChoices):
    FOLLOW_UP = "follow_up", _("Follow-up (回访)")
    CALLBACK = "callback", _("Low-score callback")


class ServiceTask(models.Model):
    """Work owed to the customer after a resolution: the follow-up due FOLLOW_UP_HOURS
    after it, and a supervisor's callback after a low CSAT. One per ticket, kind and
    resolution round (reopened_count when it was created)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="service_tasks")
    kind = models.CharField(_("kind"), max_length=16, choices=TaskKind.choices)
    round = models.PositiveSmallIntegerField(default=0)
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="service_tasks", verbose_name=_("team")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    due_at = models.DateTimeField(_("due at"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("done by"),
    )
    outcome = models.TextField(_("outcome"), blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("service task")
        verbose_name_plural = _("service tasks")
        constraints = [models.UniqueConstraint(fields=["ticket", "kind", "round"], name="one_task_per_round")]
        indexes = [models.Index(fields=["kind", "done_at", "due_at"])]

    def __str__(self):
        return f"{self.ticket_id}:{self.kind}:{self.round}"
