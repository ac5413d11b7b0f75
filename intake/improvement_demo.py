"""A short history of the improvement loop for the demo (called at the end of
intake.demo.demo_seed), written through the services with explicit past times, so that
the board, the knowledge base, the improvement KPIs, "my actions" and the next
committee meeting have content on a fresh demo.

- Two closed issues from the past year (a router admin-page lockout, repeat drain-pump
  repairs on washers): verified root causes with 5-why chains, done actions (one
  corrective action finished late against its original due date, after a logged due-date
  change), a committee meeting that approved each plan and one that closed each issue.
  The demo's data holds no real before/after change for either (failures follow a
  constant hazard apart from the planted problems), so no effectiveness test is claimed:
  the committee closed both with an override reason that says so. Both closed more than
  IMPROVEMENT_WATCH_DAYS before --as-of, so the recurrence watch has ended.
- Two open issues: the East Service first-response slowdown (planted in the demo and
  not fixed: in action plan, awaiting the committee's approval, its containment action
  overdue and owned by the demo user "quality") and dripping air-conditioner indoor units
  (in triage); a planned committee meeting after --as-of with its automatic agenda.

The planted defective batch (PLANTED["defective_batch"]) gets no issue: the walk-through
opens that one from its alert. Everything is placed relative to --as-of and picks only
a few existing records (cheap at every scale); the same --as-of gives the same rows
(the services' clock-stamped bookkeeping columns are set to the history's times; the
5-why events carry the load time, as why_set takes no time)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalog.models import ProductLine, Region
from improvements.models import (
    ActionKind,
    ActionStatus,
    AgendaKind,
    Decision,
    ImprovementIssue,
    ReviewMeeting,
    Source,
    State,
)
from improvements.services import (
    action_create,
    action_due_change,
    action_status_set,
    agenda_item_add,
    agenda_item_decide,
    cause_add,
    cause_verify,
    issue_create,
    issue_transition,
    meeting_agenda_build,
    meeting_create,
    meeting_hold,
    why_set,
)
from quality.models import Failure, FailureMode
from tickets.models import Team

EVIDENCE_FAILURES = 6  # failures linked to an issue as its evidence (the latest before it opened)
LOCATION = "Headquarters, meeting room 3"


class _Clock:
    """Times relative to --as-of's local midnight: `at(-300, 10)` is 10:00 local, 300 days
    before it."""

    def __init__(self, as_of: dt.date):
        self.tz = timezone.get_default_timezone()
        self.as_of = as_of

    def at(self, days: float, hour: float = 10) -> dt.datetime:
        day = self.as_of + dt.timedelta(days=int(days))
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.tz) + dt.timedelta(hours=hour)

    def day(self, days: int) -> dt.date:
        return self.as_of + dt.timedelta(days=days)

    def workday(self, days: int, *, forward: bool = False) -> int:
        """`days` moved off a weekend (back to Friday, or on to Monday)."""
        step = 1 if forward else -1
        while self.day(days).weekday() >= 5:
            days += step
        return days


def _failures(*, line: str, mode: str, before: dt.datetime, days: int = 60) -> list[int]:
    """The latest failures of one mode on one product line in the `days` before `before`."""
    return list(
        Failure.objects.filter(
            failure_mode__code=mode,
            unit__product_model__product_line__code=line,
            occurred_at__gte=before - dt.timedelta(days=days),
            occurred_at__lt=before,
        )
        .order_by("-occurred_at", "-pk")
        .values_list("pk", flat=True)[:EVIDENCE_FAILURES]
    )


def _past_meeting(*, clock: _Clock, days: int, preparer, chair, attendees, items, minutes: str) -> ReviewMeeting:
    """A held committee meeting `days` from --as-of: each (issue, agenda kind, decision,
    minutes) put on the agenda and decided at 15:00 that day."""
    held = clock.day(days)
    meeting = meeting_create(
        actor=preparer,
        title=f"Quality committee {held.isoformat()}",
        held_on=held,
        attendees=attendees,
        chair=chair,
        location=LOCATION,
    )
    for position, (issue, kind, decision, text) in enumerate(items):
        item = agenda_item_add(meeting_id=meeting.pk, actor=preparer, issue_id=issue.pk, kind=kind)
        agenda_item_decide(
            item_id=item.pk, actor=chair, decision=decision, minutes=text, at=clock.at(days, 15 + position / 4)
        )
    meeting_hold(meeting_id=meeting.pk, actor=preparer, minutes=minutes)
    return meeting


def _router_lockout(*, clock: _Clock, users: dict, refs: dict) -> tuple[ImprovementIssue, list[ReviewMeeting]]:
    """Closed about seven months before --as-of; a corrective action late after a logged
    due-date change; closed by the committee's override."""
    quality, committee, supervisor = users["quality"], users["committee"], users["supervisor"]
    a0 = -300
    opened = clock.at(a0, 9.5)
    evidence = _failures(line="router", mode="USER-MISUSE", before=opened)
    issue = issue_create(
        title="Customers locked out of the router admin page after a reset",
        description=(
            "Call-centre feedback: after a factory reset, router owners cannot log in to the admin page "
            "and call the hotline; the agents walk them through it one by one."
        ),
        actor=quality,
        owner=quality,
        source=Source.CUSTOMER_VOICE,
        severity="minor",
        product_line=refs["router"],
        failure_mode=refs["USER-MISUSE"],
        failures=evidence,
        baseline_kpi="failures_per_1000",
        baseline_filters={"product_line": "router", "failure_mode": "USER-MISUSE"},
        at=opened,
    )
    issue_transition(issue_id=issue.pk, to_state=State.TRIAGE, actor=quality, at=clock.at(a0 + 1))
    issue_transition(issue_id=issue.pk, to_state=State.ROOT_CAUSE, actor=quality, at=clock.at(a0 + 3))
    cause = cause_add(
        issue_id=issue.pk,
        actor=quality,
        category="customer",
        description="The quick-start guide still prints the old default admin password; "
        "since firmware 1.2 the password is the one on the label.",
        at=clock.at(a0 + 4),
    )
    cause_add(
        issue_id=issue.pk,
        actor=quality,
        category="process",
        description="The web FAQ has no entry for a forgotten admin password.",
        at=clock.at(a0 + 4, 11),
    )
    why_set(
        cause_id=cause.pk,
        actor=quality,
        at=clock.at(a0 + 4, 12),
        whys=[
            "Owners type the password printed in the quick-start guide and it is refused.",
            "The guide prints admin/admin, the default of firmware 1.1.",
            "Firmware 1.2 moved to the per-unit password on the label; the guide was not reprinted.",
            "The firmware release checklist does not cover printed material.",
            "Printed material has no owner in the release process.",
        ],
    )
    cause_verify(
        cause_id=cause.pk,
        actor=quality,
        evidence="31 of 40 sampled lockout calls quoted the guide's password; a factory reset of five "
        "units in the lab accepted only the label password.",
        failure_ids=evidence[:3],
        at=clock.at(a0 + 8),
    )
    issue_transition(issue_id=issue.pk, to_state=State.ACTION_PLAN, actor=quality, at=clock.at(a0 + 9))
    faq = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.CONTAINMENT,
        title="Publish the admin-password reset steps in the web FAQ and the hotline script",
        owner=supervisor,
        due_on=clock.day(a0 + 16),
        at=clock.at(a0 + 9, 11),
    )
    guide = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.CORRECTIVE,
        title="Reprint the quick-start guide with the label password",
        owner=quality,
        due_on=clock.day(a0 + 40),
        cause_id=cause.pk,
        at=clock.at(a0 + 9, 11.5),
    )
    checklist = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.PREVENTIVE,
        title="Add printed material to the firmware release checklist",
        owner=quality,
        due_on=clock.day(a0 + 45),
        cause_id=cause.pk,
        at=clock.at(a0 + 9, 12),
    )
    approve = clock.workday(a0 + 12, forward=True)
    approval = _past_meeting(
        clock=clock,
        days=approve,
        preparer=quality,
        chair=committee,
        attendees=[committee, quality, supervisor],
        items=[
            (
                issue,
                AgendaKind.PLAN_APPROVAL,
                Decision.APPROVE_PLAN,
                "Plan approved: FAQ first, reprint with the next print run, checklist change.",
            )
        ],
        minutes="Router admin-page lockout: plan approved.",
    )
    issue_transition(issue_id=issue.pk, to_state=State.IMPLEMENTATION, actor=quality, at=clock.at(approve + 1))
    action_status_set(
        action_id=faq.pk,
        actor=supervisor,
        status=ActionStatus.DONE,
        evidence="FAQ entry online; hotline script updated.",
        at=clock.at(a0 + 14, 16),
    )
    action_status_set(action_id=guide.pk, actor=quality, status=ActionStatus.IN_PROGRESS, at=clock.at(a0 + 20))
    action_due_change(
        action_id=guide.pk,
        actor=quality,
        due_on=clock.day(a0 + 55),
        reason="Marketing has to approve the new artwork; the printer moved the run by two weeks.",
        at=clock.at(a0 + 35),
    )
    action_status_set(
        action_id=checklist.pk,
        actor=quality,
        status=ActionStatus.DONE,
        evidence="Release checklist v7 lists the guide, the label and the box print.",
        at=clock.at(a0 + 44, 15),
    )
    action_status_set(
        action_id=guide.pk,
        actor=quality,
        status=ActionStatus.DONE,
        evidence="Reprinted guide ships with every router produced from the next lot on.",
        at=clock.at(a0 + 52, 15),
    )
    issue_transition(issue_id=issue.pk, to_state=State.VERIFICATION, actor=quality, at=clock.at(a0 + 53))
    close = clock.workday(a0 + 70)
    closing = _past_meeting(
        clock=clock,
        days=close,
        preparer=quality,
        chair=committee,
        attendees=[committee, quality],
        items=[
            (
                issue,
                AgendaKind.AWAITING_VERIFICATION,
                Decision.CLOSE,
                "No effectiveness test: the reprinted guide ships only with new routers and the units in "
                "the field keep the old one, so the lockout rate cannot move measurably within a watch "
                "period. Closed on the reprint record, the FAQ and the checklist change.",
            )
        ],
        minutes="Router admin-page lockout closed by the committee (override).",
    )
    return issue, [approval, closing]


