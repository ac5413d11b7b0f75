"""Recall pages: who sees what, the create/edit form, state buttons, per-unit and bulk
actions, and the affected-units export (CSV and XLSX, with the status filter)."""

import datetime as dt
import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from quality import services
from quality.models import Recall, RecallUnit
from tests.factories import BatchFactory, CustomerFactory, UnitFactory, UserFactory

T0 = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def recall(db, engineer):
    batch = BatchFactory(code="B1")
    UnitFactory(
        serial="SN-A-0001",
        batch=batch,
        customer=CustomerFactory(name="Li Lei", phone="13800000001", email="li@example.com"),
    )
    UnitFactory(serial="SN-A-0002", batch=batch, customer=CustomerFactory(name="Han Meimei", phone="13800000002"))
    UnitFactory(serial="SN-A-0003", batch=batch, customer=None, sold_on=None)
    recall = services.recall_create(
        actor=engineer, code="RC-5", title="Door seal", severity="class_ii", batch_codes=["B1"], at=T0
    )
    services.recall_transition(recall_id=recall.pk, to_state="approved", actor=engineer, at=T0)
    services.recall_transition(recall_id=recall.pk, to_state="launched", actor=engineer, at=T0)
    RecallUnit.objects.filter(recall=recall, unit__serial="SN-A-0001").update(status="notified", notified_at=T0)
    return recall


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_get_403(recall, role):
    client = client_for(UserFactory(username=f"u_{role}", roles=[role]))
    for url in ("/recalls/", "/recalls/RC-5/", "/recalls/RC-5/units/export/?format=csv", "/recalls/new/"):
        assert client.get(url).status_code == 403, url
    # No "Recalls" item in their navbar.
    assert b"/recalls/" not in client.get("/").content


@pytest.mark.parametrize("role", ["manager", "committee_member"])
def test_readers_see_list_and_detail_without_actions(recall, role):
    client = client_for(UserFactory(username=f"u_{role}", roles=[role]))
    page = client.get("/recalls/")
    assert page.status_code == 200 and b"RC-5" in page.content and b"Door seal" in page.content
    detail = client.get("/recalls/RC-5/")
    assert detail.status_code == 200
    assert b'data-transition="completed"' not in detail.content and b"bulk-form" not in detail.content
    assert client.get("/recalls/new/").status_code == 403
    assert client.post("/recalls/RC-5/transition/", {"to_state": "completed"}).status_code == 403
    assert Recall.objects.get(code="RC-5").state == "launched"


def test_list_shows_affected_and_remedied_share(recall, engineer):
    RecallUnit.objects.filter(recall=recall, unit__serial="SN-A-0002").update(status="remedied", remedied_at=T0)
    content = client_for(engineer).get("/recalls/").content.decode()
    row = content[content.index('data-recall="RC-5"') :]
    row = row[: row.index("</tr>")]
    assert ">3<" in row and ">1<" in row and "33 %" in row


def test_detail_page_for_the_engineer(recall, engineer):
    response = client_for(engineer).get("/recalls/RC-5/")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-transition="completed"' in content and "terminate-form" in content
    assert 'id="bulk-form"' in content and 'data-serial="SN-A-0003"' in content
    assert response.context["figures"]["affected"] == 3
    assert response.context["figures"]["notification_rate_pct"] == pytest.approx(100 / 3)
    filtered = client_for(engineer).get("/recalls/RC-5/?status=notified")
    assert list(filtered.context["page"].object_list.values_list("unit__serial", flat=True)) == ["SN-A-0001"]
    assert client_for(engineer).get("/recalls/RC-0/").status_code == 404


