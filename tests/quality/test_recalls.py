"""Recall campaigns: scope, lifecycle, per-unit status, remedy tickets and the
completion figures, against hand-computed expectations."""

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.exceptions import ApplicationError, ConflictError
from quality import services
from quality.models import Recall, RecallEvent, RecallState, RecallUnit, RecallUnitStatus
from quality.recall_selectors import RECALL_TRANSITIONS, recall_completion
from tests.factories import BatchFactory, CustomerFactory, UnitFactory, UserFactory
from tickets.models import Ticket

UTC = dt.UTC
T0 = dt.datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def world(db):
    """Batch B1: SN-Y-0001 (sold), SN-Y-0002 (unsold stock), SN-X-0004 (also in the range).
    Batch B2: SN-X-0001..0003, 0005..0008."""
    b1 = BatchFactory(code="B1")
    b2 = BatchFactory(code="B2", product_model=b1.product_model)
    UnitFactory(serial="SN-Y-0001", batch=b1)
    UnitFactory(serial="SN-Y-0002", batch=b1, customer=None, sold_on=None)
    UnitFactory(serial="SN-X-0004", batch=b1)
    for n in (1, 2, 3, 5, 6, 7, 8):
        UnitFactory(serial=f"SN-X-{n:04d}", batch=b2)
    return {"b1": b1, "b2": b2}


def make(actor, *, code="RC-1", batches=(), ranges=(), at=T0):
    return services.recall_create(
        actor=actor, code=code, title="Bearing", severity="class_ii", batch_codes=batches, serial_ranges=ranges, at=at
    )


def launch(recall, actor, at=T0):
    services.recall_transition(recall_id=recall.pk, to_state="approved", actor=actor, at=at)
    return services.recall_transition(recall_id=recall.pk, to_state="launched", actor=actor, at=at)


def affected(recall) -> set[str]:
    return set(RecallUnit.objects.filter(recall=recall).values_list("unit__serial", flat=True))


# --- scope -------------------------------------------------------------------------------


def test_scope_by_batches_includes_unsold_stock(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    assert affected(recall) == {"SN-Y-0001", "SN-Y-0002", "SN-X-0004"}
    assert set(RecallUnit.objects.filter(recall=recall).values_list("status", flat=True)) == {"pending"}


def test_scope_by_serial_range_is_inclusive_and_excludes_serials_outside(world, engineer):
    recall = launch(make(engineer, ranges=[("SN-X-0002", "SN-X-0005")]), engineer)
    assert affected(recall) == {"SN-X-0002", "SN-X-0003", "SN-X-0004", "SN-X-0005"}
    assert "SN-X-0006" not in affected(recall) and "SN-X-0001" not in affected(recall)


def test_scope_batches_and_ranges_together_count_an_overlap_once(world, engineer):
    recall = launch(make(engineer, batches=["B1"], ranges=[{"first": "SN-X-0003", "last": "SN-X-0005"}]), engineer)
    assert affected(recall) == {"SN-Y-0001", "SN-Y-0002", "SN-X-0004", "SN-X-0003", "SN-X-0005"}
    assert RecallUnit.objects.filter(recall=recall).count() == 5
    event = RecallEvent.objects.get(recall=recall, kind="computed")
    assert event.to_value == "5"


def test_compute_twice_is_compute_once(world, engineer):
    recall = launch(make(engineer, batches=["B2"]), engineer)
    assert RecallUnit.objects.filter(recall=recall).count() == 7
    assert services.recall_units_compute(recall_id=recall.pk, actor=engineer) == 0
    assert RecallUnit.objects.filter(recall=recall).count() == 7
    # A unit made later in a recalled batch is added by the next run, and only it.
    UnitFactory(serial="SN-X-0009", batch=world["b2"])
    assert services.recall_units_compute(recall_id=recall.pk, actor=engineer) == 1
    assert RecallUnit.objects.filter(recall=recall).count() == 8


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"batches": ["NOPE"]}, "batch_codes"),
        ({"ranges": [("SN-X-0005", "SN-X-0001")]}, "serial_ranges"),
        ({"ranges": [("SN-X-0001", "SN-X-00050")]}, "serial_ranges"),
        ({"ranges": [("SN-X-0001", "SN-Z-0005")]}, "serial_ranges"),
        ({"ranges": [("SN-X-0001", "")]}, "serial_ranges"),
        ({}, "scope"),
        ({"batches": ["B1"], "code": "  "}, "code"),
    ],
)
def test_create_refuses_bad_input_by_field_and_writes_nothing(world, engineer, kwargs, field):
    code = kwargs.pop("code", "RC-9")
    with pytest.raises(ApplicationError) as error:
        make(engineer, code=code, **kwargs)
    assert field in error.value.errors
    assert not Recall.objects.exists()


