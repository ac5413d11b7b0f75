"""Master data of DATA_CONTRACT.md: regions, customers, products, suppliers, components,
batches and units, plus the project's user model (users and roles are master data)."""

import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyEvent(models.Model):
    """The shape of every audit log (a ticket's timeline, a recall's, an alert's): who,
    when, what kind, from which value to which, a comment. Rows are only ever added;
    saving an existing row or deleting one raises."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16)
    from_value = models.CharField(max_length=64, blank=True)
    to_value = models.CharField(max_length=64, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{self._meta.verbose_name_plural} are append-only")


class User(AbstractUser):
    """Staff user. The language follows the profile (blank: the browser's)."""

    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=[("en", "English"), ("zh-hans", "简体中文")]
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        verbose_name = _("user")
        verbose_name_plural = _("users")


def region_key(name: str) -> str:
    """METRICS.md: trimmed, inner whitespace collapsed to one space, case-folded."""
    return re.sub(r"\s+", " ", (name or "").strip()).casefold()


class Region(models.Model):
    key = models.CharField(_("key"), max_length=120, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self):
        return self.name


class RegionAlias(models.Model):
    """Configurable spelling -> region table (e.g. 华东, east china -> East)."""

    key = models.CharField(_("key"), max_length=120, unique=True)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        verbose_name = _("region alias")
        verbose_name_plural = _("region aliases")

    def __str__(self):
        return f"{self.key} -> {self.region}"

    def save(self, *args, **kwargs):
        self.key = region_key(self.key)
        super().save(*args, **kwargs)


class Segment(models.TextChoices):
    CONSUMER = "consumer", _("Consumer")
    BUSINESS = "business", _("Business")
    VIP = "vip", _("VIP")


class Customer(models.Model):
    external_id = models.CharField(_("external ID"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="customers", verbose_name=_("region"))
    segment = models.CharField(_("segment"), max_length=16, choices=Segment.choices, default=Segment.CONSUMER)
    city = models.CharField(_("city"), max_length=120, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("customer since"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [models.Index(fields=["created_at"]), models.Index(fields=["region", "segment"])]

    def __str__(self):
        return f"{self.name} ({self.external_id})"


class ProductLine(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product line")
        verbose_name_plural = _("product lines")

    def __str__(self):
        return self.name


class ProductModel(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    product_line = models.ForeignKey(
        ProductLine, on_delete=models.PROTECT, related_name="models", verbose_name=_("product line")
    )
    launched_on = models.DateField(_("launched on"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product model")
        verbose_name_plural = _("product models")

    def __str__(self):
        return f"{self.code} {self.name}"


class Supplier(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        ordering = ["code"]
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")

    def __str__(self):
        return self.name


class Component(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    supplier = models.ForeignKey(
        Supplier, on_delete=models.PROTECT, null=True, blank=True, related_name="components", verbose_name=_("supplier")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("component")
        verbose_name_plural = _("components")

    def __str__(self):
        return f"{self.code} {self.name}"


class Batch(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    product_model = models.ForeignKey(
        ProductModel, on_delete=models.PROTECT, related_name="batches", verbose_name=_("product model")
    )
    produced_on = models.DateField(_("produced on"))
    quantity = models.PositiveIntegerField(_("quantity"))
    plant = models.CharField(_("plant"), max_length=120, blank=True)

    class Meta:
        ordering = ["-produced_on", "code"]
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        indexes = [models.Index(fields=["produced_on"])]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="batch_quantity_positive")]

    def __str__(self):
        return self.code


class Unit(models.Model):
    serial = models.CharField(_("serial"), max_length=64, unique=True)
    product_model = models.ForeignKey(
        ProductModel, on_delete=models.PROTECT, related_name="units", verbose_name=_("product model")
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="units", verbose_name=_("batch")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="units", verbose_name=_("customer")
    )
    sold_on = models.DateField(_("sold on"), null=True, blank=True)
    warranty_months = models.PositiveSmallIntegerField(_("warranty (months)"), default=24)

    class Meta:
        ordering = ["serial"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        indexes = [models.Index(fields=["sold_on"])]
        constraints = [
            # DATA_CONTRACT: sold_on is required when a customer is given.
            models.CheckConstraint(
                condition=Q(customer__isnull=True) | Q(sold_on__isnull=False), name="unit_sold_on_with_customer"
            ),
        ]

    def __str__(self):
        return self.serial


# Natural keys of the contract, used by intake and by FK lookups in the API.
NATURAL_KEYS = {
    Customer: "external_id",
    ProductLine: "code",
    ProductModel: "code",
    Supplier: "code",
    Component: "code",
    Batch: "code",
    Unit: "serial",
}
