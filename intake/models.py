"""Import history and mapping profiles (DATA_CONTRACT.md). An ImportRun is one file (or
one API batch) of one entity; its rejected rows are ImportRowError rows."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# The contract's entities, in import order (references point only backwards).
ENTITY_ORDER = (
    "customers",
    "product_models",
    "suppliers",
    "components",
    "batches",
    "units",
    "tickets",
    "failures",
    "surveys",
    "recalls",
    "recall_units",
)
ENTITY_CHOICES = [(name, name) for name in ENTITY_ORDER]


class ImportMode(models.TextChoices):
    STRICT = "strict", _("Strict: one bad row rejects the file")
    LENIENT = "lenient", _("Lenient: write the good rows, report the bad ones")


class MappingProfile(models.Model):
    """How one source system's files translate into the standard template."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    source_system = models.CharField(_("source system"), max_length=120, blank=True)
    entity = models.CharField(
        _("entity"), max_length=20, choices=ENTITY_CHOICES, blank=True, help_text=_("Blank: usable for every entity.")
    )
    # {"source header": "contract column"}; headers are matched case-insensitively, trimmed.
    column_map = models.JSONField(_("column renames"), default=dict, blank=True)
    # {"contract column": {"source value": "contract value"}}, e.g. {"channel": {"微信": "wechat"}}.
    value_map = models.JSONField(_("value maps"), default=dict, blank=True)
    # strptime formats tried before ISO 8601, e.g. ["%Y/%m/%d %H:%M", "%d.%m.%Y"].
    datetime_formats = models.JSONField(_("date formats"), default=list, blank=True)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("For timestamps without an offset; blank: the site's time zone."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mapping profile")
        verbose_name_plural = _("mapping profiles")

    def __str__(self):
        return self.name


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Written")
    REJECTED = "rejected", _("Rejected (strict)")
    DRY_RUN = "dry_run", _("Checked (dry run)")
    FAILED = "failed", _("Failed")


class ImportSource(models.TextChoices):
    COMMAND = "command", _("Command")
    WEB = "web", _("Web upload")
    API = "api", _("API")


class ImportRun(models.Model):
    entity = models.CharField(_("entity"), max_length=20, choices=ENTITY_CHOICES)
    file_name = models.CharField(_("file"), max_length=255, blank=True)
    # An uploaded file's place under MEDIA_ROOT (imports/<uuid>/<name>), so a checked file
    # can be imported for real later; blank for command and API runs.
    stored_file = models.CharField(_("stored file"), max_length=500, blank=True, editable=False)
    mode = models.CharField(_("mode"), max_length=8, choices=ImportMode.choices, default=ImportMode.STRICT)
    dry_run = models.BooleanField(_("dry run"), default=False)
    source = models.CharField(_("source"), max_length=8, choices=ImportSource.choices, default=ImportSource.COMMAND)
    profile = models.ForeignKey(
        MappingProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="runs",
        verbose_name=_("mapping profile"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    # Rows read so far (progress bar) and the last row committed (resumable checkpoint).
    processed = models.PositiveIntegerField(default=0)
    checkpoint_row = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(_("warnings"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        indexes = [models.Index(fields=["entity", "started_at"])]

    def __str__(self):
        return f"{self.entity} {self.file_name} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RowErrorCode(models.TextChoices):
    """What kind of problem a rejected row has, independent of the language its reason
    was written in (the data-quality report counts by it)."""

    FILE = "file", _("File cannot be imported")
    SHAPE = "shape", _("Malformed row")
    REQUIRED = "required", _("Required value missing")
    INVALID_TEXT = "invalid_text", _("Invalid text or code")
    INVALID_NUMBER = "invalid_number", _("Invalid number")
    OUT_OF_RANGE = "out_of_range", _("Number out of range")
    INVALID_DATE = "invalid_date", _("Invalid date")
    INVALID_TIMESTAMP = "invalid_timestamp", _("Invalid timestamp")
    INVALID_BOOLEAN = "invalid_boolean", _("Invalid yes/no value")
    INVALID_ENUM = "invalid_enum", _("Value not allowed")
    UNKNOWN_REFERENCE = "unknown_reference", _("Unknown reference")
    DUPLICATE_KEY = "duplicate_key", _("Duplicate key")
    DUPLICATE_COLUMN = "duplicate_column", _("Column given twice")
    RULE = "rule", _("Cross-field rule broken")
    DATABASE = "database", _("Refused by the database")
    OTHER = "other", _("Other")


class ImportRowError(models.Model):
    """One reason a row was rejected: DATA_CONTRACT's file, row, column, value, reason;
    `code` classifies the reason (the reason itself is in the importing user's language)."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveIntegerField(_("row"))  # 1 = first data row; 0 = the file itself
    column = models.CharField(_("column"), max_length=120, blank=True)
    value = models.TextField(_("value"), blank=True)
    reason = models.CharField(_("reason"), max_length=500)
    code = models.CharField(_("code"), max_length=20, choices=RowErrorCode.choices, default=RowErrorCode.OTHER)

    class Meta:
        ordering = ["row", "id"]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        indexes = [models.Index(fields=["run", "row"])]

    def __str__(self):
        return f"row {self.row} {self.column}: {self.reason}"