def test_create_refuses_a_taken_code_and_bad_severity(world, engineer):
    make(engineer, batches=["B1"])
    with pytest.raises(ApplicationError) as error:
        services.recall_create(actor=engineer, code="RC-1", title="", severity="class_iv", batch_codes=["B1"])
    assert set(error.value.errors) == {"code", "title", "severity"}


def test_create_is_a_draft_with_an_event(world, engineer):
    recall = make(engineer, batches=["B1"], ranges=[("SN-X-0001", "SN-X-0002")])
    assert recall.state == RecallState.DRAFT and recall.opened_at == T0
    assert list(recall.batches.values_list("code", flat=True)) == ["B1"]
    assert list(recall.serial_ranges.values_list("first", "last")) == [("SN-X-0001", "SN-X-0002")]
    assert RecallEvent.objects.get(recall=recall).kind == "created"
    assert not RecallUnit.objects.filter(recall=recall).exists()  # only launching computes


def test_update_only_in_draft(world, engineer):
    recall = make(engineer, batches=["B1"])
    services.recall_update(recall_id=recall.pk, actor=engineer, title="New", severity="class_i", batch_codes=["B2"])
    recall.refresh_from_db()
    assert recall.title == "New" and list(recall.batches.values_list("code", flat=True)) == ["B2"]
    services.recall_transition(recall_id=recall.pk, to_state="approved", actor=engineer)
    with pytest.raises(ConflictError):
        services.recall_update(recall_id=recall.pk, actor=engineer, title="X", severity="class_i", batch_codes=["B1"])


# --- lifecycle ---------------------------------------------------------------------------

STATES = list(RecallState.values)


def _recall_in(state, actor) -> Recall:
    recall = make(actor, batches=["B1"])
    path = {
        "draft": [],
        "approved": ["approved"],
        "launched": ["approved", "launched"],
        "completed": ["approved", "launched", "completed"],
        "terminated": ["terminated"],
    }[state]
    for step in path:
        services.recall_transition(recall_id=recall.pk, to_state=step, actor=actor, comment="why", at=T0)
    return Recall.objects.get(pk=recall.pk)


@pytest.mark.parametrize(("from_state", "to_state"), list(itertools.product(STATES, STATES)))
def test_transition_table(world, engineer, from_state, to_state):
    recall = _recall_in(from_state, engineer)
    later = T0 + dt.timedelta(days=3)
    allowed = to_state in RECALL_TRANSITIONS[from_state]
    assert allowed == (
        (from_state, to_state)
        in {
            ("draft", "approved"),
            ("draft", "terminated"),
            ("approved", "launched"),
            ("approved", "terminated"),
            ("launched", "completed"),
            ("launched", "terminated"),
        }
    )
    if not allowed:
        with pytest.raises(ConflictError):
            services.recall_transition(recall_id=recall.pk, to_state=to_state, actor=engineer, comment="x", at=later)
        assert Recall.objects.get(pk=recall.pk).state == from_state
        return
    services.recall_transition(recall_id=recall.pk, to_state=to_state, actor=engineer, comment="reason", at=later)
    recall.refresh_from_db()
    assert recall.state == to_state
    assert getattr(recall, f"{to_state}_at") == later
    assert recall.closed_at == (later if to_state in ("completed", "terminated") else None)
    event = RecallEvent.objects.filter(recall=recall, kind="state").last()
    assert (event.from_value, event.to_value, event.actor) == (from_state, to_state, engineer)


def test_terminating_needs_a_reason(world, engineer):
    recall = make(engineer, batches=["B1"])
    with pytest.raises(ApplicationError) as error:
        services.recall_transition(recall_id=recall.pk, to_state="terminated", actor=engineer, comment=" ")
    assert "comment" in error.value.errors and not isinstance(error.value, ConflictError)
    assert Recall.objects.get(pk=recall.pk).state == "draft"


# --- units -------------------------------------------------------------------------------


def unit(recall, serial) -> RecallUnit:
    return RecallUnit.objects.select_related("unit").get(recall=recall, unit__serial=serial)


