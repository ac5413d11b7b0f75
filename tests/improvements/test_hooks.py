"""What the app plugs into quality and tickets: the "overdue_actions" process check, the
"improvement" auto-action of alert rules, and the ticket page's panel."""

import datetime as dt

import pytest
from django.template.loader import render_to_string

from improvements.hooks import (
    hooks_register,
    improvement_auto_action,
    overdue_actions_check,
    ticket_improvements_panel,
)
from improvements.models import ActionStatus, ImprovementIssue, Source, State
from improvements.services import issue_create, issue_transition
from quality.kpi.periods import local_midnight
from quality.models import Alert, AlertRule
from quality.services.alerts import _AUTO_ACTIONS, _PROCESS_CHECKS, alert_rules_evaluate
from tests.factories import FailureFactory, TicketFactory, UserFactory

from .conftest import T0, corrective_action

pytestmark = pytest.mark.django_db
D = dt.date
# A weekly rule evaluated on Monday 2026-03-16 tests the week [03-09, 03-16).
AS_OF = D(2026, 3, 16)
PERIOD = (local_midnight(D(2026, 3, 9)), local_midnight(AS_OF))


@pytest.fixture(autouse=True)
def _registered():
    """The registries are process-wide; another test may have replaced an entry."""
    hooks_register()


@pytest.fixture
def overdue(engineer, team_a, team_b):
    """Team A: two actions due before 03-16 still open (one in progress), one done, one
    due on 03-16 itself; Team B: one; no team: one; a cancelled issue's: ignored."""
    a = issue_create(title="A", actor=engineer, team=team_a, at=T0)
    b = issue_create(title="B", actor=engineer, team=team_b, at=T0)
    none = issue_create(title="No team", actor=engineer, at=T0)
    gone = issue_create(title="Gone", actor=engineer, team=team_a, at=T0)
    corrective_action(a, engineer, status=ActionStatus.OPEN, due_on=D(2026, 3, 10))
    corrective_action(a, engineer, status=ActionStatus.IN_PROGRESS, due_on=D(2026, 3, 15))
    corrective_action(a, engineer, status=ActionStatus.DONE, due_on=D(2026, 3, 10))
    corrective_action(a, engineer, status=ActionStatus.OPEN, due_on=AS_OF)
    corrective_action(b, engineer, status=ActionStatus.OPEN, due_on=D(2026, 3, 1))
    corrective_action(none, engineer, status=ActionStatus.OPEN, due_on=D(2026, 3, 1))
    corrective_action(gone, engineer, status=ActionStatus.OPEN, due_on=D(2026, 3, 1))
    issue_transition(issue_id=gone.pk, to_state=State.CANCELLED, actor=engineer, reason="dup")
    return {"a": a, "b": b}


def test_hooks_are_registered():
    assert _PROCESS_CHECKS["overdue_actions"] is overdue_actions_check
    assert _AUTO_ACTIONS["improvement"] is improvement_auto_action


def test_overdue_actions_by_team(overdue, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = overdue_actions_check(rule=None, at=PERIOD[1], period=PERIOD)
    assert counts == {"Team A": 2, "Team B": 1, "": 1}


def test_the_period_end_is_a_local_date(overdue):
    # The day before: the action due on 03-15 is not overdue yet.
    period = (local_midnight(D(2026, 3, 8)), local_midnight(D(2026, 3, 15)))
    assert overdue_actions_check(rule=None, at=period[1], period=period) == {"Team A": 1, "Team B": 1, "": 1}


def process_rule(**fields):
    return AlertRule.objects.create(
        code="overdue-actions-by-team",
        name="Overdue improvement actions",
        kind="process",
        split_by="team",
        grain="week",
        params={"check": "overdue_actions", "count": 1},
        severity="warning",
        **fields,
    )


def test_the_rule_fires_per_team_and_drafts_one_issue_each(overdue):
    rule = process_rule(auto_action="improvement")
    now = local_midnight(AS_OF) + dt.timedelta(hours=9)
    alert_rules_evaluate(as_of=AS_OF, rules=[rule], now=now)
    alerts = {a.member.get("team"): a for a in Alert.objects.filter(rule=rule)}
    assert sorted(alerts) == ["", "Team A", "Team B"]
    assert alerts["Team A"].value == 2
    drafted = ImprovementIssue.objects.filter(source=Source.ALERT)
    assert drafted.count() == 3
    issue_a = drafted.get(alerts=alerts["Team A"])
    assert (issue_a.team.name, issue_a.state, issue_a.owner, issue_a.created_by) == ("Team A", State.DRAFT, None, None)
    assert alerts["Team A"].events.get(kind="auto_action").comment == f"issue {issue_a.code}"
    # The alert fires again the next day: still one issue per alert.
    alert_rules_evaluate(as_of=AS_OF + dt.timedelta(days=1), rules=[rule], now=now + dt.timedelta(days=1))
    assert Alert.objects.filter(rule=rule).count() == 3
    assert drafted.count() == 3


def test_the_auto_action_twice_drafts_once(overdue):
    rule = process_rule()
    alert = Alert.objects.create(
        rule=rule, member={"team": "Team B"}, member_key="team=Team B", severity="warning", period_start=D(2026, 3, 9)
    )
    first = improvement_auto_action(alert=alert)
    second = improvement_auto_action(alert=alert)
    assert first == second == f"issue {ImprovementIssue.objects.get(alerts=alert).code}"
    assert ImprovementIssue.objects.filter(alerts=alert).count() == 1


# --- the ticket panel -------------------------------------------------------------------------


def test_ticket_panel_lists_issues_by_ticket_or_failure(engineer):
    ticket = TicketFactory()
    failure = FailureFactory(ticket=ticket)
    assert ticket_improvements_panel(ticket, engineer) is None
    by_ticket = issue_create(title="Noise cluster", actor=engineer, tickets=[ticket.pk], at=T0)
    by_failure = issue_create(title="Bearing", actor=engineer, failures=[failure.pk], at=T0 + dt.timedelta(hours=1))
    both = issue_create(title="Both", actor=engineer, tickets=[ticket.pk], failures=[failure.pk], at=T0)
    issue_create(title="Unrelated", actor=engineer, tickets=[TicketFactory().pk], at=T0)
    panel = ticket_improvements_panel(ticket, engineer)
    assert [row["code"] for row in panel["issues"]] == [by_failure.code, both.code, by_ticket.code]
    assert panel["can_read"] is True
    html = render_to_string("improvements/_ticket_panel.html", {"panel": panel})
    assert f'href="/improvements/issues/{by_failure.pk}/"' in html
    assert "Noise cluster" in html and "Draft" in html and "Unrelated" not in html


def test_ticket_panel_without_read_permission_shows_no_links(engineer):
    ticket = TicketFactory()
    issue = issue_create(title="Noise", actor=engineer, tickets=[ticket.pk], at=T0)
    agent = UserFactory(username="plain_agent", roles=["agent"])
    panel = ticket_improvements_panel(ticket, agent)
    assert panel["can_read"] is False
    html = render_to_string("improvements/_ticket_panel.html", {"panel": panel})
    assert issue.code in html and "href" not in html


def test_the_ticket_page_shows_the_panel(engineer, team_a, client):
    ticket = TicketFactory(team=team_a)
    client.force_login(engineer)
    assert 'id="improvements-panel"' not in client.get(f"/tickets/{ticket.pk}/").content.decode()
    issue = issue_create(title="Noise cluster", actor=engineer, tickets=[ticket.pk], at=T0)
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert 'id="improvements-panel"' in page
    assert issue.code in page and "Noise cluster" in page
