"""seed_demo: the demo data set loads, is deterministic, is internally consistent, and
shows the planted problems (intake/demo.py PLANTED) when measured with the ORM.

The `small` scale (what `make run` loads, a few seconds) is loaded once for the module
and flushed afterwards; determinism is checked on the generator itself (`tiny` scale,
no database)."""

from datetime import date, datetime, time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, FloatField, Max, Q, Value
from django.db.models.functions import Cast, TruncMonth
from django.http import HttpRequest
from django.test import Client, override_settings
from django.utils import timezone

from catalog.models import Batch, Customer, Region, Unit, User
from catalog.services import region_resolve
from intake.demo import DEMO_LOGINS, PLANTED, demo_fingerprint, demo_seed, planted_for
from quality.models import Failure, Recall, RecallUnit
from tickets.models import Channel, Priority, Status, Survey, Team, Ticket, TicketEvent, TicketType

AS_OF = date(2026, 3, 18)
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"
SEED = 42


def _local(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=timezone.get_default_timezone())


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Output of one `seed_demo --scale small` run, committed for the whole module.
    Passwords are hashed with the suite's fast hasher (tests/conftest.py), which the
    function-scoped settings fixture cannot provide here."""
    out = StringIO()
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=[FAST_HASHER]):
        call_command("seed_demo", "--scale", "small", "--seed", str(SEED), "--as-of", AS_OF.isoformat(), stdout=out)
    yield out.getvalue()
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def planted():
    return planted_for(as_of=AS_OF)


# --- the generator, without a database ---------------------------------------------------


def test_generator_is_deterministic():
    first = demo_fingerprint(scale="tiny", seed=SEED, as_of=AS_OF)
    assert demo_fingerprint(scale="tiny", seed=SEED, as_of=AS_OF) == first
    assert demo_fingerprint(scale="tiny", seed=SEED + 1, as_of=AS_OF)["tickets.Ticket"] != first["tickets.Ticket"]
    assert (
        demo_fingerprint(scale="tiny", seed=SEED, as_of=date(2026, 3, 19))["tickets.Ticket"] != first["tickets.Ticket"]
    )


def test_small_scale_has_the_advertised_size():
    counts = {label: n for label, (n, _digest) in demo_fingerprint(scale="small", seed=SEED, as_of=AS_OF).items()}
    assert 400 <= counts["catalog.Customer"] <= 800
    assert 2000 <= counts["catalog.Unit"] <= 9000
    assert 4000 <= counts["tickets.Ticket"] <= 8000
    assert counts["catalog.Batch"] >= 6 * 26


# --- the load -----------------------------------------------------------------------------


def test_load_reports_counts_logins_and_planted_problems(seeded):
    assert "seed_demo: scale small, seed 42, as of 2026-03-18" in seeded
    assert "done in" in seeded
    assert PLANTED["defective_batch"] in seeded and PLANTED["degraded_team"] in seeded
    for username, role in DEMO_LOGINS:
        assert f"  {username:<12} {role}" in seeded


@pytest.mark.django_db
def test_database_holds_exactly_what_the_generator_produces(seeded):
    expected = demo_fingerprint(scale="small", seed=SEED, as_of=AS_OF)
    for model in (Customer, Unit, Batch, Ticket, TicketEvent, Failure, Survey, RecallUnit):
        assert model.objects.count() == expected[model._meta.label][0], model


@pytest.mark.django_db
def test_second_run_does_nothing(seeded):
    before = Ticket.objects.count(), TicketEvent.objects.count(), User.objects.count()
    out = StringIO()
    call_command("seed_demo", "--as-of", AS_OF.isoformat(), stdout=out)
    assert out.getvalue().strip() == "Database is not empty; seed_demo did nothing."
    assert demo_seed(scale="tiny", as_of=AS_OF, log=lambda _m: None) is None
    assert (Ticket.objects.count(), TicketEvent.objects.count(), User.objects.count()) == before


@pytest.mark.django_db
def test_rows_created_after_the_seed_get_fresh_keys(seeded):
    """The demo inserts explicit primary keys; the sequences must have moved past them."""
    from tickets.services import ticket_create

    customer = Customer.objects.create(
        external_id="C-NEW", name="New", region=Region.objects.get(name="East"), created_at=timezone.now()
    )
    ticket = ticket_create(actor=None, customer=customer, subject="After the demo", type="inquiry", channel="web")
    assert ticket.pk > Ticket.objects.exclude(pk=ticket.pk).aggregate(m=Max("pk"))["m"]
    # Created, then routed by the demo's dispatch rules (created + assigned events).
    assert ticket.events.earliest("pk").pk > TicketEvent.objects.exclude(ticket=ticket).aggregate(m=Max("pk"))["m"]


# --- consistency ----------------------------------------------------------------------


@pytest.mark.django_db
def test_every_type_channel_priority_and_status_appears(seeded):
    for field, choices in (("type", TicketType), ("channel", Channel), ("priority", Priority), ("status", Status)):
        assert set(Ticket.objects.values_list(field, flat=True).distinct()) == set(choices.values), field


@pytest.mark.django_db
def test_status_agrees_with_the_timestamps(seeded):
    from django.db.models import Case, CharField, When

    expected = Case(
        When(closed_at__isnull=False, then=Value("closed")),
        When(resolved_at__isnull=False, then=Value("resolved")),
        When(first_response_at__isnull=False, then=Value("in_progress")),
        When(assigned_at__isnull=False, then=Value("assigned")),
        default=Value("new"),
        output_field=CharField(),
    )
    mismatched = (
        Ticket.objects.annotate(expected=expected)
        .exclude(status=F("expected"))
        .exclude(status=Status.WAITING_CUSTOMER, expected=Status.IN_PROGRESS)
    )
    assert mismatched.count() == 0
    assert Ticket.objects.filter(assigned_at__isnull=False, dispatch_method="").count() == 0
    assert Ticket.objects.filter(assigned_at__isnull=False, assignee__isnull=True).count() == 0


@pytest.mark.django_db
def test_nothing_happens_at_or_after_as_of(seeded):
    cutoff = _local(AS_OF)
    latest = Ticket.objects.aggregate(*(Max(f) for f in ("created_at", "resolved_at", "closed_at", "follow_up_at")))
    assert all(value < cutoff for value in latest.values())
    assert TicketEvent.objects.aggregate(m=Max("at"))["m"] < cutoff
    assert Survey.objects.aggregate(m=Max("responded_at"))["m"] < cutoff
    assert Unit.objects.filter(sold_on__gte=AS_OF).count() == 0


@pytest.mark.django_db
def test_open_queue_has_every_open_status_in_the_last_days(seeded):
    recent = Ticket.objects.filter(created_at__gte=_local(AS_OF) - timezone.timedelta(days=3))
    statuses = set(recent.values_list("status", flat=True))
    assert {Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING_CUSTOMER} <= statuses


@pytest.mark.django_db
def test_timeline_matches_the_ticket(seeded):
    created_events = Ticket.objects.annotate(n=Count("events", filter=Q(events__kind="created")))
    assert created_events.exclude(n=1).count() == 0
    reply_at_response = Ticket.objects.filter(first_response_at__isnull=False).annotate(
        n=Count("events", filter=Q(events__kind="reply", events__at=F("first_response_at")))
    )
    assert reply_at_response.filter(n=0).count() == 0
    assert set(TicketEvent.objects.values_list("kind", flat=True).distinct()) == {
        "created",
        "assigned",
        "reply",
        "status",
        "note",
    }
    assert Ticket.objects.filter(reassignments__gt=0).count() > 0
    assert Ticket.objects.filter(reopened_count__gt=0).count() > 0


@pytest.mark.django_db
def test_master_data_and_sales_are_consistent(seeded):
    assert Region.objects.count() >= 5
    for spelling in ("华东", "East China", " east  china "):
        assert region_resolve(name=spelling).name == "East"
    assert region_resolve(name="华中").name == "Central"
    assert set(Customer.objects.values_list("segment", flat=True).distinct()) == {"consumer", "business", "vip"}
    assert Unit.objects.filter(sold_on__lt=F("batch__produced_on")).count() == 0
    assert Unit.objects.filter(sold_on__lt=F("customer__created_at__date")).count() == 0
    assert Ticket.objects.filter(created_at__lt=F("customer__created_at")).count() == 0
    unsold = Unit.objects.filter(customer__isnull=True).count()
    assert 0 < unsold < Unit.objects.count() / 4


@pytest.mark.django_db
def test_repairs_record_failures(seeded):
    repairs_with_unit = Ticket.objects.filter(type="repair", unit__isnull=False)
    assert repairs_with_unit.annotate(n=Count("failures")).filter(n=0).count() == 0
    assert Failure.objects.exclude(occurred_at=F("ticket__created_at")).count() == 0
    assert Failure.objects.exclude(unit=F("ticket__unit")).count() == 0
    assert Failure.objects.filter(ticket__resolved_at__isnull=False, repaired_at__isnull=True).count() == 0
    assert Failure.objects.values("ticket").annotate(n=Count("id")).filter(n=2).count() > 0


@pytest.mark.django_db
def test_surveys_cover_about_forty_percent_and_follow_resolution_time(seeded):
    resolved = Ticket.objects.filter(resolved_at__isnull=False).count()
    surveyed = Survey.objects.count()
    assert 0.3 < surveyed / resolved < 0.45
    assert Survey.objects.filter(csat__isnull=True).count() > 0
    assert Survey.objects.filter(nps__isnull=True).count() > 0
    hours = ExpressionWrapper(F("ticket__resolved_at") - F("ticket__created_at"), output_field=DurationField())
    by_score = Survey.objects.aggregate(unhappy=Avg(hours, filter=Q(csat__lte=2)), happy=Avg(hours, filter=Q(csat=5)))
    assert by_score["unhappy"] > 2 * by_score["happy"]


@pytest.mark.django_db
def test_recall_of_the_defective_batch(seeded, planted):
    recall = Recall.objects.get(code=PLANTED["recall"])
    assert list(recall.batches.values_list("code", flat=True)) == [PLANTED["defective_batch"]]
    assert recall.opened_at == planted["recall_opened_at"]
    statuses = dict(recall.recall_units.values_list("status").annotate(n=Count("id")))
    assert len(statuses) >= 3 and statuses["remedied"] > 0
    assert recall.recall_units.count() == Unit.objects.filter(batch__code=PLANTED["defective_batch"]).count()


# --- users ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_logins_work_with_their_roles(seeded):
    for username, role in DEMO_LOGINS:
        # django-axes needs the request that authenticate() is given.
        assert Client().login(request=HttpRequest(), username=username, password="demo"), username
        user = User.objects.get(username=username)
        assert user.groups.filter(name=role).exists(), username
    assert User.objects.get(username="agent2").language == "zh-hans"
    assert set(User.objects.exclude(username="agent2").values_list("language", flat=True)) == {""}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    east, north = Team.objects.get(name="East Service"), Team.objects.get(name="North Service")
    assert east.supervisor.username == "supervisor"
    assert set(east.members.values_list("username", flat=True)) >= {"agent", "supervisor"}
    assert north.members.filter(username="agent2").exists()


# --- the planted problems ----------------------------------------------------------------


@pytest.mark.django_db
def test_defective_batch_fails_at_least_five_times_as_often_as_its_siblings(seeded):
    per_batch = Batch.objects.filter(product_model__code=PLANTED["defective_model"]).annotate(
        rate=Cast(Count("units__failures", distinct=True), FloatField())
        / Cast(Count("units", distinct=True), FloatField())
    )
    defective = per_batch.get(code=PLANTED["defective_batch"]).rate
    siblings = per_batch.exclude(code=PLANTED["defective_batch"]).aggregate(mean=Avg("rate"))["mean"]
    assert defective >= 5 * siblings
    modes = Failure.objects.filter(unit__batch__code=PLANTED["defective_batch"]).aggregate(
        bearing=Count("id", filter=Q(failure_mode__code=PLANTED["defective_failure_mode"])), total=Count("id")
    )
    assert modes["bearing"] > 0.7 * modes["total"]
    assert (
        Failure.objects.filter(failure_mode__code="MECH-BEARING", component__code=PLANTED["defective_component"])
        .exclude(unit__batch__code=PLANTED["defective_batch"])
        .count()
        == 0
    )


@pytest.mark.django_db
def test_degraded_team_answers_three_times_slower_after_the_change(seeded, planted):
    since = _local(planted["degraded_from"])
    response = ExpressionWrapper(F("first_response_at") - F("created_at"), output_field=DurationField())
    per_team = {
        row["team__name"]: row
        for row in Ticket.objects.filter(first_response_at__isnull=False)
        .values("team__name")
        .annotate(
            before=Avg(response, filter=Q(created_at__lt=since)), after=Avg(response, filter=Q(created_at__gte=since))
        )
    }
    degraded = per_team.pop(PLANTED["degraded_team"])
    assert degraded["after"] >= 3 * degraded["before"]
    assert timezone.timedelta(hours=1) < degraded["before"] < timezone.timedelta(hours=3)
    for name, row in per_team.items():
        assert row["after"] < 1.5 * row["before"], name


@pytest.mark.django_db
def test_air_conditioners_peak_in_july_and_august(seeded, planted):
    monthly = (
        Ticket.objects.filter(
            unit__product_model__product_line__code=PLANTED["seasonal_line"],
            created_at__gte=_local(planted["data_from"]),
            created_at__lt=_local(AS_OF.replace(day=1)),  # full months only
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(n=Count("id"))
    )
    peak = [row["n"] for row in monthly if row["month"].month in PLANTED["seasonal_months"]]
    other = [row["n"] for row in monthly if row["month"].month not in PLANTED["seasonal_months"]]
    assert len(peak) >= 2 and len(other) >= 10
    assert sum(peak) / len(peak) >= 2 * sum(other) / len(other)