def _drain_pump(*, clock: _Clock, users: dict, refs: dict) -> tuple[ImprovementIssue, list[ReviewMeeting]]:
    """Closed about five months before --as-of, with a containment phase; every action on
    time; closed by the committee's override."""
    quality, committee, supervisor = users["quality"], users["committee"], users["supervisor"]
    b0 = -215
    opened = clock.at(b0, 9.5)
    evidence = _failures(line="washer", mode="MECH-PUMP", before=opened)
    issue = issue_create(
        title="Drain-pump repairs on washers fail again within weeks",
        description=("Service audit: drain-pump repairs come back; the returned pumps show a flattened filter gasket."),
        actor=quality,
        owner=quality,
        source=Source.AUDIT,
        severity="major",
        product_line=refs["washer"],
        failure_mode=refs["MECH-PUMP"],
        failures=evidence,
        baseline_kpi="repeat_failure_rate",
        baseline_filters={"product_line": "washer", "failure_mode": "MECH-PUMP"},
        at=opened,
    )
    issue_transition(issue_id=issue.pk, to_state=State.TRIAGE, actor=quality, at=clock.at(b0 + 1))
    issue_transition(issue_id=issue.pk, to_state=State.CONTAINMENT, actor=quality, at=clock.at(b0 + 2))
    gaskets = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.CONTAINMENT,
        title="Ship spare filter gaskets to every service team",
        owner=supervisor,
        due_on=clock.day(b0 + 7),
        at=clock.at(b0 + 2, 11),
    )
    action_status_set(
        action_id=gaskets.pk,
        actor=supervisor,
        status=ActionStatus.DONE,
        evidence="Gaskets received by all five teams.",
        at=clock.at(b0 + 6, 16),
    )
    issue_transition(issue_id=issue.pk, to_state=State.ROOT_CAUSE, actor=quality, at=clock.at(b0 + 6))
    cause = cause_add(
        issue_id=issue.pk,
        actor=quality,
        category="process",
        description="The drain-pump repair kit has no filter gasket; technicians refit the old, flattened one.",
        at=clock.at(b0 + 7),
    )
    cause_add(
        issue_id=issue.pk,
        actor=quality,
        category="people",
        description="Technicians are not told that the gasket is a wear part.",
        at=clock.at(b0 + 7, 11),
    )
    why_set(
        cause_id=cause.pk,
        actor=quality,
        at=clock.at(b0 + 7, 12),
        whys=[
            "The repaired pump leaks at the filter housing and trips the drain error again.",
            "The filter gasket is flattened and no longer seals.",
            "The technician refits the gasket that was in the old pump.",
            "The repair kit contains the pump but no gasket.",
            "The kit's bill of materials was copied from the previous pump model, which had no gasket.",
        ],
    )
    cause_verify(
        cause_id=cause.pk,
        actor=quality,
        evidence="Teardown of 12 returned pumps: all with the original, flattened gasket; "
        "the kit's bill of materials has no gasket line.",
        failure_ids=evidence[:3],
        at=clock.at(b0 + 12),
    )
    issue_transition(issue_id=issue.pk, to_state=State.ACTION_PLAN, actor=quality, at=clock.at(b0 + 13))
    kit = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.CORRECTIVE,
        title="Add the filter gasket to the drain-pump repair kit",
        owner=quality,
        due_on=clock.day(b0 + 35),
        cause_id=cause.pk,
        at=clock.at(b0 + 13, 11),
    )
    checklist = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.PREVENTIVE,
        title="Repair checklist: replace the filter gasket on every pump repair",
        owner=supervisor,
        due_on=clock.day(b0 + 30),
        cause_id=cause.pk,
        at=clock.at(b0 + 13, 11.5),
    )
    approve = clock.workday(b0 + 16, forward=True)
    approval = _past_meeting(
        clock=clock,
        days=approve,
        preparer=quality,
        chair=committee,
        attendees=[committee, quality, supervisor],
        items=[
            (
                issue,
                AgendaKind.PLAN_APPROVAL,
                Decision.APPROVE_PLAN,
                "Plan approved: kit change and checklist; gaskets already at the teams.",
            )
        ],
        minutes="Drain-pump repeat repairs: plan approved.",
    )
    issue_transition(issue_id=issue.pk, to_state=State.IMPLEMENTATION, actor=quality, at=clock.at(approve + 1))
    action_status_set(
        action_id=checklist.pk,
        actor=supervisor,
        status=ActionStatus.DONE,
        evidence="Checklist v3 in the field app; every pump repair asks for the gasket.",
        at=clock.at(b0 + 28, 15),
    )
    action_status_set(
        action_id=kit.pk,
        actor=quality,
        status=ActionStatus.DONE,
        evidence="Kit bill of materials revised; kits with the gasket in every warehouse.",
        at=clock.at(b0 + 33, 15),
    )
    issue_transition(issue_id=issue.pk, to_state=State.VERIFICATION, actor=quality, at=clock.at(b0 + 34))
    close = clock.workday(b0 + 60)
    closing = _past_meeting(
        clock=clock,
        days=close,
        preparer=quality,
        chair=committee,
        attendees=[committee, quality],
        items=[
            (
                issue,
                AgendaKind.AWAITING_VERIFICATION,
                Decision.CLOSE,
                "No effectiveness test: repeat drain-pump repairs are a handful a month, too few for a "
                "significant before/after comparison, and the rate is at the level of the other repairs. "
                "Closed on the kit change and an audit of 20 pump repairs, all with a new gasket.",
            )
        ],
        minutes="Drain-pump repeat repairs closed by the committee (override).",
    )
    return issue, [approval, closing]


