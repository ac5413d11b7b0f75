"""Self-service metrics (自助指标) over the API: define, edit and retire user metrics.
Reading needs a login; writing needs the add/change permission of the model (quality
engineers, managers, admins). Validation is the service's: a refused definition is a
400 naming each field and its reason, and nothing is written. Once saved, a metric is
served by the /kpis/ endpoints like any catalogue KPI."""

from collections.abc import Mapping

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination, paginated

from .. import metrics, services
from ..models import MetricDefinition, MetricRecordSet

# The same choice lists as the KPI catalogue's serializer (one enum each in the schema).
KINDS = ["ratio", "mean", "count"]
DIRECTIONS = ["up", "down"]

_OPERATORS_HELP = (
    "eq, ne, in (a list, or comma-separated), lt, lte, gt, gte, isnull (true/false); which ones a field "
    "accepts depends on its type (GET /api/v1/metrics/fields/)"
)


class MetricFilterSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="a field of the record set (GET /api/v1/metrics/fields/)")
    op = serializers.CharField(help_text=_OPERATORS_HELP)
    value = serializers.JSONField(required=False, allow_null=True, help_text="parsed by the field's type")


class MetricDefinitionSerializer(serializers.ModelSerializer):
    numerator_filters = MetricFilterSerializer(many=True)
    base_filters = MetricFilterSerializer(many=True)
    kind = serializers.ChoiceField(choices=KINDS, read_only=True)
    direction = serializers.ChoiceField(choices=DIRECTIONS, read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    category = serializers.SerializerMethodField()
    custom = serializers.SerializerMethodField()
    dims = serializers.SerializerMethodField()
    values_url = serializers.SerializerMethodField()

    class Meta:
        model = MetricDefinition
        fields = [
            "code",
            "name_en",
            "name_zh",
            "description",
            "record_set",
            "kind",
            "time_field",
            "mean_field",
            "mean_start_field",
            "numerator_filters",
            "base_filters",
            "unit",
            "direction",
            "target",
            "scale",
            "active",
            "version",
            "category",
            "custom",
            "dims",
            "values_url",
            "created_by",
            "created_at",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = fields

    def get_category(self, obj) -> str:
        return "custom"

    def get_custom(self, obj) -> bool:
        return True

    def get_dims(self, obj) -> list[str]:
        record_set = metrics.RECORD_SETS.get(obj.record_set)
        return list(record_set.dims) if record_set else []

    def get_values_url(self, obj) -> str:
        return reverse("kpi-values", args=[obj.code])


class MetricDefinitionWriteSerializer(serializers.Serializer):
    """The shape of a definition; what it means is checked by the service."""

    code = serializers.CharField(max_length=64, help_text="new metrics only; fixed afterwards")
    name_en = serializers.CharField(max_length=200)
    name_zh = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    record_set = serializers.ChoiceField(choices=MetricRecordSet.choices)
    kind = serializers.ChoiceField(choices=KINDS)
    time_field = serializers.CharField(max_length=64, help_text="a date or time field placing records in P")
    mean_field = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="mean: the number to average, or the end time of a duration (with mean_start_field), in hours",
    )
    mean_start_field = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    numerator_filters = MetricFilterSerializer(many=True, required=False, default=list)
    base_filters = MetricFilterSerializer(many=True, required=False, default=list)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    direction = serializers.ChoiceField(choices=DIRECTIONS, help_text="up: higher is better; down: lower is better")
    target = serializers.FloatField(required=False, allow_null=True, default=None)
    scale = serializers.FloatField(required=False, default=1)
    active = serializers.BooleanField(required=False, default=True)


class MetricPermission(BasePermission):
    """Reading: any logged-in user. Writing: the model's add (POST) or change permission."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        action = "add" if request.method == "POST" else "change"
        return user.has_perm(f"quality.{action}_metricdefinition")


class MetricListView(APIView):
    permission_classes = [MetricPermission]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)

    @extend_schema(
        summary="Self-service metrics (自助指标)",
        parameters=[
            OpenApiParameter("active", OpenApiTypes.BOOL, description="only active (true) or retired (false) ones"),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=MetricDefinitionSerializer(many=True),
    )
    def get(self, request):
        raw = (request.query_params.get("active") or "").lower()
        active = {"true": True, "1": True, "false": False, "0": False}.get(raw)
        return paginated(request, self, metrics.metric_definition_list(active=active), MetricDefinitionSerializer)

    @extend_schema(
        summary="Define a metric",
        request=MetricDefinitionWriteSerializer,
        responses={201: MetricDefinitionSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def post(self, request):
        body = MetricDefinitionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        definition = services.metric_definition_save(create=True, user=request.user, **_service_kwargs(body))
        return Response(MetricDefinitionSerializer(definition).data, status=status.HTTP_201_CREATED)


def _service_kwargs(body: MetricDefinitionWriteSerializer) -> dict:
    data = dict(body.validated_data)
    for name in ("numerator_filters", "base_filters"):
        if name in data:
            data[name] = [dict(item) for item in data[name]]
    return data


def _current(definition: MetricDefinition) -> dict:
    """The stored definition in the service's keywords (the base of a PATCH)."""
    names = MetricDefinitionWriteSerializer().fields
    return {name: getattr(definition, name) for name in names}


class MetricDetailView(APIView):
    permission_classes = [MetricPermission]

    @extend_schema(summary="One self-service metric", responses=MetricDefinitionSerializer)
    def get(self, request, code: str):
        return Response(MetricDefinitionSerializer(metrics.metric_definition_get(code=code)).data)

    def _save(self, request, code: str, *, partial: bool):
        definition = metrics.metric_definition_get(code=code)
        if not isinstance(request.data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["A JSON object is expected."]})
        body = MetricDefinitionWriteSerializer(data={**request.data, "code": code}, partial=partial)
        body.is_valid(raise_exception=True)
        kwargs = {**(_current(definition) if partial else {}), **_service_kwargs(body), "code": code}
        definition = services.metric_definition_save(create=False, user=request.user, **kwargs)
        return Response(MetricDefinitionSerializer(definition).data)

    @extend_schema(
        summary="Replace a metric's definition (its version grows)",
        request=MetricDefinitionWriteSerializer,
        responses={200: MetricDefinitionSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def put(self, request, code: str):
        return self._save(request, code, partial=False)

    @extend_schema(
        summary="Change some fields of a metric (its version grows)",
        request=MetricDefinitionWriteSerializer(partial=True),
        responses={200: MetricDefinitionSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def patch(self, request, code: str):
        return self._save(request, code, partial=True)

    @extend_schema(
        summary="Retire a metric: it leaves the catalogue, its code and targets are kept",
        responses={204: None},
    )
    def delete(self, request, code: str):
        metrics.metric_definition_get(code=code)
        services.metric_definition_deactivate(code=code, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MetricFieldsView(APIView):
    permission_classes = [MetricPermission]

    @extend_schema(
        summary="What a metric can be built from: per record set its fields, types, operators and dimensions",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        return Response(metrics.metric_fields())
