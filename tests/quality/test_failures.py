"""Recording failures on repair tickets (service and API), the failures list with its
filters, scope and export, and a unit's history through the API."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.exceptions import ApplicationError
from quality.models import Failure, FailurePart
from quality.services import failure_delete, failure_record, failure_update
from tests.conftest import api_for
from tests.factories import (
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    SupplierFactory,
    TicketFactory,
    UnitFactory,
)
from tickets.models import EventKind

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


@pytest.fixture
def mode(db):
    parent = FailureModeFactory(code="MECH", name_en="Mechanical", name_zh="机械故障")
    return FailureModeFactory(code="MECH-BEARING", name_en="Bearing wear", name_zh="轴承磨损", parent=parent)


@pytest.fixture
def component(db):
    return ComponentFactory(code="WB-BRG-02", supplier=SupplierFactory(code="SUP-HLB"))


@pytest.fixture
def ticket(team_a):
    unit = UnitFactory(serial="SN-1")
    return TicketFactory(unit=unit, customer=unit.customer, team=team_a, created_at=T0 - 24 * H)


def _record(ticket, mode, agent, **kwargs):
    values = {"occurred_at": T0, "at": T0 + 48 * H, **kwargs}
    return failure_record(ticket_id=ticket.pk, actor=agent, failure_mode=mode.code, **values)


def test_record_sums_parts_and_notes_the_ticket(ticket, mode, component, agent):
    version = ticket.version
    failure = _record(
        ticket,
        mode,
        agent,
        component=component.code,
        repaired_at=T0 + 5 * H,
        repair_action="Replaced the drum bearing",
        root_cause_category="supplier",
        labor_hours="1.5",
        parts=[
            {"part_number": "BRG-6205", "component": "WB-BRG-02", "quantity": 2, "unit_cost": "12.40"},
            {"part_number": "SEAL-01", "quantity": 1, "unit_cost": 3},
        ],
    )
    assert failure.unit_id == ticket.unit_id  # the ticket's unit by default
    assert failure.parts_cost == Decimal("27.80")  # 2 x 12.40 + 1 x 3
    assert failure.labor_hours == Decimal("1.50")
    assert failure.recorded_by == agent
    assert failure.external_id.startswith("F20260303-")
    assert list(failure.parts.values_list("part_number", "quantity")) == [("BRG-6205", 2), ("SEAL-01", 1)]
    note = ticket.events.get(kind=EventKind.NOTE)
    assert not note.public and failure.external_id in note.comment and "MECH-BEARING" in note.comment
    ticket.refresh_from_db()
    assert ticket.version == version + 1  # one change applied through the ticket's gate


def test_record_reports_every_problem_once_per_field(ticket, mode, agent):
    with pytest.raises(ApplicationError) as caught:
        failure_record(
            ticket_id=ticket.pk,
            actor=agent,
            failure_mode="NOPE",
            component="NOPE",
            occurred_at=T0,
            repaired_at=T0 - H,
            labor_hours=-1,
            root_cause_category="weather",
            parts=[{"part_number": "", "quantity": 0, "unit_cost": -2}],
            at=T0 + H,
        )
    errors = caught.value.errors
    assert set(errors) == {"failure_mode", "component", "repaired_at", "labor_hours", "root_cause_category", "parts"}
    assert len(errors["parts"]) == 3  # part number, quantity, unit cost
    assert not Failure.objects.exists() and not ticket.events.exists()


def test_record_needs_a_unit_and_the_tickets_own(team_a, mode, agent):
    bare = TicketFactory(team=team_a, created_at=T0 - H)
    with pytest.raises(ApplicationError) as caught:
        _record(bare, mode, agent)
    assert list(caught.value.errors) == ["unit"]
    other = UnitFactory()
    with_unit = TicketFactory(unit=UnitFactory(), team=team_a, created_at=T0 - H)
    with pytest.raises(ApplicationError) as caught:
        _record(with_unit, mode, agent, unit=other.serial)
    assert list(caught.value.errors) == ["unit"]
    assert _record(bare, mode, agent, unit=other.serial).unit == other


def test_record_refuses_future_and_naive_times(ticket, mode, agent):
    with pytest.raises(ApplicationError) as caught:
        _record(ticket, mode, agent, occurred_at=T0 + 72 * H)
    assert list(caught.value.errors) == ["occurred_at"]
    with pytest.raises(ApplicationError) as caught:
        _record(ticket, mode, agent, occurred_at=dt.datetime(2026, 3, 1, 9))
    assert list(caught.value.errors) == ["occurred_at"]


def test_update_replaces_parts_and_recomputes_repeat(ticket, mode, agent):
    earlier = FailureFactory(unit=ticket.unit, failure_mode=mode, occurred_at=T0 - 100 * H, repaired_at=T0 - 90 * H)
    failure = _record(ticket, mode, agent, parts=[{"part_number": "A", "quantity": 1, "unit_cost": 5}])
    assert failure.repeat_of_id == earlier.pk
    other = FailureModeFactory(code="ELEC-PCB")
    failure = failure_update(
        failure_id=failure.pk,
        actor=agent,
        failure_mode=other.code,
        parts=[{"part_number": "B", "quantity": 3, "unit_cost": 2}],
        at=T0 + 49 * H,
    )
    assert failure.repeat_of_id is None and failure.parts_cost == Decimal("6.00")
    assert list(FailurePart.objects.values_list("part_number", flat=True)) == ["B"]
    assert ticket.events.filter(kind=EventKind.NOTE).count() == 2
    with pytest.raises(ApplicationError) as caught:
        failure_update(failure_id=failure.pk, actor=agent, repaired_at=T0 - H, at=T0 + 50 * H)
    assert list(caught.value.errors) == ["repaired_at"]


def test_delete_remarks_the_later_failure(ticket, mode, agent):
    first = FailureFactory(unit=ticket.unit, failure_mode=mode, occurred_at=T0 - 200 * H, repaired_at=T0 - 199 * H)
    second = _record(ticket, mode, agent, occurred_at=T0 - 150 * H, repaired_at=T0 - 149 * H)
    third = _record(ticket, mode, agent)
    assert (second.repeat_of_id, third.repeat_of_id) == (first.pk, second.pk)
    failure_delete(failure_id=second.pk, actor=agent, at=T0 + 49 * H)
    third.refresh_from_db()
    assert third.repeat_of_id == first.pk  # the earlier repair is still inside the window
    assert "deleted" in ticket.events.filter(kind=EventKind.NOTE).last().comment


# --- API ----------------------------------------------------------------------------


def test_api_post_records_and_400s_per_field(ticket, mode, component, agent):
    client = api_for(agent)
    body = {
        "ticket": ticket.pk,
        "failure_mode": "MECH-BEARING",
        "component": "WB-BRG-02",
        "occurred_at": "2026-03-01T09:00:00Z",
        "repaired_at": "2026-03-01T12:00:00Z",
        "labor_hours": "2",
        "parts": [{"part_number": "BRG-6205", "quantity": 2, "unit_cost": "10.00"}],
    }
    response = client.post("/api/v1/failures/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["unit"], data["supplier"], data["parts_cost"], data["repeat"]) == ("SN-1", "SUP-HLB", "20.00", False)
    bad = client.post(
        "/api/v1/failures/",
        {**body, "failure_mode": "NOPE", "repaired_at": "2026-03-01T08:00:00Z"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) >= {"failure_mode", "repaired_at"}
    garbage = client.post("/api/v1/failures/", {"ticket": "x", "occurred_at": "never", "parts": "no"}, format="json")
    assert garbage.status_code == 400


def test_api_post_out_of_scope_ticket_is_refused(ticket, mode, agent_b):
    response = api_for(agent_b).post(
        "/api/v1/failures/",
        {"ticket": ticket.pk, "failure_mode": mode.code, "occurred_at": "2026-03-01T09:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and "ticket" in response.json()["errors"]
    assert not Failure.objects.exists()


def _failures(n, *, team, mode, component):
    made = []
    for i in range(n):
        unit = UnitFactory()
        t = TicketFactory(unit=unit, customer=unit.customer, team=team, created_at=T0 - H)
        made.append(FailureFactory(ticket=t, unit=unit, failure_mode=mode, component=component, occurred_at=T0 + i * H))
    return made


def test_api_list_scope_filters_and_constant_queries(team_a, team_b, mode, component, agent, manager):
    mine = _failures(3, team=team_a, mode=mode, component=component)
    theirs = _failures(2, team=team_b, mode=FailureModeFactory(code="ELEC"), component=None)
    theirs[1].repeat_of = theirs[0]
    theirs[1].save()
    agent_ids = {row["id"] for row in api_for(agent).get("/api/v1/failures/").json()["results"]}
    assert agent_ids == {f.pk for f in mine}
    client = api_for(manager)
    assert client.get("/api/v1/failures/").json()["count"] == 5
    assert client.get("/api/v1/failures/?mode=MECH").json()["count"] == 3  # the parent takes its children
    assert client.get("/api/v1/failures/?supplier=SUP-HLB").json()["count"] == 3
    assert client.get(f"/api/v1/failures/?unit={mine[0].unit.serial}").json()["count"] == 1
    assert client.get("/api/v1/failures/?repeat=1").json()["results"][0]["repeat_of"] == theirs[0].external_id
    assert client.get("/api/v1/failures/?start=2026-03-01&end=2026-03-02").json()["count"] == 5
    assert client.get("/api/v1/failures/?start=2026-03-02").json()["count"] == 0
    assert client.get("/api/v1/failures/?start=yesterday").status_code == 400
    assert client.get("/api/v1/failures/?repeat=maybe").status_code == 400
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/failures/")
    _failures(27, team=team_a, mode=mode, component=component)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/v1/failures/").json()["count"] == 32
    assert len(many.captured_queries) == len(few.captured_queries)


def test_api_export_csv_keeps_filters_and_scope(team_a, team_b, mode, component, agent):
    _failures(2, team=team_a, mode=mode, component=component)
    _failures(1, team=team_b, mode=mode, component=component)
    response = api_for(agent).get("/api/v1/failures/export/?format=csv&supplier=SUP-HLB")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["external_id", "ticket", "unit"] and len(rows) == 3
    assert api_for(agent).get("/api/v1/failures/export/?format=pdf").status_code == 400


def test_api_unit_history(ticket, mode, agent, agent_b):
    failure = _record(ticket, mode, agent, parts=[{"part_number": "X", "quantity": 1, "unit_cost": 1}])
    body = api_for(agent).get("/api/v1/units/SN-1/history/").json()
    assert [t["external_id"] for t in body["tickets"]] == [ticket.external_id]
    assert body["failures"][0]["external_id"] == failure.external_id
    assert body["failures"][0]["parts"][0]["part_number"] == "X"
    other = api_for(agent_b).get("/api/v1/units/SN-1/history/").json()
    assert other["tickets"] == [] and other["failures"] == []  # another team's records stay hidden
    assert api_for(agent).get("/api/v1/units/NOPE/history/").status_code == 404


def test_api_needs_the_failure_permission(db, api):
    assert api.get("/api/v1/failures/").status_code in (401, 403)
