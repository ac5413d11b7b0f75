"""Failures traced to unit, component and supplier; recalls run unit by unit."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import AppendOnlyEvent, Batch, Component, Unit
from tickets.models import Team, Ticket


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
    repair_action = models.TextField(_("repair action"), blank=True)
    # Repeat failure: the same unit had the same mode repaired within
    # REPEAT_FAILURE_WINDOW_DAYS before this one; repeat_of is that earlier repair.
    repeat_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="repeated_by",
        verbose_name=_("repeat of"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("failure")
        verbose_name_plural = _("failures")
        indexes = [
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["repaired_at"]),
            models.Index(fields=["unit", "failure_mode", "occurred_at"]),
            models.Index(fields=["unit", "occurred_at"]),
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


class FailurePart(models.Model):
    """A part used in a repair; the failure's parts_cost is the sum of quantity x cost."""

    failure = models.ForeignKey(Failure, on_delete=models.CASCADE, related_name="parts", verbose_name=_("failure"))
    part_number = models.CharField(_("part number"), max_length=64)
    component = models.ForeignKey(
        Component, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("component")
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["failure", "id"]
        verbose_name = _("part used")
        verbose_name_plural = _("parts used")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0) & Q(unit_cost__gte=0), name="failure_part_positive")
        ]

    def __str__(self):
        return f"{self.part_number} x{self.quantity}"


class RecallSeverity(models.TextChoices):
    CLASS_I = "class_i", _("Class I")
    CLASS_II = "class_ii", _("Class II")
    CLASS_III = "class_iii", _("Class III")


class RecallState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    LAUNCHED = "launched", _("Launched")
    COMPLETED = "completed", _("Completed")
    TERMINATED = "terminated", _("Terminated")


class Recall(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    title = models.CharField(_("title"), max_length=255)
    severity = models.CharField(_("severity"), max_length=10, choices=RecallSeverity.choices)
    opened_at = models.DateTimeField(_("opened at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    batches = models.ManyToManyField(Batch, related_name="recalls", verbose_name=_("batches"))
    reason = models.TextField(_("reason"), blank=True)
    remedy = models.TextField(_("remedy"), blank=True)
    # Imported campaigns are running ones; campaigns made in the product start as drafts
    # (quality.services sets it).
    state = models.CharField(_("state"), max_length=12, choices=RecallState.choices, default=RecallState.LAUNCHED)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("terminated at"), null=True, blank=True)

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


class RecallSerialRange(models.Model):
    """Part of a recall's scope: the serials from `first` to `last` inclusive, in string
    order (both of one length and prefix, e.g. SN-AC500-000100 .. SN-AC500-000199)."""

    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="serial_ranges")
    first = models.CharField(_("first serial"), max_length=64)
    last = models.CharField(_("last serial"), max_length=64)

    class Meta:
        ordering = ["recall", "first"]
        verbose_name = _("serial range")
        verbose_name_plural = _("serial ranges")
        constraints = [models.CheckConstraint(condition=Q(last__gte=F("first")), name="serial_range_ordered")]

    def __str__(self):
        return f"{self.first}..{self.last}"


class RecallEvent(AppendOnlyEvent):
    """Append-only log of a recall's state changes and scope computations."""

    recall = models.ForeignKey(Recall, on_delete=models.CASCADE, related_name="events")

    class Meta(AppendOnlyEvent.Meta):
        verbose_name = _("recall event")
        verbose_name_plural = _("recall events")

    def __str__(self):
        return f"{self.recall_id}:{self.kind}@{self.at:%Y-%m-%d %H:%M}"


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
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    scheduled_at = models.DateTimeField(_("scheduled at"), null=True, blank=True)
    unreachable_at = models.DateTimeField(_("unreachable since"), null=True, blank=True)
    # The remedy is done through a ticket linked to the recall.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="recall_units", verbose_name=_("ticket")
    )

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


