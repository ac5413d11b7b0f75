"""Failures and traceability endpoints: the failures list (filters, scope, export),
recording a failure, a unit's history, and the JSON behind the traceability charts.
Thin: parse the query, call one selector or service."""

import datetime as dt

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination
from catalog.api.views import ExportNegotiation
from catalog.exceptions import ApplicationError
from catalog.exports import EXPORT_FORMATS, dated_filename, export_response
from catalog.throttles import ExportThrottle

from .. import services
from .. import trace_selectors as selectors
from ..models import Failure, RootCauseCategory


class FailurePermission(BasePermission):
    """Reading needs quality.view_failure, recording quality.add_failure."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        perm = "quality.view_failure" if request.method in ("GET", "HEAD", "OPTIONS") else "quality.add_failure"
        return request.user.has_perm(perm)


class FailurePartSerializer(serializers.Serializer):
    part_number = serializers.CharField(max_length=64)
    component = serializers.CharField(source="component.code", allow_null=True, required=False, default=None)
    quantity = serializers.IntegerField(min_value=1, default=1)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=0)


class FailureSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.external_id")
    ticket_id = serializers.IntegerField()
    unit = serializers.CharField(source="unit.serial")
    product_model = serializers.CharField(source="unit.product_model.code")
    batch = serializers.CharField(source="unit.batch.code", allow_null=True, default=None)
    failure_mode = serializers.CharField(source="failure_mode.code")
    failure_mode_name = serializers.SerializerMethodField()
    component = serializers.CharField(source="component.code", allow_null=True, default=None)
    supplier = serializers.CharField(source="component.supplier.code", allow_null=True, default=None)
    repeat = serializers.SerializerMethodField()
    repeat_of = serializers.CharField(source="repeat_of.external_id", allow_null=True, default=None)

    class Meta:
        model = Failure
        fields = [
            "id",
            "external_id",
            "ticket",
            "ticket_id",
            "unit",
            "product_model",
            "batch",
            "failure_mode",
            "failure_mode_name",
            "component",
            "supplier",
            "occurred_at",
            "repaired_at",
            "root_cause_category",
            "labor_hours",
            "parts_cost",
            "repair_action",
            "repeat",
            "repeat_of",
        ]

    def get_failure_mode_name(self, obj) -> str:
        return selectors.mode_label(obj.failure_mode)

    def get_repeat(self, obj) -> bool:
        return obj.repeat_of_id is not None


class FailureDetailSerializer(FailureSerializer):
    parts = FailurePartSerializer(many=True, read_only=True)

    class Meta(FailureSerializer.Meta):
        fields = [*FailureSerializer.Meta.fields, "parts"]


class FailureCreatePartSerializer(serializers.Serializer):
    part_number = serializers.CharField(max_length=64)
    component = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=0)


class FailureCreateSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(help_text="ticket id")
    failure_mode = serializers.CharField(max_length=64, help_text="failure-mode code")
    unit = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="serial; default: the ticket's"
    )
    component = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    occurred_at = serializers.DateTimeField()
    repaired_at = serializers.DateTimeField(required=False, allow_null=True)
    repair_action = serializers.CharField(required=False, allow_blank=True, default="")
    root_cause_category = serializers.ChoiceField(
        choices=RootCauseCategory.choices, required=False, allow_blank=True, default=""
    )
    labor_hours = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, default=0)
    parts = FailureCreatePartSerializer(many=True, required=False, default=list)


def _date_param(params, name: str) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        message = _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw[:40]}
        raise ApplicationError(message, errors={name: [message]}) from None


def _repeat_param(params) -> bool | None:
    raw = (params.get("repeat") or "").strip().lower()
    if raw in ("", "any"):
        return None
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    message = _("repeat must be 1 or 0.")
    raise ApplicationError(message, errors={"repeat": [message]})


_FILTERS = [
    OpenApiParameter("unit", OpenApiTypes.STR, description="unit serial"),
    OpenApiParameter("batch", OpenApiTypes.STR, description="batch code"),
    OpenApiParameter("mode", OpenApiTypes.STR, description="failure-mode code (its children included)"),
    OpenApiParameter("component", OpenApiTypes.STR, description="component code"),
    OpenApiParameter("supplier", OpenApiTypes.STR, description="supplier code"),
    OpenApiParameter("repeat", OpenApiTypes.STR, enum=["1", "0"], description="1: repeats only; 0: first repairs"),
    OpenApiParameter("start", OpenApiTypes.DATE, description="occurred on or after (local date)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="occurred before (local date, exclusive)"),
]


def _filtered(request):
    params = request.query_params
    return selectors.failure_list(
        user=request.user,
        serial=(params.get("unit") or "").strip(),
        batch=(params.get("batch") or "").strip(),
        mode=(params.get("mode") or "").strip(),
        component=(params.get("component") or "").strip(),
        supplier=(params.get("supplier") or "").strip(),
        repeat=_repeat_param(params),
        start=_date_param(params, "start"),
        end=_date_param(params, "end"),
    )


class FailureListView(GenericAPIView):
    permission_classes = [FailurePermission]
    pagination_class = PageSizePagination
    serializer_class = FailureSerializer

    def get_queryset(self):
        return _filtered(self.request)

    @extend_schema(
        summary="Failures (scoped to the user's teams for agents and supervisors)",
        parameters=_FILTERS,
        responses=FailureSerializer(many=True),  # a page of them, not one
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(FailureSerializer(page, many=True).data)

    @extend_schema(
        summary="Record a failure on a repair ticket",
        request=FailureCreateSerializer,
        responses={201: FailureDetailSerializer},
    )
    def post(self, request):
        data = FailureCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        ticket_id = values.pop("ticket")
        # Out of the user's scope is "no such ticket", as everywhere.
        if not selectors.tickets_in_scope(request.user).filter(pk=ticket_id).exists():
            raise ApplicationError(_("Ticket not found."), errors={"ticket": [_("does not exist")]})
        failure = services.failure_record(
            ticket_id=ticket_id, actor=request.user, unit=values.pop("unit", None) or None, **values
        )
        failure = selectors.failure_list(user=request.user).prefetch_related("parts__component").get(pk=failure.pk)
        return Response(FailureDetailSerializer(failure).data, status=status.HTTP_201_CREATED)


class FailureExportView(APIView):
    permission_classes = [FailurePermission]
    content_negotiation_class = ExportNegotiation
    throttle_classes = [ExportThrottle]

    @extend_schema(
        summary="The failures list as CSV or XLSX (same filters and scope)",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(EXPORT_FORMATS), required=True),
            *_FILTERS,
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            429: OpenApiResponse(description="more exports than EXPORT_RATE allows; see Retry-After"),
        },
    )
    def get(self, request):
        headers, rows = selectors.failure_export_table(_filtered(request))
        return export_response(
            filename=dated_filename("failures"), fmt=request.query_params.get("format", ""), headers=headers, rows=rows
        )


class UnitHistoryView(APIView):
    permission_classes = [FailurePermission]

    @extend_schema(summary="A unit's tickets, failures and recalls", responses=OpenApiTypes.OBJECT)
    def get(self, request, serial: str):
        history = selectors.unit_history(user=request.user, serial=serial)
        unit = history["unit"]
        return Response(
            {
                "serial": unit.serial,
                "product_model": unit.product_model.code,
                "batch": unit.batch.code if unit.batch_id else None,
                "customer": unit.customer.external_id if unit.customer_id else None,
                "sold_on": unit.sold_on,
                "warranty_months": unit.warranty_months,
                "warranty_end": history["warranty_end"],
                "tickets": [
                    {
                        "id": t.pk,
                        "external_id": t.external_id,
                        "type": t.type,
                        "status": t.status,
                        "subject": t.subject,
                        "created_at": t.created_at,
                        "resolved_at": t.resolved_at,
                    }
                    for t in history["tickets"]
                ],
                "failures": FailureDetailSerializer(history["failures"], many=True).data,
                "recalls": [
                    {
                        "recall": ru.recall.code,
                        "title": ru.recall.title,
                        "state": ru.recall.state,
                        "status": ru.status,
                        "remedied_at": ru.remedied_at,
                        "ticket": ru.ticket.external_id if ru.ticket_id else None,
                    }
                    for ru in history["recalls"]
                ],
            }
        )


_AS_OF = [OpenApiParameter("as_of", OpenApiTypes.DATE, description="as-of date (default today)")]


class BatchComparisonView(APIView):
    permission_classes = [FailurePermission]

    @extend_schema(
        summary="Failures per 1000 units in service of every batch of the batch's model",
        parameters=_AS_OF,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, code: str):
        batch = selectors.batch_get(code=code)
        as_of = _date_param(request.query_params, "as_of")
        rows = selectors.batch_comparison(user=request.user, batch=batch, as_of=as_of)
        return Response({"batch": batch.code, "product_model": batch.product_model.code, "rows": rows})


class SupplierMonthlyView(APIView):
    permission_classes = [FailurePermission]

    @extend_schema(
        summary="A supplier's component failures by month, per 1000 exposed units in service and PPM",
        parameters=_AS_OF,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, code: str):
        supplier = selectors.supplier_get(code=code)
        as_of = _date_param(request.query_params, "as_of")
        return Response(
            {
                "supplier": supplier.code,
                "rows": selectors.supplier_monthly(user=request.user, supplier=supplier, as_of=as_of),
            }
        )


class ModeMonthlyView(APIView):
    permission_classes = [FailurePermission]

    @extend_schema(
        summary="Failures of a mode (and its children) by month", parameters=_AS_OF, responses=OpenApiTypes.OBJECT
    )
    def get(self, request, code: str):
        mode = selectors.mode_get(code=code)
        as_of = _date_param(request.query_params, "as_of")
        return Response({"mode": mode.code, "rows": selectors.mode_monthly(user=request.user, mode=mode, as_of=as_of)})


urlpatterns = [
    path("failures/", FailureListView.as_view(), name="failure-list"),
    path("failures/export/", FailureExportView.as_view(), name="failure-export"),
    path("units/<str:serial>/history/", UnitHistoryView.as_view(), name="unit-history"),
    path("trace/batches/<str:code>/comparison/", BatchComparisonView.as_view(), name="trace-batch-comparison"),
    path("trace/suppliers/<str:code>/monthly/", SupplierMonthlyView.as_view(), name="trace-supplier-monthly"),
    path("trace/modes/<str:code>/monthly/", ModeMonthlyView.as_view(), name="trace-mode-monthly"),
]