def _east_response(*, clock: _Clock, users: dict, refs: dict, degraded_from: dt.date) -> ImprovementIssue:
    """The planted East Service slowdown, not fixed: in action plan, the plan awaiting
    approval, the containment action (owned by "quality") overdue."""
    quality, supervisor = users["quality"], users["supervisor"]
    c0 = (degraded_from - clock.as_of).days + 35
    issue = issue_create(
        title="East Service answers new requests much later than the other teams",
        description=(
            "First responses of East Service take hours longer since "
            f"{degraded_from:%B %Y}; the other teams are unchanged."
        ),
        actor=quality,
        owner=quality,
        team=refs["east_team"],
        source=Source.MANUAL,
        severity="major",
        region=refs["east"],
        baseline_kpi="first_response_hours",
        baseline_filters={"team": refs["east_team"].name},
        at=clock.at(c0, 9.5),
    )
    issue_transition(issue_id=issue.pk, to_state=State.TRIAGE, actor=quality, at=clock.at(c0 + 1))
    issue_transition(issue_id=issue.pk, to_state=State.ROOT_CAUSE, actor=quality, at=clock.at(c0 + 4))
    cause = cause_add(
        issue_id=issue.pk,
        actor=quality,
        category="people",
        description="East Service's capacity on shift no longer covers its incoming requests: "
        "new requests queue before the first reply.",
        at=clock.at(c0 + 5),
    )
    cause_add(
        issue_id=issue.pk,
        actor=quality,
        category="process",
        description="No overflow routing to another team when a queue grows.",
        at=clock.at(c0 + 5, 11),
    )
    why_set(
        cause_id=cause.pk,
        actor=quality,
        at=clock.at(c0 + 5, 12),
        whys=[
            "New requests wait hours in the East queue before the first reply.",
            "Requests arrive faster than the agents on shift clear them.",
            f"The team's capacity on shift has not covered its load since {degraded_from:%B %Y}.",
            "Nobody adjusts the shift plan or the routing when the load per agent changes.",
            "Staffing is reviewed once a year, not when the first-response KPI moves.",
        ],
    )
    cause_verify(
        cause_id=cause.pk,
        actor=quality,
        evidence=f"First-response hours by team: East steps up from {degraded_from:%B %Y}, the other "
        "teams stay level; the delay sits before the first reply.",
        at=clock.at(c0 + 20),
    )
    issue_transition(issue_id=issue.pk, to_state=State.ACTION_PLAN, actor=quality, at=clock.at(c0 + 22))
    overflow = action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.CONTAINMENT,
        title="Route East overflow to Central Service in peak hours",
        owner=quality,
        due_on=clock.day(-12),
        cause_id=cause.pk,
        at=clock.at(c0 + 22, 11),
    )
    action_status_set(action_id=overflow.pk, actor=quality, status=ActionStatus.IN_PROGRESS, at=clock.at(c0 + 30))
    action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.CORRECTIVE,
        title="Bring East Service back to the staffing its load needs",
        owner=supervisor,
        due_on=clock.day(25),
        cause_id=cause.pk,
        at=clock.at(c0 + 22, 11.5),
    )
    action_create(
        issue_id=issue.pk,
        actor=quality,
        kind=ActionKind.PREVENTIVE,
        title="Monthly staffing review of every team against its first-response time",
        owner=quality,
        due_on=clock.day(40),
        cause_id=cause.pk,
        at=clock.at(c0 + 22, 12),
    )
    return issue


