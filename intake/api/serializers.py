from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from intake.models import ENTITY_CHOICES, ImportMode, ImportRowError, ImportRun, ImportStatus

MAX_ROWS = 10_000
DETAIL_ERRORS = 1_000
_SCALARS = (str, int, float, bool, type(None))


class ImportQuerySerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.STRICT)
    dry_run = serializers.BooleanField(default=False)


class ImportRowsSerializer(serializers.Serializer):
    """Input: the request body is a JSON array of row objects (the template's columns),
    wrapped by the view as {"rows": body}. Cells are scalars (string, number, boolean, null)."""

    rows = serializers.JSONField()

    def validate_rows(self, rows):
        if not isinstance(rows, list):
            raise serializers.ValidationError(_("Send a JSON array of row objects."))
        if not rows:
            raise serializers.ValidationError(_("The array is empty: send at least one row."))
        if len(rows) > MAX_ROWS:
            raise serializers.ValidationError(
                _("At most %(max)s rows per request; this one has %(count)s. Send them in several requests.")
                % {"max": f"{MAX_ROWS:,}", "count": f"{len(rows):,}"}
            )
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise serializers.ValidationError(
                    _("Row %(row)s is not a JSON object of column: value.") % {"row": number}
                )
            for column, value in row.items():
                if not isinstance(value, _SCALARS):
                    raise serializers.ValidationError(
                        _("Row %(row)s, column %(column)s: a cell must be a string, number, boolean or null.")
                        % {"row": number, "column": column}
                    )
        return rows


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["row", "column", "value", "reason"]


class ImportSummarySerializer(serializers.Serializer):
    """The `import_data --json` object (INTERFACES.md), with the engine's extensions:
    unchanged (rows already stored as given), status and warnings."""

    entity = serializers.CharField()
    file = serializers.CharField()
    mode = serializers.ChoiceField(choices=ImportMode.choices)
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = ImportRowErrorSerializer(many=True)
    unchanged = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    warnings = serializers.ListField(child=serializers.CharField())


class ImportResultSerializer(ImportSummarySerializer):
    """The answer to a bulk import: the summary, plus the run's id."""

    id = serializers.IntegerField()


class ImportRejectedSerializer(serializers.Serializer):
    """400 of a bulk import that strict mode rejected (nothing was written)."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    # Absent when the input itself is malformed (no row was read).
    summary = ImportResultSerializer(required=False)


class ImportRunSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True, default=None)
    profile = serializers.CharField(source="profile.name", read_only=True, default=None)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ImportRun
        fields = [
            "id",
            "entity",
            "file_name",
            "mode",
            "dry_run",
            "source",
            "profile",
            "user",
            "status",
            "rows",
            "created",
            "updated",
            "rejected",
            "warnings",
            "message",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]


class ImportRunDetailSerializer(ImportRunSerializer):
    """A run with its rejected rows: the first DETAIL_ERRORS of them, and how many there are.
    The view passes the run's errors queryset as context["errors"]."""

    error_count = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()

    class Meta(ImportRunSerializer.Meta):
        fields = [*ImportRunSerializer.Meta.fields, "error_count", "errors"]

    def get_error_count(self, run) -> int:
        return self.context["errors"].count()

    @extend_schema_field(ImportRowErrorSerializer(many=True))
    def get_errors(self, run):
        return ImportRowErrorSerializer(self.context["errors"][:DETAIL_ERRORS], many=True).data


# --- data-quality report (intake.selectors.data_quality_report) -------------------------------


class DataQualityQuerySerializer(serializers.Serializer):
    entity = serializers.ChoiceField(choices=ENTITY_CHOICES, required=False, allow_blank=True)
    window_days = serializers.IntegerField(min_value=1, max_value=366, default=30)


class DqColumnSerializer(serializers.Serializer):
    column = serializers.CharField()
    required = serializers.BooleanField()
    filled = serializers.IntegerField()
    percent = serializers.FloatField(allow_null=True)


class DqSourceValiditySerializer(serializers.Serializer):
    source = serializers.CharField()
    runs = serializers.IntegerField()
    rows = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejection_rate = serializers.FloatField(allow_null=True)


class DqColumnCountSerializer(serializers.Serializer):
    column = serializers.CharField()
    count = serializers.IntegerField()


class DqValiditySerializer(serializers.Serializer):
    runs = serializers.IntegerField()
    rows = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejection_rate = serializers.FloatField(allow_null=True)
    by_source = DqSourceValiditySerializer(many=True)
    top_columns = DqColumnCountSerializer(many=True)


class DqSourceFreshnessSerializer(serializers.Serializer):
    source = serializers.CharField()
    last_import = serializers.DateTimeField()
    age_hours = serializers.FloatField()
    stale = serializers.BooleanField()


class DqFreshnessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["fresh", "stale", "never_imported", "no_data"])
    last_import = serializers.DateTimeField(allow_null=True)
    age_hours = serializers.FloatField(allow_null=True)
    by_source = DqSourceFreshnessSerializer(many=True)


class DqDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    written = serializers.IntegerField()


class DqScorePartsSerializer(serializers.Serializer):
    completeness = serializers.FloatField(allow_null=True)
    validity = serializers.FloatField(allow_null=True)
    freshness = serializers.FloatField(allow_null=True)


class DqEntitySerializer(serializers.Serializer):
    entity = serializers.CharField()
    records = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True)
    score_parts = DqScorePartsSerializer()
    completeness = DqColumnSerializer(many=True)
    validity = DqValiditySerializer()
    broken_references = DqColumnCountSerializer(many=True)
    duplicate_keys_rejected = serializers.IntegerField()
    freshness = DqFreshnessSerializer()
    volume = DqDaySerializer(many=True)
    volume_total = serializers.IntegerField()
    volume_max = serializers.IntegerField()


class DqGroupsSerializer(serializers.Serializer):
    groups = serializers.IntegerField()
    records = serializers.IntegerField()


class DqDuplicateCustomersSerializer(serializers.Serializer):
    phone = DqGroupsSerializer()
    name_city = DqGroupsSerializer()


class DqWeightsSerializer(serializers.Serializer):
    completeness = serializers.FloatField()
    validity = serializers.FloatField()
    freshness = serializers.FloatField()


class DataQualityReportSerializer(serializers.Serializer):
    window_days = serializers.IntegerField()
    since = serializers.DateField()
    until = serializers.DateField()
    generated_at = serializers.DateTimeField()
    freshness_hours = serializers.IntegerField()
    weights = DqWeightsSerializer()
    entities = DqEntitySerializer(many=True)
    duplicate_customers = DqDuplicateCustomersSerializer(allow_null=True)
