"""Lists return exactly the rows in the caller's scope: for each list endpoint and each
role, the set of ids equals a hand-built expectation (not the selector's own answer), and
the paginated count agrees with the rows collected over every page.

The world: teams A and B; agent_a and supervisor_a in A (supervisor_a leads A), agent_b
in B; one engineer, committee member, manager and admin. Rules being tested:
- tickets and failures: global readers all; others their teams' plus those assigned to them;
- alerts: global readers all; a supervisor the process alerts of the teams they lead;
- improvement issues: global readers all; others owned, of their teams, or with an action
  they own; actions: those of the issues they see plus their own;
- reports: managers and admins all; others those they requested;
- notifications: one's own delivered ones;
- recalls: global readers all (others are refused, see the authorization matrix).
"""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from improvements.models import Action, ActionKind, ImprovementIssue
from quality.models import Alert, AlertRule, Recall
from reports.models import GeneratedReport
from tests.factories import FailureFactory, TeamFactory, TicketFactory, UserFactory
from tickets.models import Notification

pytestmark = pytest.mark.django_db
ROLES = ("agent_a", "agent_b", "supervisor_a", "engineer", "committee", "manager", "admin")
GLOBAL = ("engineer", "committee", "manager", "admin")


@pytest.fixture
def world():
    team_a, team_b = TeamFactory(name="Team A"), TeamFactory(name="Team B")
    u = {
        "agent_a": UserFactory(username="s_agent_a", roles=["agent"]),
        "agent_b": UserFactory(username="s_agent_b", roles=["agent"]),
        "supervisor_a": UserFactory(username="s_super_a", roles=["supervisor"]),
        "engineer": UserFactory(username="s_engineer", roles=["quality_engineer"]),
        "committee": UserFactory(username="s_committee", roles=["committee_member"]),
        "manager": UserFactory(username="s_manager", roles=["manager"]),
        "admin": UserFactory(username="s_admin", roles=["admin"]),
    }
    team_a.members.add(u["agent_a"], u["supervisor_a"])
    team_b.members.add(u["agent_b"])
    team_a.supervisor = u["supervisor_a"]
    team_a.save(update_fields=["supervisor"])

    t = {
        "a1": TicketFactory(team=team_a),
        "a2": TicketFactory(team=team_a, assignee=u["agent_a"]),
        "a3": TicketFactory(team=team_a),
        "b1": TicketFactory(team=team_b),
        "b2_for_a": TicketFactory(team=team_b, assignee=u["agent_a"]),  # B's, assigned to agent_a
    }
    f = {name: FailureFactory(ticket=ticket) for name, ticket in t.items()}

    process = AlertRule.objects.create(code="s-proc", name="p", kind="process", params={"check": "sla_breaches"})
    threshold = AlertRule.objects.create(code="s-thr", name="t", kind="threshold", kpi="csat", params={})
    al = {
        "proc_a": Alert.objects.create(rule=process, severity="warning", member={"team": "Team A"}, member_key="A"),
        "proc_b": Alert.objects.create(rule=process, severity="warning", member={"team": "Team B"}, member_key="B"),
        "thr_a": Alert.objects.create(rule=threshold, severity="warning", member={"team": "Team A"}, member_key="A"),
    }

    now = timezone.now()
    issue = {
        "i_a": ImprovementIssue.objects.create(code="S-1", title="A's", team=team_a, owner=u["engineer"]),
        "i_b_act": ImprovementIssue.objects.create(code="S-2", title="B's", team=team_b, owner=u["engineer"]),
        "i_b": ImprovementIssue.objects.create(code="S-3", title="B's too", team=team_b, owner=u["engineer"]),
        "i_none": ImprovementIssue.objects.create(code="S-4", title="Nobody's", owner=u["committee"]),
    }
    due = now.date() + dt.timedelta(days=10)

    def action(name, owner):
        return Action.objects.create(
            issue=issue[name], kind=ActionKind.CORRECTIVE, title=name, owner=owner, due_on=due, current_due_on=due
        )

    act = {
        "on_a": action("i_a", u["engineer"]),
        "on_b_act": action("i_b_act", u["agent_a"]),  # agent_a owns an action on B's issue
        "on_b": action("i_b", u["agent_b"]),
        "on_none": action("i_none", u["committee"]),
    }
    rep = {
        who: GeneratedReport.objects.create(kind="quality", parameters={}, requested_by=u[who])
        for who in ("engineer", "committee", "manager", "agent_a")
    }
    notes = {
        "to_a": Notification.objects.create(recipient=u["agent_a"], kind="t", title="1"),
        "to_b": Notification.objects.create(recipient=u["agent_b"], kind="t", title="2"),
        "to_a_later": Notification.objects.create(
            recipient=u["agent_a"], kind="t", title="3", deliver_after=now + dt.timedelta(hours=2)
        ),
        "to_manager": Notification.objects.create(recipient=u["manager"], kind="t", title="4"),
    }
    recalls = {
        code: Recall.objects.create(code=code, title=code, severity="class_ii", opened_at=now)
        for code in ("S-RC-1", "S-RC-2")
    }
    return u, t, f, al, issue, act, rep, notes, recalls


