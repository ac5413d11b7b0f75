"""Traceability pages, the ticket page's failures panel (tickets.panels) and the
figures behind them, with hand-computed expectations and query budgets."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality import trace_selectors as selectors
from quality.models import Failure, Recall, RecallUnit
from tests.factories import (
    BatchFactory,
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    ProductModelFactory,
    SupplierFactory,
    TicketFactory,
    UnitFactory,
    UserFactory,
)
from tickets.panels import _PANELS, ticket_panel_register, ticket_panels

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 6, 1)


@pytest.fixture
def quality_user(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def world(team_a):
    """Model M with batches B1 (10 units: 8 sold before AS_OF, 1 after, 1 unsold) and B2
    (5 units sold); supplier S with component C. B1 has 4 failures (3 of mode BRG on C,
    one ELEC), B2 has 1 (BRG on C)."""
    model = ProductModelFactory(code="M")
    b1, b2 = BatchFactory(code="B1", product_model=model), BatchFactory(code="B2", product_model=model)
    supplier = SupplierFactory(code="S", name="Supplier S")
    component = ComponentFactory(code="C", supplier=supplier)
    parent = FailureModeFactory(code="MECH", name_en="Mechanical", name_zh="机械")
    brg = FailureModeFactory(code="BRG", name_en="Bearing", name_zh="轴承", parent=parent)
    elec = FailureModeFactory(code="ELEC", name_en="Electrical")
    b1_units = [UnitFactory(batch=b1, sold_on=dt.date(2026, 1, 1)) for _ in range(8)]
    UnitFactory(batch=b1, sold_on=dt.date(2026, 7, 1))
    UnitFactory(batch=b1, sold_on=None, customer=None)
    b2_units = [UnitFactory(batch=b2, sold_on=dt.date(2026, 2, 1)) for _ in range(5)]

    def fail(unit, mode, day, comp=component):
        ticket = TicketFactory(unit=unit, customer=unit.customer, team=team_a, created_at=T0 - dt.timedelta(days=1))
        return FailureFactory(
            ticket=ticket, unit=unit, failure_mode=mode, component=comp, occurred_at=T0 + dt.timedelta(days=day)
        )

    fail(b1_units[0], brg, 0)
    fail(b1_units[1], brg, 1)
    fail(b1_units[2], brg, 40)
    fail(b1_units[3], elec, 2, comp=None)
    fail(b2_units[0], brg, 3)
    fail(b2_units[1], brg, 200)  # after AS_OF: not counted
    return {"b1": b1, "b2": b2, "supplier": supplier, "brg": brg, "parent": parent, "units": b1_units, "fail": fail}


def test_batch_figures(world, quality_user):
    trace = selectors.batch_trace(user=quality_user, batch=world["b1"], as_of=AS_OF)
    assert trace["units"] == {"registered": 10, "sold": 9, "in_service": 8}
    assert trace["totals"]["failures"] == 4
    assert trace["per_1000"] == pytest.approx(500.0)  # 1000 x 4 / 8
    assert [(r["failure_mode__code"], r["n"]) for r in trace["by_mode"]] == [("BRG", 3), ("ELEC", 1)]
    rows = selectors.batch_comparison(user=quality_user, batch=world["b1"], as_of=AS_OF)
    assert [(r["batch"], r["failures"], r["in_service"], r["current"]) for r in rows] == [
        ("B1", 4, 8, True),
        ("B2", 1, 5, False),
    ]
    assert rows[1]["per_1000"] == pytest.approx(200.0)


def test_supplier_figures(world, quality_user):
    trace = selectors.supplier_trace(user=quality_user, supplier=world["supplier"], as_of=AS_OF)
    # C failed on model M, whose units in service are 8 + 5 = 13; 4 failures before AS_OF.
    assert (trace["failures"], trace["exposed"]) == (4, 13)
    assert trace["per_1000"] == pytest.approx(4000 / 13)
    assert trace["ppm"] == pytest.approx(4_000_000 / 13)
    assert [(c.code, c.n_failures, c.n_in_service) for c in trace["components"]] == [("C", 4, 13)]
    # March: 3 failures (days 0, 1, 3), 13 units sold by then; April: 1 (day 40).
    assert [(m["month"], m["failures"], m["in_service"]) for m in trace["monthly"]] == [
        ("2026-03", 3, 13),
        ("2026-04", 1, 13),
    ]


def test_mode_figures_include_children(world, quality_user):
    trace = selectors.mode_trace(user=quality_user, mode=world["parent"], as_of=AS_OF)
    assert trace["totals"]["failures"] == 4  # the BRG failures before AS_OF
    assert [(b.code, b.n_failures, b.n_in_service) for b in trace["batches"]] == [("B1", 3, 8), ("B2", 1, 5)]
    assert trace["batches"][0].per_1000 == pytest.approx(375.0)


def test_index_ranks_batches_with_enough_units(world, quality_user, monkeypatch):
    monkeypatch.setattr(selectors, "RANKING_MIN_UNITS", 6)
    index = selectors.trace_index(user=quality_user, as_of=AS_OF)
    assert index["fleet"] == 13
    assert [b.code for b in index["batches"]] == ["B1"]  # B2 has only 5 units in service
    assert [s.code for s in index["suppliers"]] == ["S"]
    assert index["modes"][0]["failure_mode__code"] == "BRG"


def test_scope_counts_only_the_teams_failures(world, agent_b):
    trace = selectors.batch_trace(user=agent_b, batch=world["b1"], as_of=AS_OF)
    assert trace["totals"]["failures"] == 0 and trace["units"]["in_service"] == 8


@pytest.mark.parametrize(
    "url",
    ["/trace/", "/trace/batches/B1/", "/trace/suppliers/S/", "/trace/modes/MECH/", "/trace/units/{serial}/"],
)
def test_pages_run_a_constant_number_of_queries(world, quality_user, client, url):
    client.force_login(quality_user)
    url = url.format(serial=world["units"][0].serial)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url + "?as_of=2026-06-01").status_code == 200
        return len(ctx.captured_queries)

    few = count()
    b1 = world["b1"]
    for i in range(27):
        unit = world["units"][0] if "units" in url else UnitFactory(batch=b1, sold_on=dt.date(2026, 1, 1))
        world["fail"](unit, world["brg"], 5 + i)
    assert count() == few


def test_pages_link_each_other_and_define_terms(world, quality_user, client):
    client.force_login(quality_user)
    batch = client.get("/trace/batches/B1/?as_of=2026-06-01").content.decode()
    assert "/trace/modes/BRG/" in batch and "/trace/suppliers/S/" in batch
    assert "/api/v1/trace/batches/B1/comparison/" in batch  # the chart's JSON
    assert "in service" in batch and "PPM" in batch
    mode = client.get("/trace/modes/BRG/?as_of=2026-06-01").content.decode()
    assert "/trace/batches/B1/" in mode and f"/trace/units/{world['units'][0].serial}/" in mode
    assert "Mechanical &gt; Bearing" in mode
    assert client.get("/trace/batches/NOPE/").status_code == 404
    assert client.get("/trace/?serial=NOPE").status_code == 200
    found = client.get(f"/trace/?serial={world['units'][0].serial}")
    assert found.status_code == 302 and found.url == f"/trace/units/{world['units'][0].serial}/"


def test_chart_json(world, quality_user, client):
    client.force_login(quality_user)
    body = client.get("/api/v1/trace/batches/B1/comparison/?as_of=2026-06-01").json()
    assert [(r["batch"], r["per_1000"]) for r in body["rows"]] == [("B1", 500.0), ("B2", 200.0)]
    assert client.get("/api/v1/trace/batches/B1/comparison/?as_of=soon").status_code == 400
    assert client.get("/api/v1/trace/suppliers/NOPE/monthly/").status_code == 404


def test_unit_page_shows_failures_and_recalls(world, quality_user, client):
    unit = world["units"][0]
    earlier = Failure.objects.get(unit=unit)
    later = world["fail"](unit, world["brg"], 10)
    later.repeat_of = earlier
    later.save()
    recall = Recall.objects.create(code="RC-9", title="Bearing", severity="class_ii", opened_at=T0)
    RecallUnit.objects.create(recall=recall, unit=unit, status="notified")
    client.force_login(quality_user)
    page = client.get(f"/trace/units/{unit.serial}/").content.decode()
    assert "RC-9" in page and "Notified" in page and "REPEAT" in page
    assert page.count("/tickets/") >= 2


def test_failures_page_needs_the_permission(db, client):
    client.force_login(UserFactory(username="nobody"))
    assert client.get("/trace/").status_code == 403


# --- the ticket page's panels ----------------------------------------------------------


def test_ticket_panel_shows_failures_and_the_form_for_the_team(world, agent, agent_b, manager, client):
    failure = Failure.objects.filter(unit__batch__code="B1", failure_mode__code="BRG").first()
    earlier = world["fail"](failure.unit, world["brg"], -5)
    failure.repeat_of = earlier
    failure.save()
    client.force_login(agent)
    page = client.get(f"/tickets/{failure.ticket_id}/").content.decode()
    assert 'id="failures"' in page and failure.external_id in page
    assert "REPEAT" in page and f"/tickets/{earlier.ticket_id}/" in page
    assert f"/trace/tickets/{failure.ticket_id}/failures/" in page  # the team records
    client.force_login(manager)
    page = client.get(f"/tickets/{failure.ticket_id}/").content.decode()
    assert failure.external_id in page
    assert f"/trace/tickets/{failure.ticket_id}/failures/" not in page  # reads, does not record
    client.force_login(agent_b)
    assert client.get(f"/tickets/{failure.ticket_id}/").status_code == 404


def test_record_through_the_panel_form(world, agent, client):
    unit = world["units"][5]
    ticket = TicketFactory(unit=unit, customer=unit.customer, team=agent.teams.first(), created_at=T0)
    client.force_login(agent)
    response = client.post(
        f"/trace/tickets/{ticket.pk}/failures/",
        {
            "failure_mode": "BRG",
            "component": "C",
            "occurred_at": "2026-03-02T10:00",
            "labor_hours": "1",
            "part_number_0": "P1",
            "quantity_0": "2",
            "unit_cost_0": "5",
        },
    )
    assert response.status_code == 302 and response.url.endswith("#failures")
    failure = ticket.failures.get()
    assert str(failure.parts_cost) == "10.00"
    bad = client.post(
        f"/trace/tickets/{ticket.pk}/failures/",
        {
            "failure_mode": "BRG",
            "occurred_at": "2026-03-02T10:00",
            "repaired_at": "2026-03-01T10:00",
            "labor_hours": "0",
        },
    )
    assert bad.status_code == 302 and ticket.failures.count() == 1
    client.post(f"/trace/failures/{failure.pk}/delete/")
    assert not ticket.failures.exists()


def test_a_second_panel_registration_just_works(world, agent):
    ticket = Failure.objects.first().ticket
    try:
        ticket_panel_register(key="zz", template="x.html", context=lambda t, u: {"n": t.pk}, order=200)
        ticket_panel_register(key="hidden", template="y.html", context=lambda t, u: None)
        panels = ticket_panels(ticket, agent)
        keys = [p["key"] for p in panels]  # other apps (recalls) may add theirs
        assert "hidden" not in keys and keys.index("failures") < keys.index("zz")
        assert panels[keys.index("zz")]["context"] == {"n": ticket.pk}
    finally:
        _PANELS.unregister("zz")
        _PANELS.unregister("hidden")
