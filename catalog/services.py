"""Writes on master data."""

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .exceptions import ApplicationError
from .models import Customer, Region, RegionAlias, Segment, region_key


@transaction.atomic
def region_resolve(*, name: str) -> Region:
    """Map a spelling to its region (METRICS.md): alias table first, then the key; an
    unknown key becomes its own region, labelled with the first spelling (trimmed)."""
    key = region_key(name)
    if not key:
        raise ValueError("region name is empty")
    alias = RegionAlias.objects.select_related("region").filter(key=key).first()
    if alias is not None:
        return alias.region
    region, _created = Region.objects.get_or_create(key=key, defaults={"name": name.strip()})
    return region


def _new_customer_id(at: datetime) -> str:
    return f"C{timezone.localtime(at):%Y%m%d}-{secrets.token_hex(3).upper()}"


@transaction.atomic
def customer_create(
    *,
    name: str,
    region: str,
    segment: str = Segment.CONSUMER,
    city: str = "",
    email: str = "",
    phone: str = "",
    external_id: str | None = None,
    created_at: datetime | None = None,
) -> Customer:
    """Register a customer (an agent logging a ticket for a new caller). The region goes
    through the alias table like every import; a taken external ID is refused, also when
    a concurrent request took it first. Validates everything before writing."""
    created_at = created_at or timezone.now()
    if timezone.is_naive(created_at):
        raise ValueError("timezone-aware datetimes only")
    errors: dict[str, list[str]] = {}
    name, region, external_id = (name or "").strip(), (region or "").strip(), (external_id or "").strip() or None
    if not name:
        errors["name"] = [_("This field is required.")]
    if not region:
        errors["region"] = [_("This field is required.")]
    if segment not in Segment.values:
        errors["segment"] = [_("“%(value)s” is not a valid choice.") % {"value": segment}]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Enter a valid e-mail address.")]
    for field, value in (("name", name), ("city", city), ("phone", phone), ("external_id", external_id or "")):
        limit = Customer._meta.get_field(field).max_length
        if len(value) > limit:
            errors.setdefault(field, []).append(_("At most %(limit)s characters.") % {"limit": limit})
    if errors:
        raise ApplicationError(_("The customer was not created."), errors=errors)

    values = {
        "name": name,
        "region": region_resolve(name=region),
        "segment": segment,
        "city": city.strip(),
        "email": email,
        "phone": phone.strip(),
        "created_at": created_at,
    }
    try:
        with transaction.atomic():
            return Customer.objects.create(external_id=external_id or _new_customer_id(created_at), **values)
    except IntegrityError:
        raise ApplicationError(
            _("The customer was not created."),
            errors={"external_id": [_("A customer with this ID already exists.")]},
        ) from None