def _dripping(*, clock: _Clock, users: dict, refs: dict) -> ImprovementIssue:
    """A new problem in triage, with the latest failures of its kind as evidence."""
    quality = users["quality"]
    opened = clock.at(-4, 11)
    issue = issue_create(
        title="Air-conditioner indoor units drip water",
        description="Several repair visits for water dripping from the indoor unit; check the drain pan "
        "and the installation.",
        actor=quality,
        owner=quality,
        source=Source.TICKET_CLUSTER,
        severity="major",
        product_line=refs["air_conditioner"],
        failure_mode=refs["LEAK-WATER"],
        failures=_failures(line="air_conditioner", mode="LEAK-WATER", before=opened, days=45),
        baseline_kpi="failures_per_1000",
        baseline_filters={"product_line": "air_conditioner", "failure_mode": "LEAK-WATER"},
        at=opened,
    )
    issue_transition(issue_id=issue.pk, to_state=State.TRIAGE, actor=quality, at=clock.at(-3))
    return issue


def _references() -> dict | None:
    from .demo import TEAMS  # imported late: intake.demo calls this module

    lines = {line.code: line for line in ProductLine.objects.filter(code__in=["router", "washer", "air_conditioner"])}
    modes = {m.code: m for m in FailureMode.objects.filter(code__in=["USER-MISUSE", "MECH-PUMP", "LEAK-WATER"])}
    east_team = Team.objects.filter(name=TEAMS[0][0]).first()
    east = Region.objects.filter(name="East").first()
    if len(lines) < 3 or len(modes) < 3 or east_team is None or east is None:
        return None
    return {**lines, **modes, "east_team": east_team, "east": east}