def test_unit_status_stamps_dates_and_refuses_invalid_moves(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    ru = unit(recall, "SN-Y-0001")
    at = T0 + dt.timedelta(days=1)
    services.recall_unit_set_status(recall_unit_id=ru.pk, status="notified", actor=engineer, at=at)
    ru.refresh_from_db()
    assert (ru.status, ru.notified_at) == ("notified", at)
    services.recall_unit_set_status(recall_unit_id=ru.pk, status="unreachable", actor=engineer, at=at)
    ru.refresh_from_db()
    assert (ru.status, ru.unreachable_at) == ("unreachable", at)
    with pytest.raises(ConflictError):
        services.recall_unit_set_status(recall_unit_id=ru.pk, status="pending", actor=engineer)
    with pytest.raises(ApplicationError):
        services.recall_unit_set_status(recall_unit_id=ru.pk, status="bogus", actor=engineer)


def test_unit_status_only_while_launched(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    services.recall_transition(recall_id=recall.pk, to_state="completed", actor=engineer)
    with pytest.raises(ConflictError):
        services.recall_unit_set_status(recall_unit_id=unit(recall, "SN-Y-0001").pk, status="notified", actor=engineer)


def test_bulk_notify_changes_only_pending_or_unreachable(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    ids = list(RecallUnit.objects.filter(recall=recall).values_list("pk", flat=True))
    services.recall_unit_remedy_ticket(recall_unit_id=unit(recall, "SN-Y-0001").pk, actor=engineer)  # scheduled
    at = T0 + dt.timedelta(days=2)
    assert services.recall_units_notify(recall_id=recall.pk, recall_unit_ids=ids, actor=engineer, at=at) == 2
    assert unit(recall, "SN-Y-0001").status == "scheduled"
    assert unit(recall, "SN-Y-0002").notified_at == at
    assert RecallEvent.objects.filter(recall=recall, kind="notified", to_value="2").exists()


def test_remedy_ticket_and_sync_after_the_ticket_resolves(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    ru = unit(recall, "SN-Y-0001")
    at = T0 + dt.timedelta(days=1)
    ticket = services.recall_unit_remedy_ticket(recall_unit_id=ru.pk, actor=engineer, at=at)
    ru.refresh_from_db()
    assert (ru.status, ru.scheduled_at, ru.ticket_id) == ("scheduled", at, ticket.pk)
    assert ticket.unit_id == ru.unit_id and ticket.customer_id == ru.unit.customer_id
    assert ticket.type == "repair" and ticket.subject == "Recall RC-1: Bearing"
    with pytest.raises(ConflictError):
        services.recall_unit_remedy_ticket(recall_unit_id=ru.pk, actor=engineer)

    assert services.recall_units_remedied_sync() == 0  # not resolved yet
    resolved = T0 + dt.timedelta(days=4)
    # The sync reads only resolved_at; how the ticket got there is the ticket app's business.
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved", resolved_at=resolved)
    assert services.recall_units_remedied_sync(recall_id=recall.pk) == 1
    ru.refresh_from_db()
    assert (ru.status, ru.remedied_at) == ("remedied", resolved)
    assert services.recall_units_remedied_sync() == 0  # idempotent


def test_remedy_ticket_needs_a_customer(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    with pytest.raises(ApplicationError) as error:
        services.recall_unit_remedy_ticket(recall_unit_id=unit(recall, "SN-Y-0002").pk, actor=engineer)
    assert "customer" in error.value.errors
    assert unit(recall, "SN-Y-0002").ticket_id is None


def test_marking_remedied_without_a_ticket_opens_one(world, engineer):
    recall = launch(make(engineer, batches=["B1"]), engineer)
    ru = unit(recall, "SN-X-0004")
    at = T0 + dt.timedelta(days=5)
    services.recall_unit_set_status(recall_unit_id=ru.pk, status="remedied", actor=engineer, at=at)
    ru.refresh_from_db()
    assert ru.status == "remedied" and ru.remedied_at == at and ru.ticket is not None


# --- completion figures ------------------------------------------------------------------


@pytest.fixture
def campaign(db):
    """10 units, launched at T0. Batch A: 5 remedied (days 1, 3 -> week 1; 8 -> week 2;
    20 -> week 3; 22 -> week 4) and 1 scheduled. Batch B: 2 notified, 1 unreachable,
    1 pending."""
    a, b = BatchFactory(code="A"), BatchFactory(code="B")
    recall = Recall.objects.create(code="RC-F", title="t", severity="class_i", opened_at=T0, launched_at=T0)
    day = dt.timedelta(days=1)
    rows = [(a, "remedied", 1), (a, "remedied", 3), (a, "remedied", 8), (a, "remedied", 20), (a, "remedied", 22)]
    rows += [(a, "scheduled", None), (b, "notified", None), (b, "notified", None), (b, "unreachable", None)]
    rows += [(b, "pending", None)]
    for batch, status, days in rows:
        RecallUnit.objects.create(
            recall=recall,
            unit=UnitFactory(batch=batch),
            status=status,
            remedied_at=T0 + days * day if days is not None else None,
        )
    return recall


def test_completion_figures_by_hand(campaign):
    with CaptureQueriesContext(connection) as queries:
        figures = recall_completion(recall=campaign, now=T0 + dt.timedelta(days=30))
    assert len(queries) == 4  # status counts, weeks; both again by batch
    assert figures["affected"] == 10
    assert figures["remedied"] == 5 and figures["remedied_share"] == pytest.approx(0.5)
    assert figures["notified"] == 8  # 2 notified + 1 scheduled + 5 remedied
    assert figures["notification_rate"] == pytest.approx(0.8)
    assert figures["responded"] == 6
    assert figures["response_rate"] == pytest.approx(6 / 8)
    assert figures["unreachable_share"] == pytest.approx(0.1)
    # 30 days since launch: weeks 1..5.
    assert [(p["week"], p["remedied"]) for p in figures["curve"]] == [(1, 2), (2, 3), (3, 4), (4, 5), (5, 5)]
    assert [p["share"] for p in figures["curve"]] == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.5])
    assert figures["weeks_to_50"] == 4
    assert figures["weeks_to_80"] is None
    by_batch = {row["batch"]: row for row in figures["by_batch"]}
    a, b = by_batch["A"], by_batch["B"]
    assert (a["affected"], a["remedied"], a["notified"], a["responded"]) == (6, 5, 6, 6)
    assert a["remedied_share"] == pytest.approx(5 / 6) and a["response_rate"] == pytest.approx(1.0)
    assert (a["weeks_to_50"], a["weeks_to_80"]) == (2, 4)  # 3/6 in week 2, 5/6 in week 4
    assert (b["affected"], b["remedied"], b["notified"], b["unreachable"]) == (4, 0, 2, 1)
    assert b["notification_rate"] == pytest.approx(0.5) and b["response_rate"] == pytest.approx(0.0)
    assert b["unreachable_share"] == pytest.approx(0.25)
    assert (b["weeks_to_50"], b["weeks_to_80"]) == (None, None)


def test_completion_week_boundary(campaign):
    # A remedy exactly 7 days after launch opens week 2.
    ru = RecallUnit.objects.filter(recall=campaign, status="scheduled").get()
    ru.status, ru.remedied_at = "remedied", T0 + dt.timedelta(days=7)
    ru.save()
    figures = recall_completion(recall=campaign, now=T0 + dt.timedelta(days=13))
    assert [p["remedied"] for p in figures["curve"]] == [2, 4, 5, 6]


def test_completion_with_empty_denominators(db):
    recall = Recall.objects.create(code="RC-E", title="t", severity="class_i", opened_at=T0, launched_at=T0)
    figures = recall_completion(recall=recall, now=T0 + dt.timedelta(days=10))
    assert figures["affected"] == 0
    for key in ("remedied_share", "notification_rate", "response_rate", "unreachable_share"):
        assert figures[key] is None
    assert figures["weeks_to_50"] is None and figures["weeks_to_80"] is None
    assert [p["share"] for p in figures["curve"]] == [None, None]
    assert figures["by_batch"] == []


def test_response_rate_is_none_when_nobody_was_notified(db):
    recall = Recall.objects.create(code="RC-P", title="t", severity="class_i", opened_at=T0, launched_at=T0)
    RecallUnit.objects.create(recall=recall, unit=UnitFactory(), status="pending")
    figures = recall_completion(recall=recall, now=T0)
    assert figures["notification_rate"] == 0 and figures["response_rate"] is None


def test_draft_has_no_curve(world, engineer):
    recall = make(engineer, batches=["B1"])
    assert recall_completion(recall=recall)["curve"] == []


def test_imported_recall_counts_from_its_opening(db):
    customer = CustomerFactory()
    recall = Recall.objects.create(code="RC-I", title="t", severity="class_i", opened_at=T0)  # launched by default
    RecallUnit.objects.create(
        recall=recall,
        unit=UnitFactory(customer=customer),
        status=RecallUnitStatus.REMEDIED,
        remedied_at=T0 + dt.timedelta(days=9),
    )
    figures = recall_completion(recall=recall, now=T0 + dt.timedelta(days=9))
    assert [p["remedied"] for p in figures["curve"]] == [0, 1]
    assert figures["weeks_to_50"] == 2
