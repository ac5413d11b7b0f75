"""Shared helpers of the import-engine tests (tests/intake/test_import_*.py): files
written by hand, a small master-data set, and a dump of every domain table."""

import csv
import datetime as dt
from pathlib import Path

from django.apps import apps

from catalog.models import Batch, Customer, ProductLine, ProductModel, Region, RegionAlias, Unit
from tests.factories import TeamFactory, UserFactory

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DOMAIN_APPS = ("catalog", "tickets", "quality")


def write_csv(path: Path, header: list[str], rows: list[list], *, newline: str = "\n", bom: bool = False) -> Path:
    """A CSV file with RFC 4180 quoting and the given line ends."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator=newline)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def dump_domain() -> dict[str, list[dict]]:
    """Every row of every domain table (catalog, tickets, quality), every field
    (updated_at and version included), in primary-key order."""
    dump = {}
    for app in DOMAIN_APPS:
        for model in apps.get_app_config(app).get_models():
            dump[model._meta.label] = list(model._default_manager.order_by("pk").values())
            for m2m in model._meta.many_to_many:
                through = m2m.remote_field.through
                dump[through._meta.label] = list(through.objects.order_by("pk").values())
    return dump


def make_master() -> dict:
    """Regions East (aliases 华东, east china), 3 customers, a product line with two
    models, two batches, four units, a team with an agent."""
    east = Region.objects.create(key="east", name="East")
    RegionAlias.objects.create(key="华东", region=east)
    RegionAlias.objects.create(key="east china", region=east)
    line = ProductLine.objects.create(code="washer", name="Washer")
    wm1 = ProductModel.objects.create(code="WM1", name="Washer 1", product_line=line)
    wm2 = ProductModel.objects.create(code="WM2", name="Washer 2", product_line=line)
    since = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    customers = [
        Customer.objects.create(external_id=f"C{n}", name=f"Customer {n}", region=east, created_at=since)
        for n in (1, 2, 3)
    ]
    b1 = Batch.objects.create(code="B1", product_model=wm1, produced_on=dt.date(2025, 1, 10), quantity=100)
    b2 = Batch.objects.create(code="B2", product_model=wm2, produced_on=dt.date(2025, 2, 10), quantity=50)
    units = [
        Unit.objects.create(
            serial="U1", product_model=wm1, batch=b1, customer=customers[0], sold_on=dt.date(2025, 2, 1)
        ),
        Unit.objects.create(serial="U2", product_model=wm1, batch=b1),
        Unit.objects.create(
            serial="U3", product_model=wm2, batch=b2, customer=customers[1], sold_on=dt.date(2025, 3, 1)
        ),
        Unit.objects.create(serial="U4", product_model=wm2, batch=None),
    ]
    team = TeamFactory(name="East Service")
    agent = UserFactory(username="li.na")
    team.members.add(agent)
    return {
        "east": east,
        "line": line,
        "models": (wm1, wm2),
        "customers": customers,
        "batches": (b1, b2),
        "units": units,
        "team": team,
        "agent": agent,
    }


def errors_of(run) -> list[tuple[int, str, str, str]]:
    return [(e.row, e.column, e.value, e.reason) for e in run.errors.all()]
