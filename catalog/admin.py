from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Batch, Component, Customer, ProductLine, ProductModel, Region, RegionAlias, Supplier, Unit, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, (_("Profile"), {"fields": ("language", "phone")}))
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "language")
    list_filter = (*BaseUserAdmin.list_filter, "language")


class RegionAliasInline(admin.TabularInline):
    model = RegionAlias
    extra = 1


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "key")
    search_fields = ("name", "key", "aliases__key")
    inlines = [RegionAliasInline]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name", "region", "segment", "city", "created_at")
    list_filter = ("segment", "region")
    search_fields = ("external_id", "name", "city", "email", "phone")
    list_select_related = ("region",)
    date_hierarchy = "created_at"


@admin.register(ProductLine)
class ProductLineAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(ProductModel)
class ProductModelAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "product_line", "launched_on")
    list_filter = ("product_line",)
    search_fields = ("code", "name")
    list_select_related = ("product_line",)


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "supplier")
    list_filter = ("supplier",)
    search_fields = ("code", "name")
    list_select_related = ("supplier",)


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("code", "product_model", "produced_on", "quantity", "plant")
    list_filter = ("product_model__product_line", "product_model", "plant")
    search_fields = ("code",)
    list_select_related = ("product_model",)
    date_hierarchy = "produced_on"


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("serial", "product_model", "batch", "customer", "sold_on", "warranty_months")
    list_filter = ("product_model__product_line", "product_model")
    search_fields = ("serial", "customer__external_id", "customer__name")
    list_select_related = ("product_model", "batch", "customer")
    raw_id_fields = ("batch", "customer")
