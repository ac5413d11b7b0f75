# ruff: noqa: F811  (fixtures imported from pages_fixtures are redefined as test arguments)
"""The improvement API: every endpoint's happy path, its 400 / 409 / 404, garbage input
never a 500, and list endpoints with a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from improvements.models import Action, ActionStatus, Cause, ImprovementEvent, ImprovementIssue, State

from .conftest import T0, advance, corrective_action, verified_cause
from .pages_fixtures import batch, batch_alert, open_action, other_issue, records  # noqa: F401

pytestmark = pytest.mark.django_db

BASE = "/api/v1"


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def future(days=30) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


# --- issues --------------------------------------------------------------------------------


def test_list_and_filters(issue, other_issue, engineer, batch):
    client = api_for(engineer)
    body = client.get(f"{BASE}/improvement-issues/").json()
    assert body["count"] == 2
    row = next(r for r in body["results"] if r["code"] == issue.code)
    assert row["owner"] == "engineer" and row["state"] == "draft" and row["open_actions"] == 0
    assert [r["code"] for r in client.get(f"{BASE}/improvement-issues/?severity=minor").json()["results"]] == [
        other_issue.code
    ]
    assert [r["code"] for r in client.get(f"{BASE}/improvement-issues/?owner=engineer").json()["results"]] == [
        issue.code
    ]
    assert [r["code"] for r in client.get(f"{BASE}/improvement-issues/?q=seal").json()["results"]] == [other_issue.code]
    assert client.get(f"{BASE}/improvement-issues/?state=triage").json()["count"] == 0
    assert client.get(f"{BASE}/improvement-issues/?product_line=nope").json()["count"] == 0
    bad = client.get(f"{BASE}/improvement-issues/?state=flying&severity=huge")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"state", "severity"}


def test_create_detail_and_patch(engineer, team_a, batch, records):
    client = api_for(engineer)
    response = client.post(
        f"{BASE}/improvement-issues/",
        {
            "title": "Drum noise",
            "severity": "critical",
            "team": team_a.name,
            "batches": [batch.code],
            "failures": [f.pk for f in records],
            "baseline_kpi": "failures_per_1000",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"].startswith("IMP-") and body["state"] == "draft" and body["batches"] == [batch.code]
    assert body["evidence"]["failures"] == sorted(f.pk for f in records)
    assert [p["phase"] for p in body["phase_days"]][:3] == ["detected", "draft", "triage"]
    assert body["allowed_transitions"] == ["triage", "rejected", "cancelled"]
    issue_id = body["id"]
    patched = client.patch(
        f"{BASE}/improvement-issues/{issue_id}/", {"title": "Drum bearing noise", "severity": "minor"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["title"] == "Drum bearing noise"
    assert ImprovementIssue.objects.get(pk=issue_id).severity == "minor"
    assert client.get(f"{BASE}/improvement-issues/{issue_id}/").json()["severity"] == "minor"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "x", "severity": "huge"},
        {"title": "x", "batches": ["NOPE"]},
        {"title": "x", "failures": ["abc"]},
        {"title": "x", "failures": [999999]},
        {"title": "x", "owner": "nobody"},
        {"title": "x", "baseline_kpi": "no_such_kpi"},
        {"title": "x", "tickets": "not a list"},
        {"title": ["x"], "team": {"a": 1}},
    ],
)
def test_create_garbage_is_400(engineer, body):
    response = api_for(engineer).post(f"{BASE}/improvement-issues/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "errors"} and response.json()["errors"]
    assert not ImprovementIssue.objects.exists()


def test_transition_reopen_and_refusals(issue, engineer, committee):
    client = api_for(engineer)
    url = f"{BASE}/improvement-issues/{issue.pk}"
    assert client.post(f"{url}/transition/", {"state": "triage"}, format="json").json()["state"] == "triage"
    events = ImprovementEvent.objects.count()
    refused = client.post(f"{url}/transition/", {"state": "closed"}, format="json")
    assert refused.status_code == 409 and refused.json()["errors"] == {"state": ["transition not allowed"]}
    assert client.post(f"{url}/transition/", {"state": "flying"}, format="json").status_code == 400
    assert client.post(f"{url}/transition/", {"state": ["x"]}, format="json").status_code == 400
    assert client.post(f"{url}/transition/", {}, format="json").status_code == 400
    no_reason = client.post(f"{url}/transition/", {"state": "rejected"}, format="json")
    assert no_reason.status_code == 409 and "reason" in no_reason.json()["errors"]
    assert ImprovementEvent.objects.count() == events
    rejected = client.post(f"{url}/transition/", {"state": "rejected", "reason": "Duplicate"}, format="json")
    assert rejected.json()["state"] == "rejected"
    assert client.post(f"{url}/reopen/", {"reason": ""}, format="json").status_code == 400
    reopened = client.post(f"{url}/reopen/", {"reason": "Not a duplicate"}, format="json")
    assert reopened.status_code == 200 and reopened.json()["state"] == "triage" and reopened.json()["reopen_count"] == 1
    assert client.post(f"{url}/reopen/", {"reason": "again"}, format="json").status_code == 409


def test_guard_refusal_is_409_and_writes_nothing(issue, engineer, committee):
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    events = ImprovementEvent.objects.count()
    response = api_for(engineer).post(
        f"{BASE}/improvement-issues/{issue.pk}/transition/", {"state": "action_plan"}, format="json"
    )
    assert response.status_code == 409 and "causes" in response.json()["errors"]
    issue.refresh_from_db()
    assert issue.state == State.ROOT_CAUSE and ImprovementEvent.objects.count() == events


def test_evidence(issue, engineer, records):
    client = api_for(engineer)
    url = f"{BASE}/improvement-issues/{issue.pk}/evidence/"
    response = client.post(url, {"failures": [records[0].pk], "tickets": [records[0].ticket_id]}, format="json")
    assert response.status_code == 200
    assert response.json()["evidence"]["failures"] == [records[0].pk]
    assert client.post(url, {"failures": [424242]}, format="json").status_code == 400
    assert client.post(url, {"failures": "x"}, format="json").status_code == 400


def test_from_alert_and_from_records(engineer, batch, records):
    client = api_for(engineer)
    alert = batch_alert(batch.code)
    response = client.post(f"{BASE}/improvement-issues/from-alert/", {"alert": alert.pk}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["evidence"]["alerts"] == [alert.pk] and response.json()["batches"] == [batch.code]
    assert client.post(f"{BASE}/improvement-issues/from-alert/", {"alert": 99999}, format="json").status_code == 400
    assert client.post(f"{BASE}/improvement-issues/from-alert/", {"alert": "abc"}, format="json").status_code == 400
    response = client.post(
        f"{BASE}/improvement-issues/from-records/", {"failures": [f.pk for f in records]}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["evidence"]["failures"] == sorted(f.pk for f in records)
    assert client.post(f"{BASE}/improvement-issues/from-records/", {}, format="json").status_code == 400
    bad = client.post(f"{BASE}/improvement-issues/from-records/", {"tickets": [0]}, format="json")
    assert bad.status_code == 400


# --- causes --------------------------------------------------------------------------------


def test_cause_endpoints(issue, engineer, committee, records):
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    client = api_for(engineer)
    created = client.post(
        f"{BASE}/improvement-issues/{issue.pk}/causes/",
        {"category": "technology", "description": "Bad grease"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["verified"] is False
    cause_url = f"{BASE}/improvement-causes/{created.json()['id']}"
    bad = client.post(
        f"{BASE}/improvement-issues/{issue.pk}/causes/", {"category": "weather", "description": "x"}, format="json"
    )
    assert bad.status_code == 400 and "category" in bad.json()["errors"]
    patched = client.patch(f"{cause_url}/", {"category": "process"}, format="json")
    assert patched.status_code == 200 and patched.json()["category"] == "process"
    whys = client.put(f"{cause_url}/whys/", {"whys": ["Runs hot", "Grease breaks down"]}, format="json")
    assert whys.status_code == 200 and whys.json()["whys"] == ["Runs hot", "Grease breaks down"]
    assert client.put(f"{cause_url}/whys/", {"whys": ["a", "", "c"]}, format="json").status_code == 400
    assert client.put(f"{cause_url}/whys/", {"whys": "abc"}, format="json").status_code == 400
    assert client.post(f"{cause_url}/verify/", {"evidence": ""}, format="json").status_code == 400
    assert (
        client.post(f"{cause_url}/verify/", {"evidence": "Lab", "failure_ids": ["x"]}, format="json").status_code == 400
    )
    verified = client.post(
        f"{cause_url}/verify/", {"evidence": "Lab test", "failure_ids": [records[0].pk]}, format="json"
    )
    assert verified.status_code == 200 and verified.json()["verified"] is True
    assert verified.json()["evidence_failures"] == [records[0].pk]
    assert client.post(f"{cause_url}/unverify/", {"reason": ""}, format="json").status_code == 400
    unverified = client.post(f"{cause_url}/unverify/", {"reason": "Lab mix-up"}, format="json")
    assert unverified.status_code == 200 and unverified.json()["verified"] is False
    assert client.post(f"{cause_url}/unverify/", {"reason": "again"}, format="json").status_code == 409
    assert client.delete(f"{cause_url}/").status_code == 204
    assert not Cause.objects.filter(issue=issue).exists()
    assert client.delete(f"{cause_url}/").status_code == 404
    assert client.patch(f"{BASE}/improvement-causes/abc/", {}, format="json").status_code == 404


def test_recall_from_a_verified_cause(issue, engineer, committee, batch):
    issue.batches.add(batch)
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    cause = verified_cause(issue, user=engineer)
    unverified = Cause.objects.create(issue=issue, category="people", description="x")
    client = api_for(engineer)
    assert client.post(f"{BASE}/improvement-causes/{unverified.pk}/recall/", {}, format="json").status_code == 400
    response = client.post(f"{BASE}/improvement-causes/{cause.pk}/recall/", {}, format="json")
    assert response.status_code == 201, response.json()
    assert list(issue.recalls.values_list("code", flat=True)) == [response.json()["code"]]


# --- actions -------------------------------------------------------------------------------


def test_action_endpoints(issue, engineer, committee, agent_b):
    advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    client = api_for(engineer)
    created = client.post(
        f"{BASE}/improvement-actions/",
        {
            "issue": issue.pk,
            "kind": "corrective",
            "title": "New supplier",
            "owner": agent_b.username,
            "due_on": future(),
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    action_url = f"{BASE}/improvement-actions/{created.json()['id']}"
    assert created.json()["due_on"] == created.json()["current_due_on"] == future()
    for body in (
        {"issue": issue.pk, "kind": "magic", "title": "x", "owner": agent_b.username, "due_on": future()},
        {"issue": issue.pk, "kind": "corrective", "title": "x", "owner": agent_b.username, "due_on": "2026-13-45"},
        {"issue": issue.pk, "kind": "corrective", "title": "x", "owner": "ghost", "due_on": future()},
        {"issue": 999999, "kind": "corrective", "title": "x", "owner": agent_b.username, "due_on": future()},
        {"issue": "abc", "kind": "corrective", "title": "x", "owner": agent_b.username, "due_on": future()},
        {"issue": issue.pk, "kind": "corrective", "title": "x", "owner": agent_b.username, "due_on": "2001-01-01"},
    ):
        assert client.post(f"{BASE}/improvement-actions/", body, format="json").status_code == 400, body
    patched = client.patch(f"{action_url}/", {"title": "Qualify a new supplier"}, format="json")
    assert patched.status_code == 200 and patched.json()["title"] == "Qualify a new supplier"
    moved = client.post(f"{action_url}/due-date/", {"due_on": future(45), "reason": "Tooling late"}, format="json")
    assert moved.status_code == 200
    assert (moved.json()["due_on"], moved.json()["current_due_on"]) == (future(), future(45))
    assert (
        client.post(f"{action_url}/due-date/", {"due_on": future(50), "reason": ""}, format="json").status_code == 400
    )
    assert client.post(f"{action_url}/due-date/", {"due_on": "soon", "reason": "x"}, format="json").status_code == 400
    # The owner (an agent) sets the status; moving the date is not theirs.
    owner = api_for(agent_b)
    assert (
        owner.post(f"{action_url}/due-date/", {"due_on": future(60), "reason": "x"}, format="json").status_code == 403
    )
    assert owner.post(f"{action_url}/status/", {"status": "done", "evidence": ""}, format="json").status_code == 400
    assert owner.post(f"{action_url}/status/", {"status": "finished"}, format="json").status_code == 400
    done = owner.post(
        f"{action_url}/status/",
        {"status": "done", "evidence": "ECN-77", "completed_on": dt.date.today().isoformat()},
        format="json",
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert owner.get(f"{BASE}/improvement-actions/?mine=1").json()["count"] == 1
    assert Action.objects.get().status == ActionStatus.DONE


def test_action_list_filters(issue, other_issue, engineer, agent_b):
    open_action(issue, agent_b, due_on=dt.date(2020, 1, 1))
    open_action(other_issue, engineer, due_on=dt.date.today() + dt.timedelta(days=10))
    client = api_for(engineer)
    assert client.get(f"{BASE}/improvement-actions/").json()["count"] == 2
    assert client.get(f"{BASE}/improvement-actions/?mine=1").json()["count"] == 1
    overdue = client.get(f"{BASE}/improvement-actions/?overdue=1").json()
    assert [a["issue_code"] for a in overdue["results"]] == [issue.code]
    assert client.get(f"{BASE}/improvement-actions/?issue=abc").status_code == 400
    assert client.get(f"{BASE}/improvement-actions/?issue={other_issue.pk}").json()["count"] == 1


# --- scope, permissions, garbage -----------------------------------------------------------


def test_scope_is_404_and_reading_is_not_working(issue, other_issue, agent_b, manager):
    action = open_action(issue, agent_b)
    other = open_action(other_issue, other_issue.owner)
    client = api_for(agent_b)
    assert [r["code"] for r in client.get(f"{BASE}/improvement-issues/").json()["results"]] == [issue.code]
    assert client.get(f"{BASE}/improvement-issues/{issue.pk}/").status_code == 200
    assert client.get(f"{BASE}/improvement-issues/{other_issue.pk}/").status_code == 404
    assert [a["id"] for a in client.get(f"{BASE}/improvement-actions/").json()["results"]] == [action.pk]
    assert (
        client.post(
            f"{BASE}/improvement-actions/{other.pk}/status/", {"status": "in_progress"}, format="json"
        ).status_code
        == 404
    )
    assert (
        client.post(f"{BASE}/improvement-issues/{issue.pk}/transition/", {"state": "triage"}, format="json").status_code
        == 403
    )
    assert client.post(f"{BASE}/improvement-issues/", {"title": "x"}, format="json").status_code == 403
    reader = api_for(manager)
    assert reader.get(f"{BASE}/improvement-issues/").json()["count"] == 2
    assert reader.patch(f"{BASE}/improvement-issues/{issue.pk}/", {"title": "y"}, format="json").status_code == 403
    assert APIClient().get(f"{BASE}/improvement-issues/").status_code in (401, 403)


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/improvement-issues/abc/", None),
        ("get", "/improvement-issues/1.5/", None),
        ("patch", "/improvement-issues/{pk}/", {"owner": 5}),
        ("patch", "/improvement-issues/{pk}/", {"batches": "B1"}),
        ("post", "/improvement-issues/{pk}/transition/", {"state": None}),
        ("post", "/improvement-issues/{pk}/evidence/", {"tickets": [{"a": 1}]}),
        ("post", "/improvement-issues/{pk}/causes/", {"category": 5}),
        ("post", "/improvement-issues/{pk}/causes/", "not json"),
        ("post", "/improvement-actions/", {"issue": "{pk}", "due_on": 20260101}),
        ("get", "/improvement-actions/abc/", None),
        ("post", "/improvement-causes/abc/verify/", {"evidence": "x"}),
    ],
)
def test_garbage_never_500(issue, engineer, method, path, body):
    client = api_for(engineer)
    if isinstance(body, dict):
        body = {k: (issue.pk if v == "{pk}" else v) for k, v in body.items()}
    response = getattr(client, method)(f"{BASE}{path.format(pk=issue.pk)}", body, format="json")
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert "detail" in response.json()


def test_list_endpoints_run_constant_queries(engineer, committee):
    client = api_for(engineer)

    def count(url):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    def make(n):
        issue = ImprovementIssue.objects.filter(title=f"Issue {n}").first()
        if issue is None:
            from improvements.services.issues import issue_create

            issue = issue_create(title=f"Issue {n}", actor=engineer, at=T0)
        verified_cause(issue, user=engineer)
        Cause.objects.create(issue=issue, category="people", description="Training")
        corrective_action(issue, engineer, status=ActionStatus.OPEN, due_on=dt.date.today() + dt.timedelta(days=9))
        open_action(issue, committee, due_on=dt.date(2020, 1, 1))
        return issue

    make(0)
    count(f"{BASE}/improvement-issues/")  # warms the user's permission cache
    one = (count(f"{BASE}/improvement-issues/"), count(f"{BASE}/improvement-actions/"))
    for n in range(1, 5):
        make(n)
    assert (count(f"{BASE}/improvement-issues/"), count(f"{BASE}/improvement-actions/")) == one
    rows = client.get(f"{BASE}/improvement-issues/").json()["results"]
    assert len(rows) == 5 and all(r["open_actions"] == 2 and r["overdue_actions"] == 1 for r in rows)
    assert all(r["verified_causes"] == 1 for r in rows)