class KpiTarget(models.Model):
    """A target for a KPI, optionally for one member of one dimension, valid for a
    period of time. The most specific target valid on a period's first day applies."""

    kpi = models.CharField(_("KPI"), max_length=64, db_index=True)
    dimension = models.CharField(_("dimension"), max_length=32, blank=True)
    member = models.CharField(_("member"), max_length=200, blank=True)
    value = models.FloatField(_("target"))
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid until"), null=True, blank=True, help_text=_("Exclusive; empty: open-ended."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["kpi", "dimension", "member", "-valid_from"]
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")), name="kpi_target_valid_range"
            ),
            models.CheckConstraint(
                condition=(Q(dimension="") & Q(member="")) | (~Q(dimension="") & ~Q(member="")),
                name="kpi_target_member_with_dimension",
            ),
        ]

    def __str__(self):
        scope = f" {self.dimension}={self.member}" if self.dimension else ""
        return f"{self.kpi}{scope}: {self.value}"


class KpiSnapshot(models.Model):
    """The KPI fact table: one stored value per KPI, grain, period and (at most one)
    dimension member. Refreshed by compute_kpis; read by dashboards and reports."""

    kpi = models.CharField(max_length=64)
    grain = models.CharField(max_length=8)
    period_start = models.DateField()
    dimension = models.CharField(max_length=32, blank=True)  # "" = the total
    member = models.CharField(max_length=200, blank=True)
    numerator = models.FloatField(null=True)
    denominator = models.FloatField(null=True)
    value = models.FloatField(null=True)
    provisional = models.BooleanField(default=False)
    computed_at = models.DateTimeField()
    definition_version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("KPI snapshot")
        verbose_name_plural = _("KPI snapshots")
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "grain", "dimension", "period_start", "member"], name="kpi_snapshot_unique"
            ),
        ]

    def __str__(self):
        return f"{self.kpi} {self.grain} {self.period_start} {self.dimension}={self.member}: {self.value}"


class KpiCube(models.Model):
    """The additive KPI measures by local day and single dimension member (the snapshot
    refresh's store: every stored period is a sum of these rows, so a new day costs a
    scan of that day's records). One row holds up to CUBE_SLOTS measures of one record
    set and time field; `key` names that set of measures (their SQL), so a changed
    definition is a new key, built from all history on its first refresh."""

    CUBE_SLOTS = 8

    key = models.CharField(max_length=40)
    span = models.CharField(max_length=8, default="day")  # day | month (the sum of its days)
    day = models.DateField()  # the day, or the month's first
    dimension = models.CharField(max_length=32, blank=True)  # "" = the total
    member = models.CharField(max_length=200, blank=True)
    # Exact sums: counts, durations in microseconds, decimal amounts.
    v0 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v1 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v2 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v3 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v4 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v5 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v6 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    v7 = models.DecimalField(max_digits=38, decimal_places=10, null=True)
    latest = models.DateTimeField(null=True)  # max(time) of the day's records (provisional windows)

    class Meta:
        verbose_name = _("KPI cube row")
        verbose_name_plural = _("KPI cube rows")
        indexes = [models.Index(fields=["key", "span", "dimension", "day"], name="kpi_cube_key_span_dim_day")]

    def __str__(self):
        return f"{self.key} {self.span} {self.day} {self.dimension}={self.member}"


class KpiRefreshState(models.Model):
    """One row per snapshot plan: what is covered and where the last refresh stopped
    (high-water marks of the record sets, for the incremental refresh)."""

    name = models.CharField(max_length=32, unique=True)
    covered_from = models.DateField(null=True)
    covered_to = models.DateField(null=True)  # exclusive
    last_full_at = models.DateTimeField(null=True)
    last_run_at = models.DateTimeField(null=True)
    marks = models.JSONField(default=dict)

    def __str__(self):
        return self.name


