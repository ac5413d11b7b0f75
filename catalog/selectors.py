"""Reads on master data. Master data is readable by every staff role."""

from django.db.models import QuerySet

from .models import Batch, Customer, ProductModel, Region, Unit


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