@transaction.atomic
def improvement_demo_seed(*, as_of: dt.date, log: Callable[[str], None] = print) -> dict[str, int]:
    """Write the demo's improvement history (see the module's docstring) into a database
    holding the demo data set; returns the number of issues and meetings written (none
    when the demo's users or reference data are missing)."""
    from .demo import planted_for

    users = {
        u.username: u for u in get_user_model().objects.filter(username__in=["quality", "committee", "supervisor"])
    }
    refs = _references()
    if len(users) < 3 or refs is None:
        log("  improvement history: skipped (no demo users or reference data)")
        return {"issues": 0, "meetings": 0}
    started = time.monotonic()
    clock = _Clock(as_of)
    router, router_meetings = _router_lockout(clock=clock, users=users, refs=refs)
    pump, pump_meetings = _drain_pump(clock=clock, users=users, refs=refs)
    east = _east_response(clock=clock, users=users, refs=refs, degraded_from=planted_for(as_of=as_of)["degraded_from"])
    dripping = _dripping(clock=clock, users=users, refs=refs)
    upcoming = clock.workday(3, forward=True)
    meeting = meeting_create(
        actor=users["quality"],
        title=f"Quality committee {clock.day(upcoming).isoformat()}",
        held_on=clock.day(upcoming),
        attendees=[users["committee"], users["quality"], users["supervisor"]],
        chair=users["committee"],
        location=LOCATION,
    )
    meeting_agenda_build(meeting_id=meeting.pk, actor=users["quality"])
    # Clock-stamped bookkeeping (auto_now, the meeting's creation): the history's times,
    # so the rows do not depend on when the demo was loaded.
    meetings = [*router_meetings, *pump_meetings, meeting]
    for row in meetings:
        ReviewMeeting.objects.filter(pk=row.pk).update(created_at=clock.at((row.held_on - as_of).days - 7, 9))
    issues = [router, pump, east, dripping]
    for issue in issues:
        last = issue.events.exclude(kind="whys").order_by("-at").values_list("at", flat=True).first()
        ImprovementIssue.objects.filter(pk=issue.pk).update(updated_at=last)
    log(
        f"  improvement history: {len(issues)} issues, {len(meetings)} committee meetings "
        f"({time.monotonic() - started:.2f} s)"
    )
    return {"issues": len(issues), "meetings": len(meetings)}
