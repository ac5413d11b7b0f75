"""Read-only master-data endpoints (writes arrive through intake and the admin)."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from catalog import selectors, services
from catalog.models import Batch, Customer, Unit

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


class _ReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    # Any segment reaches the view, so "1.5" or "abc" is the API's JSON 404, not the site's HTML one.
    lookup_value_regex = "[^/]+"


class CustomerViewSet(mixins.CreateModelMixin, _ReadOnlyViewSet):
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["name", "created_at", "external_id"]
    queryset = selectors.customer_list()

    @extend_schema(request=CustomerCreateSerializer, responses={201: CustomerSerializer})
    def create(self, request, *args, **kwargs):
        data = CustomerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_create(**data.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class UnitViewSet(_ReadOnlyViewSet):
    serializer_class = UnitSerializer
    filterset_class = UnitFilter
    ordering_fields = ["serial", "sold_on"]
    queryset = selectors.unit_list()


class ProductModelViewSet(_ReadOnlyViewSet):
    serializer_class = ProductModelSerializer
    filterset_fields = ["code", "product_line__code"]
    queryset = selectors.product_model_list()


class BatchViewSet(_ReadOnlyViewSet):
    serializer_class = BatchSerializer
    filterset_class = BatchFilter
    ordering_fields = ["produced_on", "code"]
    queryset = selectors.batch_list()