def collect(client: APIClient, url: str, *, key: str = "id") -> tuple[set, int]:
    """The keys of every row over every page (page_size=2 to make several pages), and the
    count the first page announced."""
    sep = "&" if "?" in url else "?"
    response = client.get(f"{url}{sep}page_size=2")
    assert response.status_code == 200, (url, response.status_code)
    body = response.json()
    if isinstance(body, list):  # the alerts: a bare list, pages in X-Total-Count and Link
        count, rows = int(response["X-Total-Count"]), list(body)
        while 'rel="next"' in response.get("Link", ""):
            link = next(part for part in response["Link"].split(",") if 'rel="next"' in part)
            response = client.get(link.split(";")[0].strip(" <>"))
            rows += response.json()
    else:
        count, rows = body["count"], list(body["results"])
        while body.get("next"):
            body = client.get(body["next"]).json()
            rows += body["results"]
    keys = [row[key] for row in rows]
    assert len(keys) == len(set(keys)), f"{url}: a row on two pages"
    return set(keys), count


def check(world_users: dict, url: str, expected: dict[str, set], *, key: str = "id"):
    failures = []
    for role, want in expected.items():
        client = APIClient()
        client.force_authenticate(world_users[role])
        got, count = collect(client, url, key=key)
        if got != want or count != len(want):
            failures.append(f"{url} {role}: got {sorted(got)} (count {count}), want {sorted(want)}")
    assert not failures, "\n".join(failures)


def ids(rows: dict, *names: str) -> set:
    return {rows[n].pk for n in names}


def test_tickets_and_failures(world):
    u, t, f, *_ = world
    team_view = {
        "agent_a": ("a1", "a2", "a3", "b2_for_a"),
        "agent_b": ("b1", "b2_for_a"),
        "supervisor_a": ("a1", "a2", "a3"),
    }
    every = tuple(t)
    expected = {role: team_view.get(role, every) for role in ROLES}
    check(u, "/api/v1/tickets/", {role: ids(t, *names) for role, names in expected.items()})
    check(u, "/api/v1/failures/", {role: ids(f, *names) for role, names in expected.items()})


def test_alerts(world):
    u, _t, _f, al, *_ = world
    expected = {role: ids(al, *al) for role in GLOBAL}
    expected["supervisor_a"] = ids(al, "proc_a")  # process alerts of the team they lead only
    check(u, "/api/v1/alerts/?status=all", expected)


def test_improvement_issues_and_actions(world):
    u, _t, _f, _al, issue, act, *_ = world
    expected_issues = {role: ids(issue, *issue) for role in GLOBAL}
    expected_issues |= {
        "agent_a": ids(issue, "i_a", "i_b_act"),  # A's (team) and the one with their action
        "agent_b": ids(issue, "i_b_act", "i_b"),
        "supervisor_a": ids(issue, "i_a"),
    }
    check(u, "/api/v1/improvement-issues/", expected_issues)
    expected_actions = {role: ids(act, *act) for role in GLOBAL}
    expected_actions |= {
        "agent_a": ids(act, "on_a", "on_b_act"),
        "agent_b": ids(act, "on_b_act", "on_b"),
        "supervisor_a": ids(act, "on_a"),
    }
    check(u, "/api/v1/improvement-actions/", expected_actions)


def test_reports_notifications_and_recalls(world):
    u, *_, rep, notes, recalls = world
    check(
        u,
        "/api/v1/reports/",
        {
            "agent_a": ids(rep, "agent_a"),
            "agent_b": set(),
            "supervisor_a": set(),
            "engineer": ids(rep, "engineer"),
            "committee": ids(rep, "committee"),
            "manager": ids(rep, *rep),
            "admin": ids(rep, *rep),
        },
    )
    check(
        u,
        "/api/v1/notifications/",
        {role: set() for role in ROLES}
        | {"agent_a": ids(notes, "to_a"), "agent_b": ids(notes, "to_b"), "manager": ids(notes, "to_manager")},
    )
    check(u, "/api/v1/recalls/", {role: set(recalls) for role in GLOBAL}, key="code")
