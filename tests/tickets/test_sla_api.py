"""SLA over the API: the ticket's read-only `sla` block, and the policy and calendar
endpoints (staff read, admins write)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import api_for
from tests.factories import CustomerFactory, UserFactory
from tickets import services
from tickets.models import BusinessCalendar, CalendarDay, SlaPolicy, WorkingWindow

SH = ZoneInfo("Asia/Shanghai")
POLICIES = "/api/v1/sla-policies/"
CALENDARS = "/api/v1/calendars/"


@pytest.fixture
def admin_user(db):
    return UserFactory(username="sla_admin", roles=["admin"])


@pytest.fixture
def office(db):
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Asia/Shanghai", is_default=True)
    for weekday in range(5):
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=dt.time(9), end=dt.time(12))
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=dt.time(13, 30), end=dt.time(18))
    CalendarDay.objects.create(calendar=calendar, date=dt.date(2026, 3, 3), kind="holiday", name="Closed")
    return calendar


def test_ticket_sla_block(agent, team_a, office):
    SlaPolicy.objects.create(name="Normal", priority="normal", response_minutes=120, resolution_minutes=480)
    ticket = services.ticket_create(
        actor=agent,
        customer=CustomerFactory(),
        team=team_a,
        subject="Leak",
        type="repair",
        channel="phone",
        at=dt.datetime(2026, 3, 2, 10, tzinfo=SH),
        dispatch=False,
    )
    body = api_for(agent).get(f"/api/v1/tickets/{ticket.pk}/").json()
    sla = body["sla"]
    assert sla["policy"] == "Normal" and sla["due_source"] == "policy"
    # Resolution: 390 on Monday, Tuesday is a holiday, Wednesday 09:00 + 90.
    assert sla["resolution"]["due_at"] == "2026-03-04T02:30:00Z"  # 10:30 in Shanghai
    assert sla["response"]["state"] == "breached"  # it is long past 2026
    listed = api_for(agent).get("/api/v1/tickets/").json()["results"][0]["sla"]
    assert listed["resolution"]["due_at"] == sla["resolution"]["due_at"]


def test_policies_read_by_staff_written_by_admins(agent, admin_user, office):
    payload = {
        "name": "VIP urgent",
        "priority": "urgent",
        "segment": "vip",
        "response_minutes": 15,
        "resolution_minutes": 120,
        "calendar": "Office",
    }
    assert api_for(agent).post(POLICIES, payload, format="json").status_code == 403
    created = api_for(admin_user).post(POLICIES, payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["calendar"] == "Office"
    listed = api_for(agent).get(POLICIES).json()
    assert [p["name"] for p in listed["results"]] == ["VIP urgent"]
    bad = api_for(admin_user).post(POLICIES, {**payload, "response_minutes": 0}, format="json")
    assert bad.status_code == 400
    pk = created.json()["id"]
    changed = api_for(admin_user).patch(f"{POLICIES}{pk}/", {"active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert api_for(UserFactory(username="nobody")).get(POLICIES).status_code == 403


def test_calendars_with_nested_windows_and_days(agent, admin_user, office):
    body = api_for(agent).get(CALENDARS).json()["results"][0]
    assert body["name"] == "Office" and len(body["windows"]) == 10
    assert body["days"] == [
        {"date": "2026-03-03", "kind": "holiday", "name": "Closed", "works_like": 0, "source": "manual"}
    ]
    payload = {
        "name": "Berlin",
        "time_zone": "Europe/Berlin",
        "holiday_country": "DE",
        "is_default": True,
        "windows": [{"weekday": 0, "start": "08:00", "end": "16:00"}],
        "days": [{"date": "2026-04-03", "kind": "holiday", "name": "Karfreitag"}],
    }
    assert api_for(agent).post(CALENDARS, payload, format="json").status_code == 403
    created = api_for(admin_user).post(CALENDARS, payload, format="json")
    assert created.status_code == 201, created.json()
    office.refresh_from_db()
    assert not office.is_default  # the default moved
    pk = created.json()["id"]
    changed = api_for(admin_user).patch(
        f"{CALENDARS}{pk}/", {"windows": [{"weekday": 1, "start": "09:00", "end": "17:00"}]}, format="json"
    )
    assert changed.status_code == 200
    assert changed.json()["windows"] == [{"weekday": 1, "start": "09:00:00", "end": "17:00:00"}]
    assert len(changed.json()["days"]) == 1  # not given: kept
    bad = api_for(admin_user).post(CALENDARS, {**payload, "name": "X", "time_zone": "Mars/Base"}, format="json")
    assert bad.status_code == 400 and "time_zone" in bad.json()["errors"]
    backwards = api_for(admin_user).post(
        CALENDARS,
        {**payload, "name": "Y", "windows": [{"weekday": 0, "start": "17:00", "end": "09:00"}]},
        format="json",
    )
    assert backwards.status_code == 400
