"""factory_boy factories shared by every test folder."""

import datetime as dt

import factory
from django.utils import timezone

from catalog.models import (
    Batch,
    Component,
    Customer,
    ProductLine,
    ProductModel,
    Region,
    Supplier,
    Unit,
    User,
    region_key,
)
from quality.models import Failure, FailureMode
from tickets.models import Survey, Team, Ticket


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()  # persists the hashed password

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            from django.contrib.auth.models import Group

            self.groups.add(*Group.objects.filter(name__in=extracted))


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("key",)

    name = factory.Sequence(lambda n: f"Region {n}")
    key = factory.LazyAttribute(lambda r: region_key(r.name))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    region = factory.SubFactory(RegionFactory)
    created_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=400))


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ("code",)

    code = "washer"
    name = "Washer"


class ProductModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductModel

    code = factory.Sequence(lambda n: f"M{n:03d}")
    name = factory.Sequence(lambda n: f"Model {n}")
    product_line = factory.SubFactory(ProductLineFactory)


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"Supplier {n}")


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.Sequence(lambda n: f"Part {n}")
    supplier = factory.SubFactory(SupplierFactory)


class BatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Batch

    code = factory.Sequence(lambda n: f"B{n:05d}")
    product_model = factory.SubFactory(ProductModelFactory)
    produced_on = dt.date(2025, 1, 15)
    quantity = 100


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    serial = factory.Sequence(lambda n: f"SN{n:08d}")
    batch = factory.SubFactory(BatchFactory)
    product_model = factory.SelfAttribute("batch.product_model")
    customer = factory.SubFactory(CustomerFactory)
    sold_on = dt.date(2025, 3, 1)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class TicketFactory(factory.django.DjangoModelFactory):
    """A bare ticket row (status new). Use tickets.services to move it, as users do."""

    class Meta:
        model = Ticket

    external_id = factory.Sequence(lambda n: f"T{n:07d}")
    customer = factory.SubFactory(CustomerFactory)
    type = "repair"
    channel = "phone"
    priority = "normal"
    subject = factory.Sequence(lambda n: f"Problem {n}")
    team = factory.SubFactory(TeamFactory)
    created_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=5))


class BreachedTicketFactory(TicketFactory):
    """In progress and past its resolution target, on a 24x7 clock: created 10 h before
    `now`, answered 9 h before, due 1 h before, last checked 3 h before. The SLA sweep
    reaches level 1 (80 %) and level 2 (the due time) but not level 3 (4 h after)."""

    class Params:
        now = factory.LazyFunction(timezone.now)

    subject = "Overdue"
    status = "in_progress"
    created_at = factory.LazyAttribute(lambda o: o.now - dt.timedelta(hours=10))
    first_response_at = factory.LazyAttribute(lambda o: o.now - dt.timedelta(hours=9))
    resolution_due_at = factory.LazyAttribute(lambda o: o.now - dt.timedelta(hours=1))
    sla_next_check_at = factory.LazyAttribute(lambda o: o.now - dt.timedelta(hours=3))


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    external_id = factory.Sequence(lambda n: f"SV{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    responded_at = factory.LazyFunction(timezone.now)
    csat = 5


class FailureModeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FailureMode
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"FM{n:03d}")
    name_en = factory.Sequence(lambda n: f"Mode {n}")


class FailureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Failure

    external_id = factory.Sequence(lambda n: f"F{n:07d}")
    ticket = factory.SubFactory(TicketFactory)
    unit = factory.SubFactory(UnitFactory)
    failure_mode = factory.SubFactory(FailureModeFactory)
    occurred_at = factory.LazyFunction(timezone.now)


def audit_rows_wipe(*models) -> None:
    """Test resets only: empty append-only event tables. On PostgreSQL a trigger refuses
    DELETE of audit rows (catalog migration 0002) but not TRUNCATE; elsewhere a raw DELETE
    skips the models' Python guard."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # TRUNCATE refuses tables with pending deferred FK checks: run them first.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    else:
        for model in models:
            model.objects.all()._raw_delete(model.objects.db)
