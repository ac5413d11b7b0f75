"""Committee reviews over the API: list/detail/create, agenda build, add, decide, minutes PDF."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from improvements import services
from improvements.models import AgendaKind, Decision, State, Verdict
from tests.conftest import api_for
from tests.improvements import review_fixtures as fx

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return fx.users()


def _meeting(people, title="March review", day=fx.MEETING_DAY):
    return services.meeting_create(
        actor=people["committee"],
        title=title,
        held_on=day,
        chair=people["committee"],
        attendees=[people["qe"], people["manager"]],
    )


def test_create_then_read_detail(people):
    api = api_for(people["qe"])
    created = api.post(
        "/api/v1/review-meetings/",
        {
            "title": "April review",
            "held_on": "2025-04-14",
            "chair": people["committee"].pk,
            "attendees": [people["committee"].pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["title"], body["held_on"], body["status"]) == ("April review", "2025-04-14", "planned")
    assert body["chair"]["username"] == "committee"
    assert [a["username"] for a in body["attendees"]] == ["committee"]
    assert body["items"] == [] and body["item_count"] == 0

    detail = api.get(f"/api/v1/review-meetings/{body['id']}/")
    assert detail.status_code == 200 and detail.json()["id"] == body["id"]


def test_create_refused_for_a_manager_and_bad_input(people):
    assert (
        api_for(people["manager"])
        .post("/api/v1/review-meetings/", {"title": "x", "held_on": "2025-04-14"}, format="json")
        .status_code
        == 403
    )
    bad = api_for(people["qe"]).post("/api/v1/review-meetings/", {"title": "", "held_on": "soon"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"title", "held_on"}


def test_agent_gets_403_and_unknown_meeting_404(people):
    meeting = _meeting(people)
    agent = api_for(people["agent"])
    assert agent.get("/api/v1/review-meetings/").status_code == 403
    assert agent.get(f"/api/v1/review-meetings/{meeting.pk}/").status_code == 403
    assert api_for(people["manager"]).get("/api/v1/review-meetings/999999/").status_code == 404


def test_build_add_decide_flow(people):
    meeting = _meeting(people)
    fx.issue("IMP-2025-0001", State.TRIAGE)
    verifying = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(verifying, Verdict.EFFECTIVE)
    closed = fx.issue("IMP-2025-0007", State.CLOSED, closed_at=fx.T0)
    qe, committee = api_for(people["qe"]), api_for(people["committee"])

    assert qe.post(f"/api/v1/review-meetings/{meeting.pk}/agenda/").json() == {"added": 2}
    assert qe.post(f"/api/v1/review-meetings/{meeting.pk}/agenda/").json() == {"added": 0}
    added = qe.post(f"/api/v1/review-meetings/{meeting.pk}/items/", {"issue": closed.pk}, format="json")
    assert added.status_code == 201
    assert (added.json()["kind"], added.json()["position"], added.json()["issue"]["code"]) == (
        AgendaKind.OTHER,
        3,
        "IMP-2025-0007",
    )
    duplicate = qe.post(f"/api/v1/review-meetings/{meeting.pk}/items/", {"issue": closed.pk}, format="json")
    assert duplicate.status_code == 409

    items = {i["issue"]["code"]: i for i in committee.get(f"/api/v1/review-meetings/{meeting.pk}/").json()["items"]}
    item_id = items["IMP-2025-0008"]["id"]
    assert qe.post(f"/api/v1/agenda-items/{item_id}/decision/", {"decision": "noted"}, format="json").status_code == 403
    decided = committee.post(
        f"/api/v1/agenda-items/{item_id}/decision/",
        {"decision": "accept_verification", "minutes": "Accepted."},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert (decided.json()["decision"], decided.json()["decided_by"]["username"]) == (
        Decision.ACCEPT_VERIFICATION,
        "committee",
    )
    verifying.refresh_from_db()
    assert verifying.state == State.CLOSED
    again = committee.post(f"/api/v1/agenda-items/{item_id}/decision/", {"decision": "noted"}, format="json")
    assert again.status_code == 409
    assert again.json()["errors"] == {"decision": ["already decided"]}

    refused = committee.post(
        f"/api/v1/agenda-items/{items['IMP-2025-0001']['id']}/decision/",
        {"decision": "close", "minutes": "x"},
        format="json",
    )
    assert refused.status_code == 409
    unknown = committee.post(f"/api/v1/agenda-items/{item_id}/decision/", {"decision": "maybe"}, format="json")
    assert unknown.status_code == 400


def test_minutes_pdf_over_the_api(people):
    meeting = _meeting(people)
    response = api_for(people["manager"]).get(f"/api/v1/review-meetings/{meeting.pk}/minutes.pdf?lang=zh-hans")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert (
        api_for(people["manager"]).get(f"/api/v1/review-meetings/{meeting.pk}/minutes.pdf?lang=fr").status_code == 400
    )


def _list_queries(user) -> tuple[int, dict]:
    api = api_for(type(user).objects.get(pk=user.pk))  # a fresh user: no cached roles
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/review-meetings/")
    assert response.status_code == 200
    return len(queries), response.json()


def test_list_query_count_is_constant(people):
    issue = fx.issue("IMP-2025-0001", State.TRIAGE)
    first = _meeting(people, "M0", dt.date(2025, 1, 1))
    services.agenda_item_add(meeting_id=first.pk, actor=people["qe"], issue_id=issue.pk)
    one, body = _list_queries(people["manager"])
    assert body["count"] == 1 and body["results"][0]["item_count"] == 1
    for n in range(1, 5):
        meeting = _meeting(people, f"M{n}", dt.date(2025, 1, 1 + n))
        services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=issue.pk)
    five, body = _list_queries(people["manager"])
    assert body["count"] == 5
    assert five == one
