# ruff: noqa: F811  (fixtures imported from pages_fixtures are redefined as test arguments)
"""The improvement pages: board, issue page, forms through the pages (every POST is one
service call; a refusal shows its reason and writes nothing), my actions, the alert's
panel, scoping (out of scope is a 404) and permissions."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from improvements.models import (
    Action,
    ActionEvent,
    ActionStatus,
    Cause,
    ImprovementEvent,
    ImprovementIssue,
    State,
)
from improvements.services.issues import issue_create

from .conftest import T0, advance, corrective_action, verified_cause
from .pages_fixtures import batch, batch_alert, client_for, open_action, other_issue, outsider, records  # noqa: F401

pytestmark = pytest.mark.django_db


def detail(issue):
    return reverse("improvements:issue-detail", args=[issue.pk])


def post_move(client, issue, state, **extra):
    return client.post(
        reverse("improvements:issue-transition", args=[issue.pk]), {"state": state, **extra}, follow=True
    )


# --- board ---------------------------------------------------------------------------------


def test_board_shows_cards_in_their_state_columns(issue, other_issue, engineer, committee):
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    open_action(issue, engineer, due_on=dt.date(2020, 1, 1))  # overdue
    response = client_for(engineer).get(reverse("improvements:board"))
    assert response.status_code == 200
    html = response.content.decode()
    root_cause = html.split('data-state="root_cause"')[1].split("</section>")[0]
    draft = html.split('data-state="draft"')[1].split("</section>")[0]
    assert issue.code in root_cause and issue.code not in draft
    assert other_issue.code in draft
    assert 'data-overdue="1"' in root_cause and 'data-open-actions="1"' in root_cause


def test_board_filters(issue, other_issue, engineer):
    client = client_for(engineer)
    html = client.get(reverse("improvements:board"), {"severity": "minor"}).content.decode()
    assert other_issue.code in html and issue.code not in html
    html = client.get(reverse("improvements:board"), {"mine": "on"}).content.decode()
    assert issue.code in html and other_issue.code not in html
    html = client.get(reverse("improvements:board"), {"owner": "chair"}).content.decode()
    assert other_issue.code in html and issue.code not in html


def test_board_shows_the_last_closed(issue, engineer, committee):
    advance(issue, State.CLOSED, actor=engineer, committee=committee)
    html = client_for(engineer).get(reverse("improvements:board")).content.decode()
    closed = html.split('data-state="closed"')[1].split("</section>")[0]
    assert issue.code in closed


def test_board_runs_constant_queries(engineer, committee):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(engineer).get(reverse("improvements:board")).status_code == 200
        return len(ctx.captured_queries)

    first = issue_create(title="One", actor=engineer, at=T0)
    open_action(first, engineer)
    one = count()
    for n in range(4):
        extra = issue_create(title=f"More {n}", actor=committee, owner=committee, at=T0)
        open_action(extra, committee)
        verified_cause(extra)
    assert count() == one


# --- issue page ----------------------------------------------------------------------------


def test_detail_shows_fishbone_actions_waterfall_and_timeline(issue, engineer, committee):
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    cause = verified_cause(issue, category="process", user=engineer)
    Cause.objects.create(issue=issue, category="people", description="Operators not trained")
    corrective_action(issue, engineer, status=ActionStatus.OPEN)
    response = client_for(engineer).get(detail(issue))
    assert response.status_code == 200
    html = response.content.decode()
    # One bone per category of the default set, the causes on theirs.
    for code in ("people", "process", "technology", "customer", "environment"):
        assert f'data-bone="{code}"' in html
    process_bone = html.split('data-bone="process"')[1].split('data-bone="')[0]
    assert "Undersized bearing" in process_bone and "bi-check-circle-fill" in process_bone
    assert f'id="cause-{cause.pk}"' in html and "Teardown of 12 returns" in html
    assert "Change the bearing" in html
    waterfall = json.loads(html.split('id="waterfall-data" type="application/json">')[1].split("</script>")[0])
    # From the earliest evidence to the opening first, then the phases.
    assert waterfall["phases"][:3] == ["detected", "draft", "triage"]
    issue.refresh_from_db()
    assert waterfall["days"][0] == pytest.approx((issue.created_at - issue.detected_at).total_seconds() / 86400)
    assert waterfall["days"][1] == pytest.approx(1 / 24, abs=1e-3)  # advance: one hour per step
    assert waterfall["running"][4] > 0 and sum(waterfall["running"]) == waterfall["running"][4]
    assert 'data-event="transition"' in html and 'data-event="created"' in html


def test_a_refused_transition_shows_its_reason_and_writes_nothing(issue, engineer, committee):
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    client = client_for(engineer)
    html = client.get(detail(issue)).content.decode()
    assert 'data-transition="action_plan"' in html
    button = html.split('data-transition="action_plan"')[0].rsplit("<button", 1)[1]
    assert "disabled" in button
    assert 'data-refused="action_plan"' in html
    assert "At least one root cause must be verified before the action plan." in html
    events = ImprovementEvent.objects.count()
    response = post_move(client, issue, State.ACTION_PLAN)
    assert "At least one root cause must be verified before the action plan." in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == State.ROOT_CAUSE and ImprovementEvent.objects.count() == events


def test_transitions_through_the_page(issue, engineer):
    client = client_for(engineer)
    post_move(client, issue, State.TRIAGE)
    issue.refresh_from_db()
    assert issue.state == State.TRIAGE
    response = post_move(client, issue, State.REJECTED)  # no reason
    assert "A reason is required." in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == State.TRIAGE
    post_move(client, issue, State.REJECTED, reason="A duplicate of IMP-0")
    issue.refresh_from_db()
    assert issue.state == State.REJECTED and issue.reason == "A duplicate of IMP-0"
    client.post(reverse("improvements:issue-reopen", args=[issue.pk]), {"reason": "Not a duplicate"})
    issue.refresh_from_db()
    assert issue.state == State.TRIAGE and issue.reopen_count == 1


def test_garbage_transition_is_a_message_not_a_500(issue, engineer):
    response = post_move(client_for(engineer), issue, "flying")
    assert response.status_code == 200
    assert "Unknown state." in response.content.decode()


def test_closing_override_is_offered_to_the_committee_only(issue, engineer, committee):
    advance(issue, State.VERIFICATION, actor=engineer, committee=committee)
    html = client_for(engineer).get(detail(issue)).content.decode()
    assert 'data-refused="closed"' in html  # the engineer: no verification, no override
    html = client_for(committee).get(detail(issue)).content.decode()
    assert 'data-refused="closed"' not in html and 'name="override_reason"' in html
    post_move(client_for(committee), issue, State.CLOSED, override_reason="Supplier gone; part discontinued")
    issue.refresh_from_db()
    assert issue.state == State.CLOSED and issue.override_reason == "Supplier gone; part discontinued"


def test_analysis_through_the_page(issue, engineer, committee, records):
    advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    client = client_for(engineer)
    client.post(
        reverse("improvements:cause-add", args=[issue.pk]), {"category": "technology", "description": "Bad grease"}
    )
    cause = Cause.objects.get(issue=issue)
    client.post(
        reverse("improvements:cause-whys", args=[cause.pk]),
        {"why_1": "Bearing runs hot", "why_2": "Grease breaks down", "why_3": "Wrong grease spec", "why_4": ""},
    )
    assert list(cause.whys.values_list("text", flat=True)) == [
        "Bearing runs hot",
        "Grease breaks down",
        "Wrong grease spec",
    ]
    response = client.post(reverse("improvements:cause-verify", args=[cause.pk]), {"evidence": ""}, follow=True)
    assert "Not saved" in response.content.decode()
    client.post(
        reverse("improvements:cause-verify", args=[cause.pk]),
        {"evidence": "Lab test of 5 returns", "failures": records[0].external_id},
    )
    cause.refresh_from_db()
    assert cause.verified and list(cause.evidence_failures.all()) == [records[0]]
    post_move(client, issue, State.ACTION_PLAN)
    issue.refresh_from_db()
    assert issue.state == State.ACTION_PLAN


def test_a_bad_category_is_refused_with_the_services_reason(issue, engineer):
    response = client_for(engineer).post(
        reverse("improvements:cause-add", args=[issue.pk]), {"category": "weather", "description": "Rain"}, follow=True
    )
    assert response.status_code == 200
    assert "The cause was not added." in response.content.decode()
    assert not Cause.objects.exists()


def test_actions_through_the_page(issue, engineer, committee, agent_b):
    advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    client = client_for(engineer)
    due, moved = dt.date.today() + dt.timedelta(days=30), dt.date.today() + dt.timedelta(days=50)
    client.post(
        reverse("improvements:action-add", args=[issue.pk]),
        {"kind": "corrective", "title": "New bearing supplier", "owner": agent_b.pk, "due_on": due.isoformat()},
    )
    action = Action.objects.get(issue=issue)
    assert (action.owner, action.due_on, action.current_due_on) == (agent_b, due, due)
    client.post(
        reverse("improvements:action-due", args=[action.pk]), {"due_on": moved.isoformat(), "reason": "Tooling late"}
    )
    action.refresh_from_db()
    assert (action.due_on, action.current_due_on) == (due, moved)
    html = client.get(detail(issue)).content.decode()
    assert "data-moved" in html and "Tooling late" in html
    # The owner (an agent) marks it done with evidence; the agent may not move the date.
    owner = client_for(agent_b)
    assert (
        owner.post(
            reverse("improvements:action-due", args=[action.pk]), {"due_on": "2026-06-01", "reason": "x"}
        ).status_code
        == 403
    )
    response = owner.post(
        reverse("improvements:action-status", args=[action.pk]), {"status": "done", "evidence": ""}, follow=True
    )
    action.refresh_from_db()
    assert action.status != ActionStatus.DONE and "Not saved" not in response.content.decode()
    response = owner.post(
        reverse("improvements:action-status", args=[action.pk]),
        {"status": "done", "evidence": "ECN-77 released", "completed_on": dt.date.today().isoformat(), "next": "mine"},
    )
    assert response["Location"] == reverse("improvements:my-actions")
    action.refresh_from_db()
    assert action.status == ActionStatus.DONE and action.completed_on == dt.date.today()
    assert ActionEvent.objects.filter(action=action).count() >= 2


def test_committee_approves_the_plan_on_the_page(issue, engineer, committee):
    advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    corrective_action(issue, engineer, status=ActionStatus.OPEN)
    assert "approve-plan" not in client_for(engineer).get(detail(issue)).content.decode()
    client = client_for(committee)
    assert "approve-plan" in client.get(detail(issue)).content.decode()
    client.post(reverse("improvements:issue-approve", args=[issue.pk]))
    issue.refresh_from_db()
    assert issue.plan_approved_by == committee


# --- creating issues -----------------------------------------------------------------------


def test_create_by_hand_with_scope_and_evidence(engineer, batch, records):
    response = client_for(engineer).post(
        reverse("improvements:issue-create"),
        {
            "title": "Noisy drums",
            "source": "manual",
            "severity": "critical",
            "batches": f"{batch.code}",
            "tickets": records[0].ticket.external_id,
            "failures": f"{records[0].external_id}, {records[1].external_id}",
            "baseline_kpi": "failures_per_1000",
        },
    )
    issue = ImprovementIssue.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(issue)
    assert list(issue.batches.all()) == [batch]
    assert set(issue.failures.all()) == set(records) and list(issue.tickets.all()) == [records[0].ticket]
    assert (issue.severity, issue.owner, issue.baseline_kpi) == ("critical", engineer, "failures_per_1000")


def test_create_refuses_unknown_codes_and_writes_nothing(engineer):
    response = client_for(engineer).post(
        reverse("improvements:issue-create"),
        {"title": "X", "source": "manual", "severity": "major", "batches": "NOPE-1"},
    )
    assert response.status_code == 200
    assert "Not found: NOPE-1." in response.content.decode()
    assert not ImprovementIssue.objects.exists()


def test_create_from_an_alert_via_its_panel(engineer, batch):
    alert = batch_alert(batch.code)
    client = client_for(engineer)
    html = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert 'id="alert-improvement-panel"' in html and 'id="create-improvement"' in html
    confirm = client.get(reverse("improvements:issue-create"), {"alert": alert.pk})
    assert confirm.status_code == 200 and b"from-alert-form" in confirm.content
    response = client.post(reverse("improvements:issue-from-alert"), {"alert": alert.pk})
    issue = ImprovementIssue.objects.get()
    assert response["Location"] == detail(issue)
    assert list(issue.alerts.all()) == [alert] and list(issue.batches.all()) == [batch]
    html = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert f'data-issue="{issue.code}"' in html
    assert client.post(reverse("improvements:issue-from-alert"), {"alert": "abc"}).status_code == 404


def test_create_from_records(engineer, records):
    response = client_for(engineer).post(
        reverse("improvements:issue-from-records"),
        {"failures": " ".join(f.external_id for f in records), "severity": "major", "title": ""},
    )
    issue = ImprovementIssue.objects.get()
    assert response["Location"] == detail(issue)
    assert set(issue.failures.all()) == set(records)


# --- my actions ----------------------------------------------------------------------------


def test_my_actions_groups(issue, agent_b, settings):
    settings.IMPROVEMENT_REMINDER_DAYS = 3
    today = dt.date.today()
    overdue = open_action(issue, agent_b, due_on=today - dt.timedelta(days=1), title="Late one")
    soon = open_action(issue, agent_b, due_on=today + dt.timedelta(days=3), title="Soon one")
    later = open_action(issue, agent_b, due_on=today + dt.timedelta(days=4), title="Later one")
    html = client_for(agent_b).get(reverse("improvements:my-actions")).content.decode()

    def group(key):
        return html.split(f'data-group="{key}"')[1].split('data-group="')[0]

    assert f'data-action="{overdue.pk}"' in group("overdue")
    assert f'data-action="{soon.pk}"' in group("soon")
    assert f'data-action="{later.pk}"' in group("later")


# --- scoping and permissions ---------------------------------------------------------------


def test_an_agent_sees_only_issues_where_they_own_an_action(issue, other_issue, agent_b):
    client = client_for(agent_b)
    assert client.get(reverse("improvements:board")).status_code == 403  # owns nothing yet
    open_action(issue, agent_b)
    html = client.get(reverse("improvements:board")).content.decode()
    assert issue.code in html and other_issue.code not in html
    assert client.get(detail(issue)).status_code == 200
    assert client.get(detail(other_issue)).status_code == 404
    # Reading is not working: no moves, and a POST is refused.
    assert 'data-transition="' not in client.get(detail(issue)).content.decode()
    assert post_move(client, issue, State.TRIAGE).status_code == 403
    assert (
        client.post(reverse("improvements:issue-transition", args=[other_issue.pk]), {"state": "triage"}).status_code
        == 404
    )


def test_team_members_see_their_teams_issues(issue, other_issue, agent):
    # `agent` is in Team A, the team of `issue`; agents hold no view permission on issues,
    # so the page itself is not theirs unless they own an action, but the scope is.
    from improvements.selectors import issues_for_user

    assert list(issues_for_user(agent)) == [issue]


def test_managers_read_but_do_not_work(issue, manager):
    client = client_for(manager)
    assert client.get(detail(issue)).status_code == 200
    assert (
        client.post(
            reverse("improvements:cause-add", args=[issue.pk]), {"category": "people", "description": "x"}
        ).status_code
        == 403
    )
    assert client.get(reverse("improvements:issue-create")).status_code == 403


def test_nav_entry(issue, engineer, outsider, agent_b):
    assert 'id="nav-improvements"' in client_for(engineer).get(reverse("improvements:board")).content.decode()
    assert 'id="nav-improvements"' not in client_for(outsider).get(reverse("tickets:queue")).content.decode()
    open_action(issue, agent_b)
    assert 'id="nav-improvements"' in client_for(agent_b).get(reverse("tickets:queue")).content.decode()


def test_chinese_pages_render(issue, engineer):
    client = client_for(engineer)
    client.cookies["django_language"] = "zh-hans"
    for url in (reverse("improvements:board"), detail(issue), reverse("improvements:my-actions")):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200
