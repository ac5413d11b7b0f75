"""Recall campaigns over the API (issue 6). Reading: quality engineers, committee
members, managers, admins (agents and supervisors: 403). Writing: add/change_recall,
change_recallunit (quality engineers, admins). Thin: the service validates (400 with
the reasons by field, 409 for a move the state does not allow)."""

from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination, choice_params, paginated

from .. import recall_selectors as selectors
from .. import services
from ..models import Recall, RecallSeverity, RecallState, RecallUnit, RecallUnitStatus


class RecallPermission(BasePermission):
    """Reading needs a global-read role; writing the permission the view names."""

    def has_permission(self, request, view):
        user = request.user
        if not selectors.recalls_readable(user):
            return False
        if request.method in SAFE_METHODS:
            return True
        return user.has_perm(getattr(view, "write_perm", selectors.CHANGE_PERM))


class SerialRangeSerializer(serializers.Serializer):
    first = serializers.CharField(max_length=64)
    last = serializers.CharField(max_length=64)


class RecallSerializer(serializers.ModelSerializer):
    severity = serializers.ChoiceField(choices=RecallSeverity.choices)
    state = serializers.ChoiceField(choices=RecallState.choices)
    batches = serializers.SerializerMethodField()
    serial_ranges = serializers.SerializerMethodField()
    affected = serializers.IntegerField(read_only=True)
    remedied = serializers.IntegerField(read_only=True)

    class Meta:
        model = Recall
        fields = [
            "code",
            "title",
            "severity",
            "state",
            "reason",
            "remedy",
            "opened_at",
            "approved_at",
            "launched_at",
            "completed_at",
            "terminated_at",
            "closed_at",
            "batches",
            "serial_ranges",
            "affected",
            "remedied",
        ]
        read_only_fields = fields

    def get_batches(self, obj) -> list[str]:
        return [batch.code for batch in obj.batches.all()]

    def get_serial_ranges(self, obj) -> list[dict]:
        return [{"first": r.first, "last": r.last} for r in obj.serial_ranges.all()]


class CurvePointSerializer(serializers.Serializer):
    week = serializers.IntegerField(help_text="1 = the first 7 days after launch")
    remedied = serializers.IntegerField(help_text="cumulative")
    share = serializers.FloatField(allow_null=True, help_text="cumulative remedied / affected, 0..1")


class _FiguresSerializer(serializers.Serializer):
    affected = serializers.IntegerField()
    pending = serializers.IntegerField()
    notified = serializers.IntegerField(help_text="notified, scheduled or remedied")
    scheduled = serializers.IntegerField()
    responded = serializers.IntegerField(help_text="scheduled or remedied")
    remedied = serializers.IntegerField()
    unreachable = serializers.IntegerField()
    remedied_share = serializers.FloatField(allow_null=True)
    notification_rate = serializers.FloatField(allow_null=True, help_text="notified / affected")
    response_rate = serializers.FloatField(allow_null=True, help_text="responded / notified")
    unreachable_share = serializers.FloatField(allow_null=True, help_text="unreachable / affected")
    weeks_to_50 = serializers.IntegerField(allow_null=True)
    weeks_to_80 = serializers.IntegerField(allow_null=True)


class BatchFiguresSerializer(_FiguresSerializer):
    batch = serializers.CharField(allow_null=True)


class FiguresSerializer(_FiguresSerializer):
    curve = CurvePointSerializer(many=True)
    by_batch = BatchFiguresSerializer(many=True)


class RecallDetailSerializer(RecallSerializer):
    allowed_transitions = serializers.SerializerMethodField()
    figures = serializers.SerializerMethodField()

    class Meta(RecallSerializer.Meta):
        fields = [*RecallSerializer.Meta.fields, "allowed_transitions", "figures"]
        read_only_fields = fields

    def get_allowed_transitions(self, obj) -> list[str]:
        return list(selectors.recall_allowed_transitions(obj))

    @extend_schema_field(FiguresSerializer)
    def get_figures(self, obj) -> dict:
        return selectors.recall_completion(recall=obj)


class RecallWriteSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=255)
    severity = serializers.ChoiceField(choices=RecallSeverity.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    remedy = serializers.CharField(required=False, allow_blank=True, default="")
    batches = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
    serial_ranges = SerialRangeSerializer(many=True, required=False, default=list)


class TransitionSerializer(serializers.Serializer):
    to_state = serializers.ChoiceField(choices=RecallState.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", help_text="required to terminate")


class RecallUnitSerializer(serializers.ModelSerializer):
    serial = serializers.CharField(source="unit.serial")
    product_model = serializers.CharField(source="unit.product_model.code")
    batch = serializers.CharField(source="unit.batch.code", allow_null=True, default=None)
    customer = serializers.CharField(source="unit.customer.external_id", allow_null=True, default=None)
    status = serializers.ChoiceField(choices=RecallUnitStatus.choices)
    ticket = serializers.CharField(source="ticket.external_id", allow_null=True, default=None)

    class Meta:
        model = RecallUnit
        fields = [
            "serial",
            "product_model",
            "batch",
            "customer",
            "status",
            "notified_at",
            "scheduled_at",
            "unreachable_at",
            "remedied_at",
            "ticket",
        ]
        read_only_fields = fields


class UnitStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RecallUnitStatus.choices)


def _recall(code: str) -> Recall:
    recall = selectors.recall_get(code=code)
    # Remedy tickets resolved since the last look count before anything is read.
    if services.recall_units_remedied_sync(recall_id=recall.pk):
        recall = selectors.recall_get(code=code)
    return recall


class RecallListView(APIView):
    permission_classes = [RecallPermission]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)
    write_perm = selectors.ADD_PERM

    @extend_schema(
        summary="Recall campaigns",
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=RecallState.values),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=RecallSerializer(many=True),
    )
    def get(self, request):
        state = choice_params(request, {"state": RecallState})["state"]
        recalls = selectors.recall_list(state=state).prefetch_related("batches", "serial_ranges")
        return paginated(request, self, recalls, RecallSerializer)

    @extend_schema(
        summary="Open a recall campaign (state draft)",
        request=RecallWriteSerializer,
        responses={201: RecallDetailSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def post(self, request):
        body = RecallWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        recall = services.recall_create(
            actor=request.user,
            code=data["code"],
            title=data["title"],
            severity=data["severity"],
            reason=data["reason"],
            remedy=data["remedy"],
            batch_codes=data["batches"],
            serial_ranges=[dict(r) for r in data["serial_ranges"]],
        )
        return Response(RecallDetailSerializer(selectors.recall_get(code=recall.code)).data, status=201)


class RecallDetailView(APIView):
    permission_classes = [RecallPermission]

    @extend_schema(summary="One recall with its completion figures", responses=RecallDetailSerializer)
    def get(self, request, code: str):
        return Response(RecallDetailSerializer(_recall(code)).data)


class RecallTransitionView(APIView):
    permission_classes = [RecallPermission]
    write_perm = selectors.CHANGE_PERM

    @extend_schema(
        summary="Move a recall: approve, launch (computes the affected units), complete, terminate",
        request=TransitionSerializer,
        responses={
            200: RecallDetailSerializer,
            400: OpenApiResponse(description="a field is refused"),
            409: OpenApiResponse(description="the move is not allowed from the current state"),
        },
    )
    def post(self, request, code: str):
        recall = selectors.recall_get(code=code)
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.recall_transition(recall_id=recall.pk, actor=request.user, **body.validated_data)
        return Response(RecallDetailSerializer(_recall(code)).data)


class RecallUnitsView(APIView):
    permission_classes = [RecallPermission]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)

    @extend_schema(
        summary="The affected units of a recall",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=RecallUnitStatus.values),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=RecallUnitSerializer(many=True),
    )
    def get(self, request, code: str):
        recall = _recall(code)
        unit_status = choice_params(request, {"status": RecallUnitStatus})["status"]
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(
            selectors.recall_units(recall=recall, status=unit_status), request, view=self
        )
        return paginator.get_paginated_response(RecallUnitSerializer(page, many=True).data)


class RecallUnitStatusView(APIView):
    permission_classes = [RecallPermission]
    write_perm = selectors.UNIT_CHANGE_PERM

    @extend_schema(
        summary="Set an affected unit's status (remedied opens its remedy ticket when it has none)",
        request=UnitStatusSerializer,
        responses={
            200: RecallUnitSerializer,
            400: OpenApiResponse(description="a field is refused"),
            409: OpenApiResponse(description="not allowed from the unit's status, or the recall is not running"),
        },
    )
    def post(self, request, code: str, serial: str):
        recall = selectors.recall_get(code=code)
        unit = RecallUnit.objects.filter(recall=recall, unit__serial=serial).values_list("pk", flat=True).first()
        if unit is None:
            raise Http404("No such unit in this recall.")
        body = UnitStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.recall_unit_set_status(recall_unit_id=unit, actor=request.user, status=body.validated_data["status"])
        return Response(RecallUnitSerializer(selectors.recall_units(recall=recall).get(pk=unit)).data)


urlpatterns = [
    path("recalls/", RecallListView.as_view(), name="recall-list"),
    path("recalls/<str:code>/", RecallDetailView.as_view(), name="recall-detail"),
    path("recalls/<str:code>/transition/", RecallTransitionView.as_view(), name="recall-transition"),
    path("recalls/<str:code>/units/", RecallUnitsView.as_view(), name="recall-units"),
    path("recalls/<str:code>/units/<str:serial>/status/", RecallUnitStatusView.as_view(), name="recall-unit-status"),
]
