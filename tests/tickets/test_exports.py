"""Ticket exports: the queue page's CSV/XLSX (its filters, default and scope, headers in
the user's language) and GET /api/v1/tickets/export/ (the list's filters and scope,
stable headers); formula defusing, query budgets, errors and access."""

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import exports
from tests.conftest import api_for
from tests.factories import CustomerFactory, RegionFactory, TicketFactory, UnitFactory
from tickets.api.serializers import TicketSerializer
from tickets.models import Status

pytestmark = pytest.mark.django_db

PAGE = reverse("tickets:export")
API = "/api/v1/tickets/export/"
T0 = timezone.make_aware(dt.datetime(2025, 6, 2, 9, 0))  # Shanghai time
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZONE = "Asia/Shanghai"


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def client_for(user, language="en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def body(response) -> bytes:
    assert response.status_code == 200, response.content if not response.streaming else response.status_code
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    raw = body(response)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def xlsx_rows(response) -> list[list]:
    assert response["Content-Type"] == XLSX_TYPE
    sheet = openpyxl.load_workbook(io.BytesIO(body(response))).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def numbers(response) -> list[str]:
    return [row[0] for row in csv_rows(response)[1:]]


@pytest.fixture
def closed(agent, team_a):
    """A ticket with every column filled in."""
    unit = UnitFactory(
        serial="SN-0001", customer=CustomerFactory(external_id="C-1", name="李雷", region=RegionFactory(name="华东"))
    )
    return TicketFactory(
        external_id="T-0001",
        subject="Drum noise, loud",
        customer=unit.customer,
        unit=unit,
        type="repair",
        channel="wechat",
        priority="high",
        status=Status.CLOSED,
        team=team_a,
        assignee=agent,
        created_at=at(0),
        assigned_at=at(0.25),
        first_response_at=at(0.5),
        response_due_at=at(1),
        resolution_due_at=at(24),
        resolved_at=at(20),
        closed_at=at(30),
        follow_up_at=at(48),
        visits=2,
        reopened_count=1,
        reassignments=3,
    )


@pytest.fixture
def fresh(team_a):
    """A new ticket: most columns empty."""
    return TicketFactory(
        external_id="T-0002",
        subject='=HYPERLINK("http://evil.example","click")',
        customer=CustomerFactory(external_id="C-2", name="Acme", region=RegionFactory(name="East")),
        type="inquiry",
        channel="phone",
        priority="normal",
        team=team_a,
        created_at=at(1.5),
    )


# --- the queue page's export ----------------------------------------------------------------------

PAGE_HEADERS = [
    "Number",
    "Subject",
    "Customer ID",
    "Customer name",
    "Region",
    "Serial number",
    "Product model",
    "Type (code)",
    "Type",
    "Channel (code)",
    "Channel",
    "Priority (code)",
    "Priority",
    "Status (code)",
    "Status",
    "Team",
    "Assignee",
    *(
        f"{name} ({ZONE})"
        for name in [
            "Created at",
            "Assigned at",
            "First response at",
            "Response due at",
            "Resolution due at",
            "Resolved at",
            "Closed at",
            "Follow-up at",
        ]
    ),
    "Visits",
    "Times reopened",
    "Reassignments",
]


def test_page_csv_is_exact(agent, closed, fresh):
    response = client_for(agent).get(PAGE, {"format": "csv", "status": "", "sort": "created"})
    name = r"tickets-\d{8}-\d{4}\.csv"
    assert re.fullmatch(f"attachment; filename=\"{name}\"; filename\\*=UTF-8''{name}", response["Content-Disposition"])
    model = closed.unit.product_model.code
    assert csv_rows(response) == [
        PAGE_HEADERS,
        [
            "T-0001", "Drum noise, loud", "C-1", "李雷", "华东", "SN-0001", model,
            "repair", "Repair", "wechat", "WeChat", "high", "High", "closed", "Closed", "Team A", "agent_a",
            "2025-06-02 09:00:00", "2025-06-02 09:15:00", "2025-06-02 09:30:00", "2025-06-02 10:00:00",
            "2025-06-03 09:00:00", "2025-06-03 05:00:00", "2025-06-03 15:00:00", "2025-06-04 09:00:00",
            "2", "1", "3",
        ],
        [
            "T-0002", "'=HYPERLINK(\"http://evil.example\",\"click\")", "C-2", "Acme", "East", "", "",
            "inquiry", "Inquiry", "phone", "Phone", "normal", "Normal", "new", "New", "Team A", "",
            "2025-06-02 10:30:00", "", "", "", "", "", "", "",
            "1", "0", "0",
        ],
    ]  # fmt: skip


def test_page_xlsx_has_the_header_and_local_datetimes(agent, closed, fresh):
    rows = xlsx_rows(client_for(agent).get(PAGE, {"format": "xlsx", "status": "", "sort": "created"}))
    assert rows[0] == PAGE_HEADERS
    assert len(rows) == 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Created at (Asia/Shanghai)"] == dt.datetime(2025, 6, 2, 9, 0)
    assert first["Closed at (Asia/Shanghai)"] == dt.datetime(2025, 6, 3, 15, 0)
    assert first["Customer name"] == "李雷"
    assert first["Visits"] == 2 and first["Reassignments"] == 3
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["Subject"] == '\'=HYPERLINK("http://evil.example","click")'
    assert second["Assigned at (Asia/Shanghai)"] is None


def test_page_export_headers_in_chinese(agent, closed):
    rows = csv_rows(client_for(agent, "zh-hans").get(PAGE, {"format": "csv", "status": ""}))
    header = rows[0]
    assert header[:3] == ["工单号", "主题", "客户编号"]
    assert "创建时间 (Asia/Shanghai)" in header
    assert "状态 (代码)" in header and "状态" in header
    row = dict(zip(header, rows[1], strict=True))
    assert row["状态 (代码)"] == "closed" and row["状态"] == "已关闭"
    assert row["客户编号"] == "C-1"


def test_page_export_opens_on_the_open_tickets_like_the_queue(agent, closed, fresh):
    client = client_for(agent)
    assert numbers(client.get(PAGE, {"format": "csv"})) == ["T-0002"]
    queue = client.get(reverse("tickets:queue"))
    assert [t.external_id for t in queue.context["page"]] == ["T-0002"]
    # "Any status" is a choice of its own; an explicit status is taken as given.
    assert sorted(numbers(client.get(PAGE, {"format": "csv", "status": ""}))) == ["T-0001", "T-0002"]
    assert numbers(client.get(PAGE, {"format": "csv", "status": "closed"})) == ["T-0001"]


def test_page_export_follows_the_filters_and_sort(agent, supervisor, team_a):
    TicketFactory(external_id="A-1", team=team_a, priority="low", subject="Leaking hose", created_at=at(0))
    TicketFactory(external_id="A-2", team=team_a, priority="urgent", subject="Smoke", created_at=at(1))
    TicketFactory(
        external_id="A-3", team=team_a, priority="normal", created_at=at(2), customer=CustomerFactory(name="Zhang Wei")
    )
    TicketFactory(
        external_id="A-4", team=team_a, status=Status.ASSIGNED, assignee=agent, created_at=at(3), assigned_at=at(4)
    )
    client = client_for(agent)

    def export(**params):
        return numbers(client.get(PAGE, {"format": "csv", **params}))

    assert export(q="smoke") == ["A-2"]
    assert export(q="zhang") == ["A-3"]
    assert export(priority="urgent") == ["A-2"]
    assert export(mine="on") == ["A-4"]
    assert export(team=team_a.pk, status="new", sort="priority") == ["A-2", "A-3", "A-1"]
    assert export(sort="created", status="new") == ["A-1", "A-2", "A-3"]
    assert export(status="assigned") == ["A-4"]
    # The page number is not a filter: the export has every page.
    assert len(export(page="2", status="")) == 4


def test_page_export_team_filter(manager, team_a, team_b, closed, fresh):
    TicketFactory(external_id="B-1", team=team_b)
    client = client_for(manager)
    assert numbers(client.get(PAGE, {"format": "csv", "team": team_b.pk})) == ["B-1"]
    assert sorted(numbers(client.get(PAGE, {"format": "csv", "team": team_a.pk, "status": ""}))) == ["T-0001", "T-0002"]
    assert sorted(numbers(client.get(PAGE, {"format": "csv", "status": ""}))) == ["B-1", "T-0001", "T-0002"]


def test_page_export_never_leaves_the_agents_scope(agent, team_b, closed, fresh):
    TicketFactory(external_id="B-1", team=team_b, subject="Theirs")
    client = client_for(agent)
    for params in [{}, {"status": ""}, {"team": team_b.pk, "status": ""}, {"q": "B-1", "status": ""}]:
        for fmt in ["csv", "xlsx"]:
            response = client.get(PAGE, {"format": fmt, **params})
            values = [row[0] for row in csv_rows(response)] if fmt == "csv" else [r[0] for r in xlsx_rows(response)]
            assert "B-1" not in values, (fmt, params)


def test_page_export_of_a_team_b_agent(agent_b, team_b, closed):
    TicketFactory(external_id="B-1", team=team_b)
    assert numbers(client_for(agent_b).get(PAGE, {"format": "csv", "status": ""})) == ["B-1"]


def test_page_export_unknown_format_is_a_400_page(agent, closed):
    for params in [{"format": "pdf"}, {}]:
        response = client_for(agent).get(PAGE, params)
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        text = response.content.decode()
        assert "csv or xlsx" in text and reverse("tickets:queue") in text


def test_page_export_too_many_rows_for_a_sheet(agent, closed, fresh, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 1)
    client = client_for(agent)
    response = client.get(PAGE, {"format": "xlsx", "status": ""})
    assert response.status_code == 400
    assert "more than 1 rows" in response.content.decode()
    assert len(csv_rows(client.get(PAGE, {"format": "csv", "status": ""}))) == 3  # CSV has no such limit


def test_page_export_needs_a_login(closed):
    response = Client().get(PAGE, {"format": "csv"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_page_export_only_answers_get(agent):
    assert client_for(agent).post(PAGE, {"format": "csv"}).status_code == 405


def _add_tickets(team, agent, n):
    for _ in range(n):
        unit = UnitFactory()
        TicketFactory(
            team=team,
            customer=unit.customer,
            unit=unit,
            status=Status.ASSIGNED,
            assignee=agent,
            assigned_at=timezone.now(),
        )


def _count(client, url, params) -> int:
    client.get(url, params)  # warm the caches (session, permissions)
    with CaptureQueriesContext(connection) as queries:
        body(client.get(url, params))
    return len(queries)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_page_export_queries_do_not_grow_with_rows(agent, team_a, fmt):
    client = client_for(agent)
    _add_tickets(team_a, agent, 5)
    few = _count(client, PAGE, {"format": fmt})
    _add_tickets(team_a, agent, 45)
    assert len(numbers(client.get(PAGE, {"format": "csv"}))) == 50
    assert _count(client, PAGE, {"format": fmt}) == few


def test_queue_page_has_export_links_with_its_filters(agent, closed):
    client = client_for(agent)
    text = client.get(reverse("tickets:queue")).content.decode()
    assert f'href="{PAGE}?format=csv"' in text and f'href="{PAGE}?format=xlsx"' in text
    text = client.get(reverse("tickets:queue"), {"status": "closed", "q": "drum", "page": "2"}).content.decode()
    assert f'href="{PAGE}?status=closed&amp;q=drum&amp;format=csv"' in text
    assert "Export XLSX" in text


# --- the API export -------------------------------------------------------------------------------

API_HEADERS = [
    "external_id",
    "subject",
    "customer",
    "customer_name",
    "region",
    "unit",
    "product_model",
    "type",
    "channel",
    "priority",
    "status",
    "team",
    "assignee",
    "created_at",
    "assigned_at",
    "first_response_at",
    "response_due_at",
    "resolution_due_at",
    "resolved_at",
    "closed_at",
    "follow_up_at",
    "visits",
    "reopened_count",
    "reassignments",
]


def test_api_headers_are_the_list_fields():
    assert set(API_HEADERS) <= set(TicketSerializer.Meta.fields)


def test_api_csv_is_exact(agent, closed, fresh):
    response = api_for(agent).get(API, {"format": "csv", "ordering": "created_at"})
    assert response["Content-Disposition"].startswith('attachment; filename="tickets-')
    model = closed.unit.product_model.code
    assert csv_rows(response) == [
        API_HEADERS,
        [
            "T-0001", "Drum noise, loud", "C-1", "李雷", "华东", "SN-0001", model,
            "repair", "wechat", "high", "closed", "Team A", "agent_a",
            "2025-06-02 09:00:00", "2025-06-02 09:15:00", "2025-06-02 09:30:00", "2025-06-02 10:00:00",
            "2025-06-03 09:00:00", "2025-06-03 05:00:00", "2025-06-03 15:00:00", "2025-06-04 09:00:00",
            "2", "1", "3",
        ],
        [
            "T-0002", "'=HYPERLINK(\"http://evil.example\",\"click\")", "C-2", "Acme", "East", "", "",
            "inquiry", "phone", "normal", "new", "Team A", "",
            "2025-06-02 10:30:00", "", "", "", "", "", "", "", "1", "0", "0",
        ],
    ]  # fmt: skip


def test_api_headers_do_not_follow_the_language(agent, closed):
    client = api_for(agent)
    assert csv_rows(client.get(API, {"format": "csv"}, headers={"accept-language": "zh-hans"}))[0] == API_HEADERS


def test_api_xlsx(agent, closed, fresh):
    rows = xlsx_rows(api_for(agent).get(API, {"format": "xlsx", "ordering": "-created_at"}))
    assert rows[0] == API_HEADERS
    assert [row[0] for row in rows[1:]] == ["T-0002", "T-0001"]
    first = dict(zip(API_HEADERS, rows[2], strict=True))
    assert first["created_at"] == dt.datetime(2025, 6, 2, 9, 0)
    assert isinstance(first["resolved_at"], dt.datetime) and first["resolved_at"].tzinfo is None
    assert first["visits"] == 2
    assert rows[1][1] == '\'=HYPERLINK("http://evil.example","click")'


def test_api_export_follows_the_list_filters(manager, team_a, team_b, closed, fresh):
    TicketFactory(external_id="B-1", team=team_b, priority="urgent", subject="Smoke", created_at=at(3))
    client = api_for(manager)

    def export(**params):
        return numbers(client.get(API, {"format": "csv", **params}))

    assert export() == ["B-1", "T-0002", "T-0001"]  # the list's default order: newest first
    assert export(status="closed") == ["T-0001"]
    assert export(status=["new", "closed"], ordering="created_at") == ["T-0001", "T-0002", "B-1"]
    assert export(q="smoke") == ["B-1"]
    assert export(q="李雷") == ["T-0001"]
    assert export(team="Team B") == ["B-1"]
    assert export(priority="urgent", team="Team A") == []
    assert export(created_after=at(1).isoformat()) == ["B-1", "T-0002"]
    list_numbers = [t["external_id"] for t in client.get("/api/v1/tickets/", {"status": "new"}).json()["results"]]
    assert export(status="new") == list_numbers


def test_api_export_never_leaves_the_agents_scope(agent, team_b, closed):
    TicketFactory(external_id="B-1", team=team_b)
    client = api_for(agent)
    assert numbers(client.get(API, {"format": "csv"})) == ["T-0001"]
    assert numbers(client.get(API, {"format": "csv", "team": "Team B"})) == []
    assert [row[0] for row in xlsx_rows(client.get(API, {"format": "xlsx", "q": "B-1"}))] == ["external_id"]


def test_api_export_errors_are_json(agent, closed):
    client = api_for(agent)
    for params in [{}, {"format": "pdf"}, {"format": "json"}, {"format": "api"}]:
        response = client.get(API, params)
        assert response.status_code == 400, params
        assert response["Content-Type"] == "application/json"
        assert response.json()["errors"] == {"format": [response.json()["detail"]]}
    response = client.get(API, {"format": "csv", "status": "nonsense"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["status"]


def test_api_export_too_many_rows_for_a_sheet(agent, closed, fresh, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 1)
    response = api_for(agent).get(API, {"format": "xlsx"})
    assert response.status_code == 400
    assert "1" in response.json()["detail"] and "CSV" in response.json()["detail"]


def test_api_export_needs_a_login(closed):
    response = APIClient().get(API, {"format": "csv"})
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"detail", "errors"}


def test_api_export_with_a_token(agent, closed):
    from rest_framework.authtoken.models import Token

    client = APIClient(headers={"authorization": f"Token {Token.objects.create(user=agent).key}"})
    assert numbers(client.get(API, {"format": "csv"})) == ["T-0001"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_api_export_queries_do_not_grow_with_rows(agent, team_a, fmt):
    client = api_for(agent)
    _add_tickets(team_a, agent, 5)
    few = _count(client, API, {"format": fmt})
    _add_tickets(team_a, agent, 45)
    assert len(numbers(client.get(API, {"format": "csv"}))) == 50
    assert _count(client, API, {"format": fmt}) == few
