"""Authorization matrix: every operation of the OpenAPI schema x every role, plus
anonymous, with 0 unexpected successes.

- The operations come from the schema itself; EXPECTED must name exactly the same set,
  so an endpoint added later without a policy line fails `test_every_operation_has_a_policy`.
- Path parameters point at real objects (one of each, in scope for the roles that may use
  them), so a 404 cannot hide a missing permission check.
- Writes send an empty JSON body. Each request runs in a savepoint that is rolled back,
  so one request never changes what the next one sees.
- A role outside the policy must get 401/403 (404 where the object is out of its scope);
  a role inside must get anything but 401/403 (2xx, 400, 404-in-scope, 409 ...). Any 500
  fails. The failures are printed as one table.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from catalog import roles as R
from improvements.models import ActionKind
from improvements.services.actions import action_create
from improvements.services.issues import issue_create
from improvements.services.rca import cause_add
from improvements.services.reviews import agenda_item_add, meeting_create
from intake.models import ImportRun
from quality.models import Alert, AlertRule, AlertSilence, MetricDefinition, Recall, RecallUnit
from reports.models import GeneratedReport, ReportSubscription
from tests.factories import FailureFactory, TeamFactory, TicketFactory, UnitFactory, UserFactory
from tickets.models import AgentShift, BusinessCalendar, DispatchRule, Notification, SlaPolicy, Webhook

pytestmark = pytest.mark.django_db

ANON = "anonymous"
AGENT, SUP, QE, COM, MGR, ADM = R.AGENT, R.SUPERVISOR, R.QUALITY_ENGINEER, R.COMMITTEE_MEMBER, R.MANAGER, R.ADMIN
SUPERUSER = "superuser"  # is_superuser and is_staff, no group: how seed_demo makes the admin; acts as ADM
NOROLE = "no role"  # logged in, no group (e.g. a leaver whose roles were taken away)
ROLES = (ANON, AGENT, SUP, QE, COM, MGR, ADM, SUPERUSER, NOROLE)

# --- the policy, by group of roles (DESIGN.md's roles; see the README "Security") -------
ALL = frozenset({AGENT, SUP, QE, COM, MGR, ADM})  # every staff role
GLOBAL = frozenset(R.GLOBAL_READ_ROLES)  # quality engineer, committee, manager, admin
NONE: frozenset[str] = frozenset()


def only(*roles: str) -> frozenset[str]:
    return frozenset(roles)


TEAM_OPS = only(AGENT, SUP, ADM)  # the service operation: tickets, callers
SUPERVISION = GLOBAL | {SUP}  # team configuration and data quality, read
FAILURE_WORK = only(AGENT, SUP, QE, ADM)  # recording failures on a ticket
QUALITY_WORK = only(QE, ADM)  # alerts, rules, silences, recalls, imports
LOOP_WORK = only(QE, COM, ADM)  # improvement issues, causes, actions, meetings
DECIDE = only(COM, ADM)  # the committee's decisions
METRIC_WRITE = only(QE, MGR, ADM)  # self-service metric definitions
REPORT_MAKE = only(QE, COM, MGR, ADM)
SUBSCRIBE = only(MGR, ADM)
ADMIN = only(ADM)


def _ops(policy: frozenset[str], *lines: str) -> dict[tuple[str, str], frozenset[str]]:
    out = {}
    for line in lines:
        method, path = line.split(" ", 1)
        out[method, "/api/v1/" + path] = policy
    return out


EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # Master data: every staff role reads; callers are registered while logging a ticket.
    **_ops(ALL, "GET batches/", "GET batches/{id}/", "GET batches/export/", "GET customers/", "GET customers/{id}/"),
    **_ops(ALL, "GET customers/export/", "GET product-models/", "GET product-models/{id}/"),
    **_ops(ALL, "GET product-models/export/", "GET units/", "GET units/{id}/", "GET units/export/"),
    **_ops(ALL, "GET units/{serial}/history/"),
    **_ops(TEAM_OPS, "POST customers/"),
    # Tickets: everybody reads (agents and supervisors their teams'); the team works them.
    **_ops(ALL, "GET tickets/", "GET tickets/{id}/", "GET tickets/export/"),
    **_ops(TEAM_OPS, "POST tickets/", "POST tickets/{id}/assign/", "POST tickets/{id}/comment/"),
    **_ops(TEAM_OPS, "POST tickets/{id}/transition/"),
    # SLA policies and calendars: staff read, admins write.
    **_ops(ALL, "GET sla-policies/", "GET sla-policies/{id}/", "GET calendars/", "GET calendars/{id}/"),
    **_ops(ADMIN, "POST sla-policies/", "PUT sla-policies/{id}/", "PATCH sla-policies/{id}/"),
    **_ops(ADMIN, "DELETE sla-policies/{id}/", "POST calendars/", "PUT calendars/{id}/"),
    **_ops(ADMIN, "PATCH calendars/{id}/", "DELETE calendars/{id}/"),
    # Dispatch rules: supervisors and global readers read, admins write; shifts: supervisors
    # write their own teams' too.
    **_ops(SUPERVISION, "GET dispatch-rules/", "GET dispatch-rules/{id}/", "GET shifts/", "GET shifts/{id}/"),
    **_ops(ADMIN, "POST dispatch-rules/", "PUT dispatch-rules/{id}/", "PATCH dispatch-rules/{id}/"),
    **_ops(ADMIN, "DELETE dispatch-rules/{id}/"),
    **_ops(only(SUP, ADM), "POST shifts/", "PUT shifts/{id}/", "PATCH shifts/{id}/", "DELETE shifts/{id}/"),
    # Notifications: one's own (another user's answers 404); webhooks: admins.
    **_ops(ALL, "GET notifications/", "POST notifications/read-all/", "POST notifications/{id}/read/"),
    **_ops(ADMIN, "GET webhooks/", "POST webhooks/", "GET webhooks/{id}/", "GET webhooks/{id}/deliveries/"),
    # KPIs, metrics and traceability: every staff role reads; metric definitions are
    # written by engineers and managers (self-service metrics).
    **_ops(ALL, "GET kpis/", "GET kpis/{code}/", "GET kpis/{code}/records/", "GET kpis/{code}/values/"),
    **_ops(ALL, "GET kpis/{code}/values/export/", "GET kpis/overview/", "GET metrics/", "GET metrics/{code}/"),
    **_ops(ALL, "GET metrics/fields/", "GET trace/batches/{code}/comparison/", "GET trace/modes/{code}/monthly/"),
    **_ops(ALL, "GET trace/suppliers/{code}/monthly/"),
    **_ops(METRIC_WRITE, "POST metrics/", "PUT metrics/{code}/", "PATCH metrics/{code}/", "DELETE metrics/{code}/"),
    # Failures: everybody reads; the ticket's people and engineers record them.
    **_ops(ALL, "GET failures/", "GET failures/export/"),
    **_ops(FAILURE_WORK, "POST failures/"),
    # Analysis: the calculators (no stored data) for every staff role; the analyses over
    # the company's records for the global readers.
    **_ops(ALL, "POST analysis/weibull/", "POST analysis/kaplan-meier/", "POST analysis/control-chart/"),
    **_ops(GLOBAL, "GET analysis/scope/batches/", "GET analysis/scope/claims/", "GET analysis/scope/forecast/"),
    **_ops(GLOBAL, "GET analysis/scope/kaplan-meier/", "GET analysis/scope/nevada/", "GET analysis/scope/pareto/"),
    **_ops(GLOBAL, "GET analysis/scope/weibull/"),
    # Recalls: global readers read; engineers run them.
    **_ops(GLOBAL, "GET recalls/", "GET recalls/{code}/", "GET recalls/{code}/units/"),
    **_ops(QUALITY_WORK, "POST recalls/", "POST recalls/{code}/transition/"),
    **_ops(QUALITY_WORK, "POST recalls/{code}/units/{serial}/status/"),
    # Alerts: global readers (supervisors: their teams' process alerts); engineers work
    # them and own the rules and silences.
    **_ops(SUPERVISION, "GET alerts/"),
    **_ops(GLOBAL, "GET alert-rules/", "GET alert-rules/{code}/", "GET alert-rules/{code}/replay/"),
    **_ops(GLOBAL, "GET alert-silences/"),
    **_ops(QUALITY_WORK, "POST alerts/{id}/acknowledge/", "POST alerts/{id}/assign/", "POST alerts/{id}/resolve/"),
    **_ops(QUALITY_WORK, "POST alert-rules/", "PUT alert-rules/{code}/", "PATCH alert-rules/{code}/"),
    **_ops(QUALITY_WORK, "POST alert-silences/", "POST alert-silences/{id}/expire/"),
    # Imports: engineers import; supervisors and global readers read runs and the score.
    **_ops(SUPERVISION, "GET imports/", "GET imports/{id}/", "GET data-quality/"),
    **_ops(QUALITY_WORK, "POST imports/{entity}/"),
    # Improvement loop: readers of issues, and owners of actions (any staff: the world's
    # action is the agent's) read; engineers and the committee work; the owner reports
    # the status of their action; the committee decides.
    **_ops(ALL, "GET improvement-issues/", "GET improvement-issues/{id}/", "GET improvement-actions/"),
    **_ops(ALL, "GET improvement-actions/{id}/", "GET improvement-issues/{id}/verifications/"),
    **_ops(SUPERVISION, "GET improvement-knowledge/"),
    **_ops(LOOP_WORK, "POST improvement-issues/", "PATCH improvement-issues/{id}/"),
    **_ops(LOOP_WORK, "POST improvement-issues/from-alert/", "POST improvement-issues/from-records/"),
    **_ops(LOOP_WORK, "POST improvement-issues/{id}/causes/", "POST improvement-issues/{id}/evidence/"),
    **_ops(LOOP_WORK, "POST improvement-issues/{id}/reopen/", "POST improvement-issues/{id}/transition/"),
    **_ops(LOOP_WORK, "POST improvement-issues/{id}/verifications/", "PATCH improvement-causes/{id}/"),
    **_ops(LOOP_WORK, "DELETE improvement-causes/{id}/"),
    **_ops(QUALITY_WORK, "POST improvement-causes/{id}/recall/"),  # launching a recall: engineers
    **_ops(LOOP_WORK, "POST improvement-causes/{id}/verify/", "POST improvement-causes/{id}/unverify/"),
    **_ops(LOOP_WORK, "PUT improvement-causes/{id}/whys/", "POST improvement-actions/"),
    **_ops(LOOP_WORK, "PATCH improvement-actions/{id}/", "POST improvement-actions/{id}/due-date/"),
    **_ops(LOOP_WORK | {AGENT}, "POST improvement-actions/{id}/status/"),
    # Committee reviews: global readers read; engineers and the committee prepare; the
    # committee decides.
    **_ops(GLOBAL, "GET review-meetings/", "GET review-meetings/{id}/", "GET review-meetings/{id}/minutes.pdf"),
    **_ops(LOOP_WORK, "POST review-meetings/", "POST review-meetings/{id}/agenda/"),
    **_ops(LOOP_WORK, "POST review-meetings/{id}/items/"),
    **_ops(DECIDE, "POST agenda-items/{id}/decision/"),
    # Reports: every staff role reads its own (another's answers 404); engineers, the
    # committee and managers generate; managers subscribe (their own subscriptions).
    **_ops(ALL, "GET reports/", "GET reports/{id}/", "GET reports/{id}/download/"),
    **_ops(REPORT_MAKE, "POST reports/"),
    **_ops(SUBSCRIBE, "GET report-subscriptions/", "POST report-subscriptions/"),
    **_ops(SUBSCRIBE, "GET report-subscriptions/{id}/", "PUT report-subscriptions/{id}/"),
    **_ops(SUBSCRIBE, "PATCH report-subscriptions/{id}/", "DELETE report-subscriptions/{id}/"),
    **_ops(SUBSCRIBE, "GET report-subscriptions/{id}/deliveries/"),
}


# A logged-in user without a role: their own notifications, the KPI catalogue's scopable
# KPIs with values scoped to their teams and assignments (none: empty figures) and the
# metric definitions (no records). Everything else needs a role.
NOROLE_ALLOWED = set(
    _ops(
        NONE,
        "GET notifications/",
        "POST notifications/read-all/",
        "POST notifications/{id}/read/",
        "GET kpis/",
        "GET kpis/{code}/",
        "GET kpis/{code}/values/",
        "GET kpis/{code}/values/export/",
        "GET kpis/{code}/records/",
        "GET kpis/overview/",
        "GET metrics/",
        "GET metrics/{code}/",
        "GET metrics/fields/",
    )
)


def _build_world():
    """One object of each kind the paths name, in scope of the roles that may use it."""
    team_a = TeamFactory(name="Team A")
    users = {
        AGENT: UserFactory(username="m_agent", roles=[AGENT]),
        SUP: UserFactory(username="m_super", roles=[SUP]),
        QE: UserFactory(username="m_engineer", roles=[QE]),
        COM: UserFactory(username="m_committee", roles=[COM]),
        MGR: UserFactory(username="m_manager", roles=[MGR]),
        ADM: UserFactory(username="m_admin", roles=[ADM]),
        SUPERUSER: UserFactory(username="m_root", is_superuser=True, is_staff=True),
        NOROLE: UserFactory(username="m_nobody"),
    }
    team_a.members.add(users[AGENT], users[SUP])
    team_a.supervisor = users[SUP]
    team_a.save(update_fields=["supervisor"])
    unit = UnitFactory()
    ticket = TicketFactory(team=team_a, customer=unit.customer, unit=unit)
    failure = FailureFactory(ticket=ticket, unit=unit)
    now = timezone.now()
    recall = Recall.objects.create(code="RC-M", title="Matrix", severity="class_ii", opened_at=now, state="draft")
    recall.batches.add(unit.batch)
    RecallUnit.objects.create(recall=recall, unit=unit)
    rule = AlertRule.objects.create(
        code="m-rule", name="m", kind="process", params={"check": "sla_breaches", "count": 1}, grain="week"
    )
    alert = Alert.objects.create(rule=rule, severity="warning", member_key="", member={})
    silence = AlertSilence.objects.create(rule=rule, starts_at=now, ends_at=now + dt.timedelta(days=1))
    issue = issue_create(title="Matrix issue", actor=users[QE], owner=users[QE], team=team_a)
    cause = cause_add(issue_id=issue.pk, actor=users[QE], category="technology", description="Worn press")
    action = action_create(
        issue_id=issue.pk,
        actor=users[QE],
        kind=ActionKind.CORRECTIVE,
        title="Replace the press",
        owner=users[AGENT],
        due_on=timezone.localdate() + dt.timedelta(days=30),
    )
    meeting = meeting_create(actor=users[COM], title="Review", held_on=timezone.localdate())
    item = agenda_item_add(meeting_id=meeting.pk, actor=users[COM], issue_id=issue.pk)
    report = GeneratedReport.objects.create(kind="quality", parameters={}, requested_by=users[MGR])
    subscription = ReportSubscription.objects.create(owner=users[MGR], name="Monthly")
    run = ImportRun.objects.create(entity="customers", user=users[QE])
    notification = Notification.objects.create(recipient=users[AGENT], kind="test", title="Hello")
    webhook = Webhook.objects.create(name="hook", url="https://example.com/hook", secret="s" * 16)
    calendar = BusinessCalendar.objects.create(name="Matrix calendar")
    policy = SlaPolicy.objects.create(name="Matrix", priority="normal", response_minutes=60, resolution_minutes=480)
    dispatch = DispatchRule.objects.create(name="to A", position=1, team=team_a)
    shift = AgentShift.objects.create(team=team_a, user=users[AGENT], weekday=0, start=dt.time(9), end=dt.time(18))
    metric = MetricDefinition.objects.create(
        code="m-metric", name_en="M", record_set="tickets", kind="count", time_field="created_at", direction="down"
    )
    ids = {
        "agenda-items": item.pk,
        "alert-rules": rule.code,
        "alert-silences": silence.pk,
        "alerts": alert.pk,
        "batches": unit.batch_id,
        "calendars": calendar.pk,
        "customers": unit.customer_id,
        "dispatch-rules": dispatch.pk,
        "imports": run.pk,
        "improvement-actions": action.pk,
        "improvement-causes": cause.pk,
        "improvement-issues": issue.pk,
        "kpis": "csat",
        "metrics": metric.code,
        "notifications": notification.pk,
        "product-models": unit.product_model_id,
        "recalls": recall.code,
        "report-subscriptions": subscription.pk,
        "reports": report.pk,
        "review-meetings": meeting.pk,
        "shifts": shift.pk,
        "sla-policies": policy.pk,
        "tickets": ticket.pk,
        "units": unit.pk,
        "webhooks": webhook.pk,
    }
    trace = {"batches": unit.batch.code, "modes": failure.failure_mode.code, "suppliers": "S-NONE"}
    return users, ids, trace, {"serial": unit.serial, "entity": "customers"}


def _fill(path: str, ids: dict, trace: dict, extra: dict) -> str:
    parts = path.strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name in extra:
                out.append(str(extra[name]))
            elif parts[i - 2] == "trace":
                out.append(str(trace[parts[i - 1]]))
            else:
                out.append(str(ids[parts[i - 1]]))
        else:
            out.append(part)
    filled = "/" + "/".join(out)
    return filled + "/" if path.endswith("/") else filled


def schema_operations() -> set[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def _call(client: APIClient, method: str, url: str) -> tuple[int, str]:
    """One request in a savepoint that is always rolled back; a server error is 500."""
    cache.clear()  # throttles count in the cache: every request starts fresh
    try:
        with transaction.atomic():
            if method in ("GET", "DELETE"):
                response = getattr(client, method.lower())(url)
            else:
                response = getattr(client, method.lower())(url, {}, format="json")
            transaction.set_rollback(True)
    except Exception as exc:  # noqa: BLE001 — reported in the table, never swallowed
        return 500, f"{type(exc).__name__}: {exc}"[:160]
    return response.status_code, ""


def test_every_operation_has_a_policy():
    operations = schema_operations()
    assert sorted(operations - EXPECTED.keys()) == [], "new operations without a policy line in EXPECTED"
    assert sorted(EXPECTED.keys() - operations) == [], "policy lines for operations the schema no longer has"


def test_authorization_matrix():
    users, ids, trace, extra = _build_world()
    clients = {ANON: APIClient()}
    for role, user in users.items():
        clients[role] = APIClient()
        clients[role].force_authenticate(user)
    discover = os.environ.get("MATRIX_DISCOVER")
    failures, table = [], []
    for method, path in sorted(schema_operations()):
        url = _fill(path, ids, trace, extra)
        allowed = set(EXPECTED.get((method, path), NONE))
        if ADM in allowed:
            allowed.add(SUPERUSER)
        if (method, path) in NOROLE_ALLOWED:
            allowed.add(NOROLE)
        row = []
        for role in ROLES:
            status, error = _call(clients[role], method, url)
            row.append(status)
            if status >= 500:
                failures.append((method, path, role, status, "server error " + error))
            elif role in allowed and status in (401, 403):
                failures.append((method, path, role, status, "allowed role refused"))
            elif role not in allowed and status not in (401, 403, 404):
                why = "UNEXPECTED SUCCESS" if status < 400 else "not refused (passed the permission check)"
                failures.append((method, path, role, status, why))
        table.append((method, path, row))
    if discover:
        print("\n" + "\n".join(f"{m:6} {p:60} " + " ".join(f"{s:3}" for s in row) for m, p, row in table))
    report = "\n".join(f"{m:6} {p:60} {r:18} {s} {why}" for m, p, r, s, why in failures)
    assert not failures, f"{len(failures)} authorization failures:\n{report}"


def test_the_schema_and_its_docs_need_a_login():
    """Outside the schema's own operations: /api/schema/ and /api/docs/ (SERVE_PERMISSIONS)."""
    anonymous, user = APIClient(), APIClient()
    user.force_authenticate(UserFactory(username="m_reader", roles=[AGENT]))
    for url in ("/api/schema/", "/api/docs/"):
        assert anonymous.get(url).status_code in (401, 403), url
        assert user.get(url).status_code == 200, url
