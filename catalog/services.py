"""Writes on master data."""

from django.db import transaction

from .models import Region, RegionAlias, region_key


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
    region, _ = Region.objects.get_or_create(key=key, defaults={"name": name.strip()})
    return region
