"""Closed-loop improvement: the problem (an improvement issue), its root-cause analysis
(fishbone causes with 5-why chains), its actions, the quality committee's reviews and
the data-based verification of the fix."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from catalog.models import AppendOnlyEvent, Batch, Component, ProductLine, ProductModel, Region, Supplier
from quality.models import Alert, Failure, FailureMode, Recall
from tickets.models import Survey, Team, Ticket


class Source(models.TextChoices):
    ALERT = "alert", _("Alert")
    TICKET_CLUSTER = "ticket_cluster", _("Ticket cluster")
    MANUAL = "manual", _("Manual")
    AUDIT = "audit", _("Audit")
    CUSTOMER_VOICE = "customer_voice", _("Customer voice")


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    TRIAGE = "triage", _("Triage")
    CONTAINMENT = "containment", _("Containment")
    ROOT_CAUSE = "root_cause", _("Root cause")
    ACTION_PLAN = "action_plan", _("Action plan")
    IMPLEMENTATION = "implementation", _("Implementation")
    VERIFICATION = "verification", _("Verification")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


# The working phases, in order; each has a `<phase>_days` column on the issue holding
# the time spent in it (summed over every visit): the closure waterfall.
PHASES = (
    State.DRAFT,
    State.TRIAGE,
    State.CONTAINMENT,
    State.ROOT_CAUSE,
    State.ACTION_PLAN,
    State.IMPLEMENTATION,
    State.VERIFICATION,
)


class FishboneSet(models.Model):
    """A configurable set of fishbone categories (the default five, the 6M)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)
    # [{"code": "people", "name_en": "People", "name_zh": "人员"}, ...] in display order
    categories = models.JSONField(_("categories"), default=list)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["-is_default", "code"]
        verbose_name = _("fishbone category set")
        verbose_name_plural = _("fishbone category sets")

    def __str__(self):
        return self.code


