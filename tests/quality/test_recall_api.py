"""The recall endpoints: permissions, validation by field, 409 on invalid moves, the
units list (filter, pagination, constant queries) and the unit status endpoint."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.models import Recall, RecallUnit
from tests.conftest import api_for
from tests.factories import BatchFactory, UnitFactory, UserFactory

URL = "/api/v1/recalls/"


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def batch(db):
    batch = BatchFactory(code="B1")
    for n in range(1, 6):
        UnitFactory(serial=f"SN-A-{n:04d}", batch=batch)
    UnitFactory(serial="SN-A-0006", batch=batch, customer=None, sold_on=None)  # unsold stock
    return batch


def _body(**changes):
    return {"code": "RC-7", "title": "Hinge", "severity": "class_iii", "batches": ["B1"], **changes}


def _launched(engineer) -> Recall:
    client = api_for(engineer)
    assert client.post(URL, _body(), format="json").status_code == 201
    assert client.post(f"{URL}RC-7/transition/", {"to_state": "approved"}, format="json").status_code == 200
    response = client.post(f"{URL}RC-7/transition/", {"to_state": "launched"}, format="json")
    assert response.status_code == 200, response.data
    return Recall.objects.get(code="RC-7")


def test_create_and_launch_then_detail_with_figures(batch, engineer):
    client = api_for(engineer)
    response = client.post(URL, _body(serial_ranges=[{"first": "SN-A-0001", "last": "SN-A-0002"}]), format="json")
    assert response.status_code == 201, response.data
    assert response.data["state"] == "draft" and response.data["allowed_transitions"] == ["approved", "terminated"]
    assert response.data["serial_ranges"] == [{"first": "SN-A-0001", "last": "SN-A-0002"}]
    client.post(f"{URL}RC-7/transition/", {"to_state": "approved"}, format="json")
    response = client.post(f"{URL}RC-7/transition/", {"to_state": "launched"}, format="json")
    assert response.data["state"] == "launched"
    assert response.data["figures"]["affected"] == 6
    assert response.data["figures"]["notification_rate"] == 0
    detail = client.get(f"{URL}RC-7/")
    assert (
        detail.status_code == 200
        and detail.data["affected"] == 6
        and detail.data["figures"]["curve"] == [{"week": 1, "remedied": 0, "share": 0.0}]
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"batches": ["NOPE"]}, "batch_codes"),
        ({"batches": [], "serial_ranges": [{"first": "SN-A-0009", "last": "SN-A-0001"}]}, "serial_ranges"),
        ({"batches": []}, "scope"),
        ({"severity": "class_iv"}, "severity"),
        ({"title": ""}, "title"),
        ({"serial_ranges": [{"first": "X"}]}, "serial_ranges"),
    ],
)
def test_create_refusals_are_400_by_field(batch, engineer, changes, field):
    response = api_for(engineer).post(URL, _body(**changes), format="json")
    assert response.status_code == 400, response.data
    assert field in response.data["errors"]
    assert not Recall.objects.exists()


def test_duplicate_code_is_400(batch, engineer):
    client = api_for(engineer)
    client.post(URL, _body(), format="json")
    response = client.post(URL, _body(), format="json")
    assert response.status_code == 400 and "code" in response.data["errors"]


def test_invalid_move_is_409_and_terminate_without_reason_400(batch, engineer):
    client = api_for(engineer)
    client.post(URL, _body(), format="json")
    response = client.post(f"{URL}RC-7/transition/", {"to_state": "completed"}, format="json")
    assert response.status_code == 409 and "to_state" in response.data["errors"]
    response = client.post(f"{URL}RC-7/transition/", {"to_state": "terminated"}, format="json")
    assert response.status_code == 400 and "comment" in response.data["errors"]
    response = client.post(f"{URL}RC-7/transition/", {"to_state": "sideways"}, format="json")
    assert response.status_code == 400
    assert client.post(f"{URL}RC-0/transition/", {"to_state": "approved"}, format="json").status_code == 404


def test_units_filter_pagination_and_constant_queries(batch, engineer):
    recall = _launched(engineer)
    client = api_for(engineer)
    RecallUnit.objects.filter(recall=recall, unit__serial__in=["SN-A-0001", "SN-A-0002"]).update(status="notified")
    response = client.get(f"{URL}RC-7/units/?status=notified")
    assert response.status_code == 200
    assert [row["serial"] for row in response.data["results"]] == ["SN-A-0001", "SN-A-0002"]
    assert response.data["results"][0]["batch"] == "B1"
    page = client.get(f"{URL}RC-7/units/?page_size=4&page=2")
    assert page.data["count"] == 6 and [r["serial"] for r in page.data["results"]] == ["SN-A-0005", "SN-A-0006"]
    assert page.data["results"][1]["customer"] is None  # unsold stock

    def count(size):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{URL}RC-7/units/?page_size={size}").status_code == 200
        return len(queries)

    assert count(2) == count(6)
    assert client.get(f"{URL}RC-7/units/?status=nope").status_code == 400


def test_unit_status_endpoint(batch, engineer):
    _launched(engineer)
    client = api_for(engineer)
    url = f"{URL}RC-7/units/SN-A-0003/status/"
    response = client.post(url, {"status": "notified"}, format="json")
    assert response.status_code == 200 and response.data["status"] == "notified" and response.data["notified_at"]
    assert client.post(url, {"status": "pending"}, format="json").status_code == 409
    assert client.post(url, {"status": "nope"}, format="json").status_code == 400
    assert client.post(f"{URL}RC-7/units/SN-ZZ/status/", {"status": "notified"}, format="json").status_code == 404
    # Remedied without a ticket opens the remedy ticket; unsold stock cannot get one.
    response = client.post(url, {"status": "remedied"}, format="json")
    assert response.status_code == 200 and response.data["ticket"]
    response = client.post(f"{URL}RC-7/units/SN-A-0006/status/", {"status": "remedied"}, format="json")
    assert response.status_code == 400 and "customer" in response.data["errors"]


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_see_nothing(batch, engineer, role):
    _launched(engineer)
    client = api_for(UserFactory(username=f"u_{role}", roles=[role]))
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}RC-7/").status_code == 403
    assert client.get(f"{URL}RC-7/units/").status_code == 403
    assert client.post(URL, _body(code="RC-8"), format="json").status_code == 403


@pytest.mark.parametrize("role", ["manager", "committee_member"])
def test_readers_read_but_do_not_write(batch, engineer, role):
    _launched(engineer)
    client = api_for(UserFactory(username=f"u_{role}", roles=[role]))
    response = client.get(URL)
    assert response.status_code == 200 and response.data["results"][0]["code"] == "RC-7"
    assert response.data["results"][0]["affected"] == 6
    assert client.get(f"{URL}RC-7/").status_code == 200
    assert client.post(URL, _body(code="RC-8"), format="json").status_code == 403
    assert client.post(f"{URL}RC-7/transition/", {"to_state": "completed"}, format="json").status_code == 403
    assert client.post(f"{URL}RC-7/units/SN-A-0001/status/", {"status": "notified"}, format="json").status_code == 403


def test_anonymous_is_refused(batch, api):
    assert api.get(URL).status_code in (401, 403)


def test_detail_syncs_resolved_remedy_tickets(batch, engineer):
    recall = _launched(engineer)
    client = api_for(engineer)
    client.post(f"{URL}RC-7/units/SN-A-0001/status/", {"status": "scheduled"}, format="json")
    from quality.services import recall_unit_remedy_ticket
    from tickets.models import Ticket

    ru = RecallUnit.objects.get(recall=recall, unit__serial="SN-A-0002")
    ticket = recall_unit_remedy_ticket(recall_unit_id=ru.pk, actor=engineer)
    resolved = ticket.created_at + dt.timedelta(hours=3)
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved", resolved_at=resolved)
    response = client.get(f"{URL}RC-7/")
    assert response.data["figures"]["remedied"] == 1