def test_create_edit_and_launch_through_the_pages(db, engineer):
    BatchFactory(code="B9")
    UnitFactory(serial="SN-Q-0001")
    UnitFactory(serial="SN-Q-0002")
    client = client_for(engineer)
    refused = client.post("/recalls/new/", {"code": "RC-9", "title": "T", "severity": "class_i"})
    assert refused.status_code == 200 and refused.context["form"].errors["batch_codes"]
    bad = client.post(
        "/recalls/new/",
        {"code": "RC-9", "title": "T", "severity": "class_i", "serial_ranges": "SN-Q-0002..SN-Q-0001"},
    )
    assert bad.context["form"].errors["serial_ranges"] and not Recall.objects.exists()
    response = client.post("/recalls/new/", {"code": "RC-9", "title": "T", "severity": "class_i", "batch_codes": "B9"})
    assert response.status_code == 302 and Recall.objects.get(code="RC-9").state == "draft"
    response = client.post(
        "/recalls/RC-9/edit/",
        {"title": "T2", "severity": "class_i", "batch_codes": "", "serial_ranges": "SN-Q-0001..SN-Q-0002"},
    )
    assert response.status_code == 302
    assert list(Recall.objects.get(code="RC-9").serial_ranges.values_list("first", "last")) == [
        ("SN-Q-0001", "SN-Q-0002")
    ]
    client.post("/recalls/RC-9/transition/", {"to_state": "approved"})
    client.post("/recalls/RC-9/transition/", {"to_state": "launched"})
    assert RecallUnit.objects.filter(recall__code="RC-9").count() == 2
    # Editing is over once approved; an invalid move is a message, not an error page.
    assert client.get("/recalls/RC-9/edit/").status_code == 302
    response = client.post("/recalls/RC-9/transition/", {"to_state": "draft"}, follow=True)
    assert response.status_code == 200 and Recall.objects.get(code="RC-9").state == "launched"
    assert any("cannot go" in str(m) for m in response.context["messages"])


def test_unit_actions_and_bulk_notify(recall, engineer):
    client = client_for(engineer)
    units = {ru.unit.serial: ru for ru in RecallUnit.objects.filter(recall=recall).select_related("unit")}
    client.post(f"/recalls/RC-5/units/{units['SN-A-0002'].pk}/ticket/")
    ru = RecallUnit.objects.get(pk=units["SN-A-0002"].pk)
    assert ru.status == "scheduled" and ru.ticket is not None
    response = client.post("/recalls/RC-5/units/notify/", {"units": [u.pk for u in units.values()]})
    assert response.status_code == 302
    statuses = dict(RecallUnit.objects.filter(recall=recall).values_list("unit__serial", "status"))
    assert statuses == {"SN-A-0001": "notified", "SN-A-0002": "scheduled", "SN-A-0003": "notified"}
    client.post(f"/recalls/RC-5/units/{units['SN-A-0003'].pk}/status/", {"status": "unreachable"})
    assert RecallUnit.objects.get(pk=units["SN-A-0003"].pk).status == "unreachable"


def test_export_csv_with_the_status_filter(recall, engineer):
    response = client_for(engineer).get("/recalls/RC-5/units/export/?format=csv&status=notified")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "recall-RC-5" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    header, row = lines[0].split(","), lines[1].split(",")
    assert header[:8] == [
        "Serial number",
        "Product model",
        "Batch",
        "Customer ID",
        "Customer name",
        "Phone",
        "E-mail",
        "Region",
    ]
    assert row[0] == "SN-A-0001" and row[2] == "B1" and row[4] == "Li Lei" and row[5] == "13800000001"
    assert row[6] == "li@example.com" and "notified" in row and "Notified" in row
    assert "2025-06-02 17:00:00" in row  # notified_at, in the site's time zone (Shanghai)


def test_export_xlsx_all_units(recall, engineer):
    response = client_for(engineer).get("/recalls/RC-5/units/export/?format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["SN-A-0001", "SN-A-0002", "SN-A-0003"]
    assert rows[3][4] is None  # unsold stock: no customer


def test_export_unknown_format_is_refused(recall, engineer):
    response = client_for(engineer).get("/recalls/RC-5/units/export/?format=pdf")
    assert response.status_code == 302


def test_ticket_page_shows_the_recall_panel(recall, engineer):
    ru = RecallUnit.objects.get(recall=recall, unit__serial="SN-A-0001")
    ticket = services.recall_unit_remedy_ticket(recall_unit_id=ru.pk, actor=engineer)
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    content = client_for(admin).get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="recall-panel"' in content and "RC-5" in content and "SN-A-0001" in content
