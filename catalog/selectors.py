"""Reads on master data. Master data is readable by every staff role."""

from django.db.models import QuerySet

from .exports import ExportColumn
from .models import Batch, Customer, ProductModel, Region, Segment, Unit


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.select_related("region")


def unit_list() -> QuerySet[Unit]:
    return Unit.objects.select_related("product_model__product_line", "batch", "customer")


def product_model_list() -> QuerySet[ProductModel]:
    return ProductModel.objects.select_related("product_line")


def batch_list() -> QuerySet[Batch]:
    return Batch.objects.select_related("product_model")


def region_list() -> QuerySet[Region]:
    return Region.objects.order_by("name")


# Export columns of the master-data lists: the fields of their API serializers, by the same names.

CUSTOMER_EXPORT_COLUMNS = (
    ExportColumn("id", "id"),
    ExportColumn("external_id", "external_id"),
    ExportColumn("name", "name"),
    ExportColumn("region", "region__name"),
    ExportColumn("segment", "segment", choices=Segment),
    ExportColumn("city", "city"),
    ExportColumn("email", "email"),
    ExportColumn("phone", "phone"),
    ExportColumn("created_at", "created_at", timestamp=True),
)
PRODUCT_MODEL_EXPORT_COLUMNS = (
    ExportColumn("id", "id"),
    ExportColumn("code", "code"),
    ExportColumn("name", "name"),
    ExportColumn("product_line", "product_line__code"),
    ExportColumn("launched_on", "launched_on"),
)
BATCH_EXPORT_COLUMNS = (
    ExportColumn("id", "id"),
    ExportColumn("code", "code"),
    ExportColumn("product_model", "product_model__code"),
    ExportColumn("produced_on", "produced_on"),
    ExportColumn("quantity", "quantity"),
    ExportColumn("plant", "plant"),
)
UNIT_EXPORT_COLUMNS = (
    ExportColumn("id", "id"),
    ExportColumn("serial", "serial"),
    ExportColumn("product_model", "product_model__code"),
    ExportColumn("product_line", "product_model__product_line__code"),
    ExportColumn("batch", "batch__code"),
    ExportColumn("customer", "customer__external_id"),
    ExportColumn("sold_on", "sold_on"),
    ExportColumn("warranty_months", "warranty_months"),
)