class MetricRecordSet(models.TextChoices):
    TICKETS = "tickets", _("Tickets")
    FAILURES = "failures", _("Failures")
    SURVEYS = "surveys", _("Surveys")
    UNITS = "units", _("Units")


class MetricKind(models.TextChoices):
    COUNT = "count", _("Count")
    RATIO = "ratio", _("Ratio")
    MEAN = "mean", _("Mean")


class MetricDirection(models.TextChoices):
    UP = "up", _("Higher is better")
    DOWN = "down", _("Lower is better")


class MetricDefinition(models.Model):
    """A self-service metric (自助指标): a count, ratio or mean over one record set,
    defined without code. Validated by quality.services.metric_definition_save and
    turned into a registry Kpi by quality.metrics; `version` grows with every change,
    so values stored for an older definition are not used."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    description = models.TextField(_("definition"), blank=True)
    record_set = models.CharField(_("record set"), max_length=16, choices=MetricRecordSet.choices)
    kind = models.CharField(_("kind"), max_length=8, choices=MetricKind.choices)
    time_field = models.CharField(_("time field"), max_length=64)
    mean_field = models.CharField(_("mean of"), max_length=64, blank=True)
    mean_start_field = models.CharField(_("duration start"), max_length=64, blank=True)
    numerator_filters = models.JSONField(_("numerator filters"), default=list, blank=True)
    base_filters = models.JSONField(_("base filters"), default=list, blank=True)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    direction = models.CharField(_("direction"), max_length=4, choices=MetricDirection.choices)
    target = models.FloatField(_("target"), null=True, blank=True)
    scale = models.FloatField(_("scale"), default=1)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["code"]
        verbose_name = _("self-service metric")
        verbose_name_plural = _("self-service metrics")
        constraints = [
            models.CheckConstraint(condition=Q(scale__gt=0), name="metric_definition_scale_positive"),
        ]

    def __str__(self):
        return f"{self.code} {self.name_en}"


# --- monitoring and alerts (issue 7) ------------------------------------------------------


class AlertKind(models.TextChoices):
    THRESHOLD = "threshold", _("Threshold")
    TREND = "trend", _("Trend")
    ANOMALY = "anomaly", _("Statistical anomaly")
    PROCESS = "process", _("Process")


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class AlertSchedule(models.TextChoices):
    AFTER_REFRESH = "after_refresh", _("After each KPI refresh")
    HOURLY = "hourly", _("Hourly")
    DAILY = "daily", _("Daily")


class AlertAutoAction(models.TextChoices):
    NONE = "", _("None")
    FOLLOW_UP = "follow_up", _("Create a follow-up task")
    IMPROVEMENT = "improvement", _("Draft an improvement issue")


class AlertRule(models.Model):
    """What to watch and when to alert. `kpi` is a catalogue KPI or a self-service metric
    code (blank for process rules); `filters` scope it ({dimension: member}); `split_by`
    gives one series per member of that dimension; `params` holds the condition's
    settings (validated by quality.services.alerts, documented there per kind)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=AlertKind.choices)
    kpi = models.CharField(_("KPI or metric"), max_length=64, blank=True)
    filters = models.JSONField(_("scope filters"), default=dict, blank=True)
    split_by = models.CharField(_("split by"), max_length=32, blank=True)
    grain = models.CharField(_("grain"), max_length=8, default="week")
    params = models.JSONField(_("condition"), default=dict, blank=True)
    severity = models.CharField(
        _("severity"), max_length=8, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    schedule = models.CharField(
        _("evaluation schedule"), max_length=16, choices=AlertSchedule.choices, default=AlertSchedule.AFTER_REFRESH
    )
    # Recipients: users, roles (catalog.roles names) and teams (their supervisors and members).
    recipient_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("recipient users")
    )
    recipient_roles = models.JSONField(_("recipient roles"), default=list, blank=True)
    recipient_teams = models.ManyToManyField(Team, blank=True, related_name="+", verbose_name=_("recipient teams"))
    channels = models.JSONField(_("channels"), default=list, blank=True)  # in_app, email, webhook
    renotify_minutes = models.PositiveIntegerField(_("re-notify every (minutes)"), default=1440)
    resolve_after = models.PositiveSmallIntegerField(_("resolve after clear evaluations"), default=2)
    auto_action = models.CharField(_("auto-action"), max_length=16, choices=AlertAutoAction.choices, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    last_evaluated_at = models.DateTimeField(_("last evaluated"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self):
        return self.name


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("Firing")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class Alert(models.Model):
    """One alert per (rule, member) while it is open; a later firing after resolution
    opens a new one. member_key is the canonical form of `member` ({dim: value})."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("rule"))
    member_key = models.CharField(max_length=255, blank=True)
    member = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    severity = models.CharField(_("severity"), max_length=8, choices=AlertSeverity.choices)
    period_start = models.DateField(_("period"), null=True, blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)
    baseline = models.FloatField(_("baseline"), null=True, blank=True)
    lcl = models.FloatField(_("lower limit"), null=True, blank=True)
    ucl = models.FloatField(_("upper limit"), null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    first_fired_at = models.DateTimeField(_("first fired"), default=timezone.now)
    last_fired_at = models.DateTimeField(_("last fired"), default=timezone.now)
    clear_count = models.PositiveSmallIntegerField(default=0)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_alerts",
        verbose_name=_("assignee"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    last_notified_at = models.DateTimeField(_("last notified"), null=True, blank=True)
    notifications = models.PositiveIntegerField(_("notifications sent"), default=0)

    class Meta:
        ordering = ["-last_fired_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "member_key"], condition=~Q(status="resolved"), name="one_open_alert_per_rule_member"
            )
        ]
        indexes = [models.Index(fields=["status", "severity"])]

    def __str__(self):
        return f"{self.rule_id}:{self.member_key or '-'}:{self.status}"


class AlertEvent(AppendOnlyEvent):
    """Append-only log of an alert's lifecycle (fired, notified, acknowledged, assigned,
    silenced, resolved, re-opened)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")

    class Meta(AppendOnlyEvent.Meta):
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")

    def __str__(self):
        return f"{self.alert_id}:{self.kind}@{self.at:%Y-%m-%d %H:%M}"


class AlertEvaluation(models.Model):
    """Every evaluation of a rule for a member: what was seen and decided; kept for
    ALERT_EVALUATION_RETENTION_DAYS."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="evaluations")
    member_key = models.CharField(max_length=255, blank=True)
    evaluated_at = models.DateTimeField(default=timezone.now)
    as_of = models.DateField()
    period_start = models.DateField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    lcl = models.FloatField(null=True, blank=True)
    ucl = models.FloatField(null=True, blank=True)
    decision = models.CharField(max_length=16)  # fire | clear | insufficient | silenced | error
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        verbose_name = _("alert evaluation")
        verbose_name_plural = _("alert evaluations")
        indexes = [models.Index(fields=["rule", "evaluated_at"]), models.Index(fields=["evaluated_at"])]

    def __str__(self):
        return f"{self.rule_id}:{self.member_key or '-'}@{self.as_of}:{self.decision}"


class AlertSilence(models.Model):
    """Suppresses notifications (not the evaluation log) of matching alerts in a time
    window. Blank matchers match anything; `member` matches when every given dimension
    has the given value."""

    rule = models.ForeignKey(
        AlertRule, on_delete=models.CASCADE, null=True, blank=True, related_name="silences", verbose_name=_("rule")
    )
    kpi = models.CharField(_("KPI"), max_length=64, blank=True)
    member = models.JSONField(_("member"), default=dict, blank=True)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    comment = models.TextField(_("comment"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("silence")
        verbose_name_plural = _("silences")
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="silence_ends_after_start")]

    def __str__(self):
        return f"{self.rule_id or '*'}:{self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%Y-%m-%d %H:%M}"
