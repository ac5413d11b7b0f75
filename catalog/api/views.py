"""Read-only master-data endpoints (writes arrive through intake and the admin)."""

from collections.abc import Sequence

import django_filters
from django.conf import settings
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from catalog import selectors, services
from catalog.exports import CONTENT_TYPES, EXPORT_FORMATS, ExportColumn, dated_filename, export_response, export_table
from catalog.models import Batch, Customer, Unit
from catalog.throttles import ExportThrottle

from .serializers import (
    BatchSerializer,
    CustomerCreateSerializer,
    CustomerSerializer,
    ProductModelSerializer,
    UnitSerializer,
)


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="search")
    region = django_filters.CharFilter(field_name="region__name", lookup_expr="iexact")

    class Meta:
        model = Customer
        fields = ["segment", "region", "external_id"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(external_id__icontains=value) | Q(phone=value))


class UnitFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="serial", lookup_expr="icontains", label="search")
    customer = django_filters.CharFilter(field_name="customer__external_id")
    product_model = django_filters.CharFilter(field_name="product_model__code")
    batch = django_filters.CharFilter(field_name="batch__code")

    class Meta:
        model = Unit
        fields = ["serial", "customer", "product_model", "batch"]


class BatchFilter(django_filters.FilterSet):
    product_model = django_filters.CharFilter(field_name="product_model__code")

    class Meta:
        model = Batch
        fields = ["code", "product_model"]


class ExportNegotiation(DefaultContentNegotiation):
    """On an export `format` names the file, not one of DRF's renderers (its format
    override would answer 404): the file is a plain response, and errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportMixin:
    """GET <list>/export/?format=csv|xlsx: the list with its filters and ordering, every
    page of it, as a file whose columns (`export_columns`, from the app's selectors) are
    named like the list's fields."""

    export_columns: Sequence[ExportColumn] = ()
    export_filename = "export"

    @extend_schema(
        summary="Export the list as CSV or XLSX",
        description=(
            "The same rows as the list, with the same filters and ordering, unpaginated. Headers are the "
            "list's field names. Timestamps are local time in the site's time zone "
            f"({settings.TIME_ZONE}) without an offset: `YYYY-MM-DD HH:MM:SS` in CSV (UTF-8 with a BOM), "
            "date-times in XLSX. Text that a spreadsheet would run as a formula starts with a `'`. "
            "XLSX holds at most 1,048,575 rows; more is a 400."
        ),
        filters=True,
        parameters=[
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=list(EXPORT_FORMATS), required=True, description="file format"
            )
        ],
        responses={
            (200, CONTENT_TYPES["csv"].split(";")[0]): OpenApiTypes.BINARY,
            (200, CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="unknown format, an invalid filter, or too many rows for XLSX"),
            429: OpenApiResponse(description="more exports than EXPORT_RATE allows; see Retry-After"),
        },
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        renderer_classes=[JSONRenderer],
        content_negotiation_class=ExportNegotiation,
        throttle_classes=[ExportThrottle],
    )
    def export(self, request):
        headers, rows = export_table(self.filter_queryset(self.get_queryset()), self.export_columns)
        return export_response(
            filename=dated_filename(self.export_filename),
            fmt=request.query_params.get("format", ""),
            headers=headers,
            rows=rows,
        )


class _ReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    # Any segment reaches the view, so "1.5" or "abc" is the API's JSON 404, not the site's HTML one.
    lookup_value_regex = "[^/]+"


class CustomerViewSet(ExportMixin, mixins.CreateModelMixin, _ReadOnlyViewSet):
    serializer_class = CustomerSerializer
    export_columns = selectors.CUSTOMER_EXPORT_COLUMNS
    export_filename = "customers"
    filterset_class = CustomerFilter
    ordering_fields = ["name", "created_at", "external_id"]
    queryset = selectors.customer_list()

    @extend_schema(request=CustomerCreateSerializer, responses={201: CustomerSerializer})
    def create(self, request, *args, **kwargs):
        data = CustomerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_create(**data.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class UnitViewSet(ExportMixin, _ReadOnlyViewSet):
    serializer_class = UnitSerializer
    export_columns = selectors.UNIT_EXPORT_COLUMNS
    export_filename = "units"
    filterset_class = UnitFilter
    ordering_fields = ["serial", "sold_on"]
    queryset = selectors.unit_list()


class ProductModelViewSet(ExportMixin, _ReadOnlyViewSet):
    serializer_class = ProductModelSerializer
    export_columns = selectors.PRODUCT_MODEL_EXPORT_COLUMNS
    export_filename = "product-models"
    filterset_fields = ["code", "product_line__code"]
    queryset = selectors.product_model_list()


class BatchViewSet(ExportMixin, _ReadOnlyViewSet):
    serializer_class = BatchSerializer
    export_columns = selectors.BATCH_EXPORT_COLUMNS
    export_filename = "batches"
    filterset_class = BatchFilter
    ordering_fields = ["produced_on", "code"]
    queryset = selectors.batch_list()