class ImprovementIssue(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_improvements",
        verbose_name=_("owner"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="improvements", verbose_name=_("team")
    )
    # Scope
    product_line = models.ForeignKey(
        ProductLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("product line")
    )
    product_model = models.ForeignKey(
        ProductModel, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("product model")
    )
    batches = models.ManyToManyField(Batch, blank=True, related_name="improvements", verbose_name=_("batches"))
    component = models.ForeignKey(
        Component, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("component")
    )
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("supplier")
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("region")
    )
    failure_mode = models.ForeignKey(
        FailureMode, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("failure mode")
    )
    # The earliest evidence (kept as the minimum over the linked records' times).
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    # Evidence
    tickets = models.ManyToManyField(Ticket, blank=True, related_name="improvements", verbose_name=_("tickets"))
    failures = models.ManyToManyField(Failure, blank=True, related_name="improvements", verbose_name=_("failures"))
    alerts = models.ManyToManyField(Alert, blank=True, related_name="improvements", verbose_name=_("alerts"))
    surveys = models.ManyToManyField(Survey, blank=True, related_name="improvements", verbose_name=_("surveys"))
    recalls = models.ManyToManyField(Recall, blank=True, related_name="improvements", verbose_name=_("recalls"))
    # The KPI the problem is measured by, and its value when the issue was opened.
    baseline_kpi = models.CharField(_("baseline KPI"), max_length=64, blank=True)
    baseline_filters = models.JSONField(_("baseline scope"), default=dict, blank=True)
    baseline_start = models.DateField(_("baseline from"), null=True, blank=True)
    baseline_end = models.DateField(_("baseline to"), null=True, blank=True)
    baseline_value = models.FloatField(_("baseline value"), null=True, blank=True)
    fishbone_set = models.ForeignKey(
        FishboneSet, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("fishbone set")
    )
    plan_approved_at = models.DateTimeField(_("plan approved at"), null=True, blank=True)
    plan_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Closing without an effective verification needs the committee's override.
    override_reason = models.TextField(_("override reason"), blank=True)
    # Why the issue was rejected, cancelled or reopened last.
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    state_entered_at = models.DateTimeField(_("in this state since"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    reopen_count = models.PositiveIntegerField(_("reopened"), default=0)
    # PDCA loops: a verification judged not effective sends the issue back to root cause.
    loop_count = models.PositiveIntegerField(_("analysis loops"), default=0)
    # Recurrence watch after closure (the same failure mode in the same scope).
    watch_until = models.DateTimeField(_("watched until"), null=True, blank=True)
    recurrence_at = models.DateTimeField(_("recurrence seen at"), null=True, blank=True)
    # Days spent in each phase, summed over visits (the closure waterfall).
    draft_days = models.FloatField(default=0)
    triage_days = models.FloatField(default=0)
    containment_days = models.FloatField(default=0)
    root_cause_days = models.FloatField(default=0)
    action_plan_days = models.FloatField(default=0)
    implementation_days = models.FloatField(default=0)
    verification_days = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("improvement issue")
        verbose_name_plural = _("improvement issues")
        indexes = [
            models.Index(fields=["state", "severity"]),
            models.Index(fields=["closed_at"]),
            models.Index(fields=["failure_mode", "state"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("detected_at")),
                name="improvement_closed_after_detected",
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.title}"


class ImprovementEvent(AppendOnlyEvent):
    """Append-only log of an issue: transitions, analysis, actions, reviews, verifications."""

    issue = models.ForeignKey(ImprovementIssue, on_delete=models.CASCADE, related_name="events")

    class Meta(AppendOnlyEvent.Meta):
        verbose_name = _("improvement event")
        verbose_name_plural = _("improvement events")

    def __str__(self):
        return f"{self.issue_id}:{self.kind}@{self.at:%Y-%m-%d %H:%M}"


class Cause(models.Model):
    """A cause on the fishbone (category of the issue's set); verified causes carry evidence."""

    issue = models.ForeignKey(ImprovementIssue, on_delete=models.CASCADE, related_name="causes")
    category = models.CharField(_("category"), max_length=32)
    description = models.TextField(_("description"))
    verified = models.BooleanField(_("verified"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    evidence = models.TextField(_("evidence"), blank=True)
    evidence_failures = models.ManyToManyField(Failure, blank=True, related_name="+", verbose_name=_("failures"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["issue", "id"]
        verbose_name = _("cause")
        verbose_name_plural = _("causes")
        constraints = [
            models.CheckConstraint(condition=Q(verified=False) | ~Q(evidence=""), name="verified_cause_has_evidence"),
        ]

    def __str__(self):
        return f"{self.category}: {self.description[:40]}"


class Why(models.Model):
    """One step of a cause's 5-why chain (position 1 is the first "why?")."""

    cause = models.ForeignKey(Cause, on_delete=models.CASCADE, related_name="whys")
    position = models.PositiveSmallIntegerField(_("position"))
    text = models.TextField(_("answer"))

    class Meta:
        ordering = ["cause", "position"]
        verbose_name = _("why")
        verbose_name_plural = _("whys")
        constraints = [models.UniqueConstraint(fields=["cause", "position"], name="one_why_per_position")]

    def __str__(self):
        return f"{self.position}. {self.text[:40]}"


class ActionKind(models.TextChoices):
    CONTAINMENT = "containment", _("Containment")
    CORRECTIVE = "corrective", _("Corrective")
    PREVENTIVE = "preventive", pgettext_lazy("action kind", "Preventive")
    SYSTEMIC = "systemic", _("Systemic")


class ActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Action(models.Model):
    """`due_on` is the original due date, frozen at creation (on-time figures count
    against it, METRICS.md); `current_due_on` moves, each change logged with a reason."""

    issue = models.ForeignKey(ImprovementIssue, on_delete=models.CASCADE, related_name="actions")
    cause = models.ForeignKey(
        Cause, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions", verbose_name=_("cause")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=ActionKind.choices)
    title = models.CharField(_("title"), max_length=255)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="improvement_actions", verbose_name=_("owner")
    )
    due_on = models.DateField(_("original due date"))
    current_due_on = models.DateField(_("due date"))
    status = models.CharField(_("status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN)
    completed_on = models.DateField(_("completed on"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completion_evidence = models.TextField(_("completion evidence"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The daily job's marks: one reminder and one escalation per day at most.
    reminded_on = models.DateField(null=True, blank=True)
    escalated_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["current_due_on", "id"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        indexes = [
            models.Index(fields=["status", "current_due_on"]),
            models.Index(fields=["due_on"]),
            models.Index(fields=["owner", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="done", completed_on__isnull=False)
                | (~Q(status="done") & Q(completed_on__isnull=True)),
                name="action_done_has_completion_date",
            ),
        ]

    def __str__(self):
        return self.title


class ActionEvent(AppendOnlyEvent):
    """Append-only log of an action: created, due date moved (with the reason), status."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="events")

    class Meta(AppendOnlyEvent.Meta):
        verbose_name = _("action event")
        verbose_name_plural = _("action events")

    def __str__(self):
        return f"{self.action_id}:{self.kind}@{self.at:%Y-%m-%d %H:%M}"


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    HELD = "held", _("Held")


class ReviewMeeting(models.Model):
    title = models.CharField(_("title"), max_length=255)
    held_on = models.DateField(_("date"))
    location = models.CharField(_("location"), max_length=255, blank=True)
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("chair"),
    )
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="review_meetings", verbose_name=_("attendees")
    )
    status = models.CharField(_("status"), max_length=8, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED)
    minutes = models.TextField(_("minutes"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("review meeting")
        verbose_name_plural = _("review meetings")

    def __str__(self):
        return f"{self.held_on} {self.title}"


class AgendaKind(models.TextChoices):
    NEW_PROBLEM = "new_problem", _("New problem in triage")
    OVERDUE_ACTION = "overdue_action", _("Overdue action")
    AWAITING_VERIFICATION = "awaiting_verification", _("Awaiting verification")
    CRITICAL_ALERT = "critical_alert", _("Open critical alert")
    PLAN_APPROVAL = "plan_approval", _("Plan for approval")
    OTHER = "other", _("Other")


class Decision(models.TextChoices):
    APPROVE_PLAN = "approve_plan", _("Approve plan")
    MORE_ANALYSIS = "more_analysis", _("More analysis")
    ACCEPT_VERIFICATION = "accept_verification", _("Accept verification")
    CLOSE = "close", _("Close")
    REOPEN = "reopen", _("Reopen")
    NOTED = "noted", _("Noted")


class AgendaItem(models.Model):
    """One point of a meeting's agenda. An item with a decision has been discussed; each
    meeting that discussed an issue is one review cycle of that issue (METRICS.md)."""

    meeting = models.ForeignKey(ReviewMeeting, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=24, choices=AgendaKind.choices)
    issue = models.ForeignKey(
        ImprovementIssue, on_delete=models.CASCADE, null=True, blank=True, related_name="agenda_items"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, null=True, blank=True, related_name="agenda_items")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="agenda_items")
    decision = models.CharField(_("decision"), max_length=24, choices=Decision.choices, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["meeting", "position", "id"]
        verbose_name = _("agenda item")
        verbose_name_plural = _("agenda items")
        indexes = [models.Index(fields=["issue", "decision"])]

    def __str__(self):
        return f"{self.meeting_id}:{self.position}:{self.kind}"


class TestKind(models.TextChoices):
    POISSON = "poisson_rate_ratio", _("Poisson rate ratio")
    TWO_PROPORTION = "two_proportion", _("Two-proportion test")


class Verdict(models.TextChoices):
    EFFECTIVE = "effective", _("Effective")
    PARTIAL = "partial", _("Partially effective")
    NOT_EFFECTIVE = "not_effective", _("Not effective")


class Verification(models.Model):
    """An effectiveness check: one KPI in one scope, a before and an after window
    (`[start, end)` dates), optionally a control group; the test's figures and the
    verdict computed from them."""

    issue = models.ForeignKey(ImprovementIssue, on_delete=models.CASCADE, related_name="verifications")
    kpi = models.CharField(_("KPI"), max_length=64)
    filters = models.JSONField(_("scope"), default=dict, blank=True)
    control_filters = models.JSONField(_("control group"), null=True, blank=True)
    before_start = models.DateField(_("before from"))
    before_end = models.DateField(_("before to"))
    after_start = models.DateField(_("after from"))
    after_end = models.DateField(_("after to"))
    test = models.CharField(_("test"), max_length=20, choices=TestKind.choices)
    alpha = models.FloatField(_("significance level"), default=0.05)
    min_effect = models.FloatField(_("minimum improvement"), default=0.2)  # relative, 0.2 = 20 %
    before_numerator = models.FloatField(default=0)
    before_denominator = models.FloatField(default=0)
    after_numerator = models.FloatField(default=0)
    after_denominator = models.FloatField(default=0)
    # Control group's figures (same windows), when a control group was chosen.
    control = models.JSONField(default=dict, blank=True)
    before_value = models.FloatField(_("before"), null=True, blank=True)
    after_value = models.FloatField(_("after"), null=True, blank=True)
    effect = models.FloatField(_("effect"), null=True, blank=True)  # rate ratio or difference
    relative_change = models.FloatField(_("relative change"), null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(_("p-value"), null=True, blank=True)
    verdict = models.CharField(_("verdict"), max_length=16, choices=Verdict.choices)
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("effectiveness verification")
        verbose_name_plural = _("effectiveness verifications")
        constraints = [
            models.CheckConstraint(
                condition=Q(before_end__gt=F("before_start")) & Q(after_end__gt=F("after_start")),
                name="verification_windows_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.issue_id}:{self.kpi}:{self.verdict}"
