"""Effectiveness verification and the knowledge base over the API:
POST /api/v1/improvement-issues/{pk}/verifications/ (run one; add_verification),
GET the same path (the issue's verifications), GET /api/v1/improvement-knowledge/
(closed issues with root cause, actions and verified effect). Thin: the service
validates (400 with the reasons by field, 409 for an issue that is not open); an issue
out of the user's scope is a 404."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination, paginated

from .. import services
from ..knowledge import knowledge_search
from ..models import Verification
from ..selectors import issue_get

RUN_PERM = "improvements.add_verification"
READ_PERM = "improvements.view_improvementissue"


class VerificationSerializer(serializers.ModelSerializer):
    issue = serializers.CharField(source="issue.code", read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = Verification
        fields = [
            "id",
            "issue",
            "kpi",
            "filters",
            "control_filters",
            "before_start",
            "before_end",
            "after_start",
            "after_end",
            "test",
            "alpha",
            "min_effect",
            "before_numerator",
            "before_denominator",
            "after_numerator",
            "after_denominator",
            "control",
            "before_value",
            "after_value",
            "effect",
            "relative_change",
            "ci_low",
            "ci_high",
            "p_value",
            "verdict",
            "comment",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields


class VerificationRunSerializer(serializers.Serializer):
    kpi = serializers.CharField(max_length=64)
    filters = serializers.DictField(child=serializers.CharField(max_length=128), required=False, default=dict)
    control_filters = serializers.DictField(
        child=serializers.CharField(max_length=128), required=False, allow_null=True, default=None
    )
    before_start = serializers.DateField()
    before_end = serializers.DateField(help_text="exclusive")
    after_start = serializers.DateField()
    after_end = serializers.DateField(help_text="exclusive; not after tomorrow")
    alpha = serializers.FloatField(required=False, default=0.05)
    min_effect = serializers.FloatField(required=False, default=0.2, help_text="relative: 0.2 = 20 %")
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class IssueVerificationsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="The issue's effectiveness verifications, newest first", responses=VerificationSerializer(many=True)
    )
    def get(self, request, pk: int):
        issue = issue_get(user=request.user, pk=pk)
        rows = issue.verifications.select_related("issue", "created_by").order_by("-created_at", "-id")
        return Response(VerificationSerializer(rows, many=True).data)

    @extend_schema(
        summary="Run an effectiveness verification (a not-effective verdict in verification loops back)",
        request=VerificationRunSerializer,
        responses={201: VerificationSerializer, 400: OpenApiResponse(description="bad input, by field")},
    )
    def post(self, request, pk: int):
        issue = issue_get(user=request.user, pk=pk)
        if not request.user.has_perm(RUN_PERM):
            raise PermissionDenied()
        data = VerificationRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        verification = services.verification_run(issue_id=issue.pk, actor=request.user, **data.validated_data)
        return Response(VerificationSerializer(verification).data, status=status.HTTP_201_CREATED)


class KnowledgeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.CharField()
    failure_mode = serializers.CharField(source="failure_mode.code", default=None)
    component = serializers.CharField(source="component.code", default=None)
    product_model = serializers.CharField(source="product_model.code", default=None)
    product_line = serializers.CharField(source="product_line.code", default=None)
    detected_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField()
    root_causes = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    verification = serializers.SerializerMethodField()

    def get_root_causes(self, obj) -> list[dict]:
        return [{"category": c.category, "description": c.description, "evidence": c.evidence} for c in obj.root_causes]

    def get_actions(self, obj) -> list[dict]:
        return [
            {"kind": a.kind, "title": a.title, "status": a.status, "completed_on": a.completed_on}
            for a in obj.kept_actions
        ]

    def get_verification(self, obj) -> dict | None:
        if not obj.verdict:
            return None
        return {
            "kpi": obj.verified_kpi,
            "verdict": obj.verdict,
            "before_value": obj.verified_before,
            "after_value": obj.verified_after,
            "p_value": obj.verified_p,
        }


class KnowledgeView(APIView):
    permission_classes = [IsAuthenticated]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)

    @extend_schema(
        summary="The knowledge base: closed issues with root cause, actions and verified effect",
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="keywords (title, description, causes, actions)"),
            OpenApiParameter("failure_mode", OpenApiTypes.STR, description="code"),
            OpenApiParameter("component", OpenApiTypes.STR, description="code"),
            OpenApiParameter("product_model", OpenApiTypes.STR, description="code"),
            OpenApiParameter("product_line", OpenApiTypes.STR, description="code"),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=KnowledgeSerializer(many=True),
    )
    def get(self, request):
        if not request.user.has_perm(READ_PERM):
            raise PermissionDenied()
        params = request.query_params
        issues = knowledge_search(
            q=params.get("q", "")[:200],
            failure_mode=params.get("failure_mode") or None,
            component=params.get("component") or None,
            product_model=params.get("product_model") or None,
            product_line=params.get("product_line") or None,
            user=request.user,
        )
        return paginated(request, self, issues, KnowledgeSerializer)


urlpatterns: list = [
    path(
        "improvement-issues/<int:pk>/verifications/",
        IssueVerificationsView.as_view(),
        name="improvement-issue-verifications",
    ),
    path("improvement-knowledge/", KnowledgeView.as_view(), name="improvement-knowledge"),
]
