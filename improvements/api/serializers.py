"""Serializers of the improvement API: rows out, request bodies in (parsing only; the
services validate the domain and answer 400/409)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.api.fields import IdField
from catalog.models import Batch, Component, ProductLine, ProductModel, Region, Supplier
from quality.models import FailureMode
from tickets.models import Team

from .. import selectors
from ..models import Action, ActionKind, ActionStatus, Cause, ImprovementIssue, Severity, Source
from ..services import allowed_transitions


def _ids(**kwargs):
    return serializers.ListField(child=IdField(), required=False, default=list, max_length=5000, **kwargs)


def _slug(queryset, field: str, **kwargs):
    return serializers.SlugRelatedField(slug_field=field, queryset=queryset, required=False, allow_null=True, **kwargs)


# --- out ---------------------------------------------------------------------------------


class ImprovementIssueSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    team = serializers.CharField(source="team.name", allow_null=True, default=None)
    product_line = serializers.CharField(source="product_line.code", allow_null=True, default=None)
    product_model = serializers.CharField(source="product_model.code", allow_null=True, default=None)
    open_actions = serializers.IntegerField(read_only=True)
    overdue_actions = serializers.IntegerField(read_only=True)
    verified_causes = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImprovementIssue
        fields = [
            "id",
            "code",
            "title",
            "state",
            "severity",
            "source",
            "owner",
            "team",
            "product_line",
            "product_model",
            "detected_at",
            "created_at",
            "state_entered_at",
            "closed_at",
            "open_actions",
            "overdue_actions",
            "verified_causes",
        ]
        read_only_fields = fields


class ImprovementCauseSerializer(serializers.ModelSerializer):
    verified_by = serializers.CharField(source="verified_by.username", allow_null=True, default=None)
    evidence_failures = serializers.SerializerMethodField()
    whys = serializers.SerializerMethodField()

    class Meta:
        model = Cause
        fields = [
            "id",
            "category",
            "description",
            "verified",
            "verified_at",
            "verified_by",
            "evidence",
            "evidence_failures",
            "whys",
        ]
        read_only_fields = fields

    def get_evidence_failures(self, obj) -> list[int]:
        return [failure.pk for failure in obj.evidence_failures.all()]

    def get_whys(self, obj) -> list[str]:
        return [why.text for why in obj.whys.all()]


class ImprovementActionSerializer(serializers.ModelSerializer):
    issue_code = serializers.CharField(source="issue.code", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    cause = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Action
        fields = [
            "id",
            "issue",
            "issue_code",
            "cause",
            "kind",
            "title",
            "description",
            "owner",
            "due_on",
            "current_due_on",
            "status",
            "completed_on",
            "completed_at",
            "completion_evidence",
            "created_at",
        ]
        read_only_fields = fields


class ImprovementIssueEvidenceIdsSerializer(serializers.Serializer):
    tickets = serializers.ListField(child=serializers.IntegerField())
    failures = serializers.ListField(child=serializers.IntegerField())
    alerts = serializers.ListField(child=serializers.IntegerField())
    surveys = serializers.ListField(child=serializers.IntegerField())


class ImprovementIssuePhaseSerializer(serializers.Serializer):
    phase = serializers.CharField()
    days = serializers.FloatField(help_text="days spent in the phase, summed over visits")
    running = serializers.FloatField(help_text="days in the phase the issue is in now (not yet counted)")


class ImprovementIssueDetailSerializer(ImprovementIssueSerializer):
    batches = serializers.SerializerMethodField()
    component = serializers.CharField(source="component.code", allow_null=True, default=None)
    supplier = serializers.CharField(source="supplier.code", allow_null=True, default=None)
    region = serializers.CharField(source="region.name", allow_null=True, default=None)
    failure_mode = serializers.CharField(source="failure_mode.code", allow_null=True, default=None)
    fishbone_set = serializers.CharField(source="fishbone_set.code", allow_null=True, default=None)
    plan_approved_by = serializers.CharField(source="plan_approved_by.username", allow_null=True, default=None)
    evidence = serializers.SerializerMethodField()
    recalls = serializers.SerializerMethodField()
    phase_days = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()
    causes = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta(ImprovementIssueSerializer.Meta):
        fields = [
            *ImprovementIssueSerializer.Meta.fields,
            "description",
            "batches",
            "component",
            "supplier",
            "region",
            "failure_mode",
            "fishbone_set",
            "baseline_kpi",
            "baseline_filters",
            "baseline_start",
            "baseline_end",
            "baseline_value",
            "plan_approved_at",
            "plan_approved_by",
            "override_reason",
            "reason",
            "reopen_count",
            "loop_count",
            "watch_until",
            "recurrence_at",
            "evidence",
            "recalls",
            "phase_days",
            "allowed_transitions",
            "causes",
            "actions",
        ]
        read_only_fields = fields

    def get_batches(self, obj) -> list[str]:
        return list(obj.batches.order_by("code").values_list("code", flat=True))

    @extend_schema_field(ImprovementIssueEvidenceIdsSerializer)
    def get_evidence(self, obj) -> dict:
        return {
            name: sorted(getattr(obj, name).values_list("pk", flat=True))
            for name in ("tickets", "failures", "alerts", "surveys")
        }

    def get_recalls(self, obj) -> list[str]:
        return list(obj.recalls.order_by("code").values_list("code", flat=True))

    @extend_schema_field(ImprovementIssuePhaseSerializer(many=True))
    def get_phase_days(self, obj) -> list[dict]:
        return [
            {"phase": row["phase"], "days": row["days"], "running": row["running"]}
            for row in selectors.issue_phase_days(obj)
        ]

    def get_allowed_transitions(self, obj) -> list[str]:
        return allowed_transitions(obj)

    @extend_schema_field(ImprovementCauseSerializer(many=True))
    def get_causes(self, obj) -> list[dict]:
        return ImprovementCauseSerializer(selectors.issue_causes(obj), many=True).data

    @extend_schema_field(ImprovementActionSerializer(many=True))
    def get_actions(self, obj) -> list[dict]:
        actions = obj.actions.select_related("issue", "owner").order_by("current_due_on", "id")
        return ImprovementActionSerializer(actions, many=True).data


# --- in ----------------------------------------------------------------------------------


def _users():
    return get_user_model().objects.filter(is_active=True)


class ImprovementIssueScopeSerializer(serializers.Serializer):
    """Scope and people by their codes (usernames, team and region names)."""

    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    owner = _slug(_users(), "username")
    team = _slug(Team.objects.all(), "name")
    product_line = _slug(ProductLine.objects.all(), "code")
    product_model = _slug(ProductModel.objects.all(), "code")
    batches = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=500)
    component = _slug(Component.objects.all(), "code")
    supplier = _slug(Supplier.objects.all(), "code")
    region = _slug(Region.objects.all(), "name")
    failure_mode = _slug(FailureMode.objects.all(), "code")
    baseline_kpi = serializers.CharField(required=False, allow_blank=True, max_length=64)
    baseline_filters = serializers.DictField(required=False)

    def validate_batches(self, codes):
        found = {b.code: b for b in Batch.objects.filter(code__in=codes)}
        missing = [code for code in codes if code not in found]
        if missing:
            raise serializers.ValidationError(f"not found: {', '.join(missing[:10])}")
        return [found[code] for code in codes]


class ImprovementIssueCreateSerializer(ImprovementIssueScopeSerializer):
    title = serializers.CharField(max_length=255)
    source = serializers.ChoiceField(choices=Source.choices, required=False, default=Source.MANUAL)
    tickets = _ids(help_text="ticket ids")
    failures = _ids(help_text="failure ids")
    alerts = _ids(help_text="alert ids")
    surveys = _ids(help_text="survey ids")


class ImprovementIssuePatchSerializer(ImprovementIssueScopeSerializer):
    title = serializers.CharField(max_length=255, required=False)


class ImprovementIssueTransitionSerializer(serializers.Serializer):
    state = serializers.CharField(max_length=32)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=4000,
        help_text="closing without an effective verification (committee)",
    )


class ImprovementReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=4000)


class ImprovementIssueEvidenceSerializer(serializers.Serializer):
    tickets = _ids()
    failures = _ids()
    alerts = _ids()
    surveys = _ids()


class ImprovementIssueFromAlertSerializer(serializers.Serializer):
    alert = serializers.IntegerField(min_value=1)
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class ImprovementIssueFromRecordsSerializer(serializers.Serializer):
    tickets = _ids(help_text="ticket ids")
    failures = _ids(help_text="failure ids")
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, default=Severity.MAJOR)


class ImprovementCauseCreateSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=32)
    description = serializers.CharField(max_length=4000)


class ImprovementCausePatchSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=32, required=False)
    description = serializers.CharField(max_length=4000, required=False)


class ImprovementCauseVerifySerializer(serializers.Serializer):
    evidence = serializers.CharField(allow_blank=True, max_length=8000)
    failure_ids = _ids()


class ImprovementCauseWhysSerializer(serializers.Serializer):
    whys = serializers.ListField(child=serializers.CharField(allow_blank=True, max_length=2000), max_length=20)


class ImprovementCauseRecallSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    severity = serializers.CharField(required=False, default="class_ii", max_length=16)


class ImprovementActionCreateSerializer(serializers.Serializer):
    issue = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=ActionKind.choices)
    title = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    owner = serializers.SlugRelatedField(slug_field="username", queryset=_users())
    due_on = serializers.DateField()
    cause = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)


class ImprovementActionPatchSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    owner = serializers.SlugRelatedField(slug_field="username", queryset=_users(), required=False)


class ImprovementActionDueDateSerializer(serializers.Serializer):
    due_on = serializers.DateField()
    reason = serializers.CharField(allow_blank=True, max_length=2000)


class ImprovementActionStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    evidence = serializers.CharField(required=False, allow_blank=True, default="", max_length=8000)
    completed_on = serializers.DateField(required=False, allow_null=True, default=None)
