"""The improvement issue's lifecycle: one transition table, one gate.

Every state change runs through `issue_transition` (or a service that calls it): it
locks the issue row, checks the table and the phase guards, adds the time spent in the
phase it leaves to that phase's `<phase>_days`, saves with update_fields and appends one
ImprovementEvent. A refused step raises before anything is written."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.db import lock_one
from catalog.exceptions import ApplicationError, ConflictError
from catalog.roles import ADMIN, COMMITTEE_MEMBER, user_roles
from quality.models import Alert, Failure
from tickets.models import Survey, Ticket

from ..models import (
    PHASES,
    ActionKind,
    ActionStatus,
    FishboneSet,
    ImprovementEvent,
    ImprovementIssue,
    Severity,
    Source,
    State,
    Verdict,
)

TRANSITIONS: dict[str, frozenset[str]] = {
    State.DRAFT: frozenset({State.TRIAGE, State.REJECTED, State.CANCELLED}),
    State.TRIAGE: frozenset({State.CONTAINMENT, State.ROOT_CAUSE, State.REJECTED, State.CANCELLED}),
    State.CONTAINMENT: frozenset({State.ROOT_CAUSE, State.CANCELLED}),
    State.ROOT_CAUSE: frozenset({State.ACTION_PLAN, State.CANCELLED}),
    State.ACTION_PLAN: frozenset({State.IMPLEMENTATION, State.ROOT_CAUSE, State.CANCELLED}),
    State.IMPLEMENTATION: frozenset({State.VERIFICATION, State.ACTION_PLAN, State.CANCELLED}),
    State.VERIFICATION: frozenset({State.CLOSED, State.ROOT_CAUSE, State.IMPLEMENTATION, State.CANCELLED}),
    State.CLOSED: frozenset(),
    State.REJECTED: frozenset(),
    State.CANCELLED: frozenset(),
}
# Reopening (issue_reopen): a recurrence after closure means the analysis missed
# something, so a closed issue goes back to root cause; a rejected or cancelled one to triage.
REOPEN_TO: dict[str, str] = {
    State.CLOSED: State.ROOT_CAUSE,
    State.REJECTED: State.TRIAGE,
    State.CANCELLED: State.TRIAGE,
}
NEEDS_REASON = frozenset({State.REJECTED, State.CANCELLED})
OPEN_STATES = frozenset(PHASES)
# States whose entry voids an approved plan: a new analysis needs a new approval.
VOIDS_APPROVAL = frozenset({State.ROOT_CAUSE})


class InvalidTransition(ConflictError):
    """The table does not allow the step (HTTP 409)."""


class GuardRefused(ConflictError):
    """The step is in the table but its condition is not met (HTTP 409)."""


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def issue_lock(issue_id: int) -> ImprovementIssue:
    try:
        return lock_one(ImprovementIssue.objects.all(), issue_id)
    except ImprovementIssue.DoesNotExist:
        raise ApplicationError(_("Improvement issue not found."), errors={"issue": [_("does not exist")]}) from None


def issue_event(
    issue: ImprovementIssue, *, actor, at: dt.datetime, kind: str, from_value="", to_value="", comment=""
) -> ImprovementEvent:
    return ImprovementEvent.objects.create(
        issue=issue,
        actor=actor,
        at=at,
        kind=kind,
        from_value=str(from_value)[:64],
        to_value=str(to_value)[:64],
        comment=comment,
    )


def is_committee(user) -> bool:
    return bool(user_roles(user) & {COMMITTEE_MEMBER, ADMIN})


def transition_allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def allowed_transitions(issue: ImprovementIssue) -> list[str]:
    return [s for s in State.values if transition_allowed(issue.state, s)]


def issue_closing_verdict(issue: ImprovementIssue) -> str | None:
    """The verdict that may close the issue: its latest verification run since it entered
    verification (an early check made during implementation does not count)."""
    if issue.state != State.VERIFICATION:
        return None
    latest = (
        issue.verifications.filter(created_at__gte=issue.state_entered_at)
        .order_by("-created_at", "-id")
        .only("verdict")
        .first()
    )
    return latest.verdict if latest else None


def issue_guard_errors(issue: ImprovementIssue, to_state: str, *, actor=None, override_reason: str = "") -> dict:
    """The phase guards: {field: [reasons]} of what blocks entering `to_state` (empty: allowed).
    Pages use it to explain a disabled button; the gate raises it."""
    errors: dict[str, list[str]] = {}
    if to_state == State.ACTION_PLAN and not issue.causes.filter(verified=True).exists():
        errors["causes"] = [_("At least one root cause must be verified before the action plan.")]
    if to_state == State.IMPLEMENTATION and issue.plan_approved_at is None:
        errors["plan"] = [_("The quality committee has not approved the action plan.")]
    if to_state == State.VERIFICATION:
        corrective = issue.actions.filter(kind=ActionKind.CORRECTIVE).exclude(status=ActionStatus.CANCELLED)
        if not corrective.exists():
            errors["actions"] = [_("The plan has no corrective action.")]
        elif corrective.exclude(status=ActionStatus.DONE).exists():
            open_count = corrective.exclude(status=ActionStatus.DONE).count()
            errors["actions"] = [
                _("%(count)d corrective action(s) are not done yet.") % {"count": open_count},
            ]
    if to_state == State.CLOSED and issue_closing_verdict(issue) != Verdict.EFFECTIVE:
        if not override_reason.strip():
            errors["verification"] = [
                _("Closing needs an effective verification, or a committee override with a reason."),
            ]
        elif actor is not None and not is_committee(actor):
            errors["override_reason"] = [_("Only a committee member can override the verification.")]
    if to_state in NEEDS_REASON and not override_reason.strip():
        errors["reason"] = [_("A reason is required.")]
    return errors


def _leave_phase(issue: ImprovementIssue, at: dt.datetime) -> list[str]:
    """Add the time spent in the current phase to its column; returns the fields changed."""
    if issue.state not in OPEN_STATES:
        return []
    column = f"{issue.state}_days"
    spent = max((at - issue.state_entered_at).total_seconds(), 0) / 86400
    setattr(issue, column, getattr(issue, column) + spent)
    return [column]


def _enter(issue: ImprovementIssue, to_state: str, *, actor, at: dt.datetime, kind: str, comment: str) -> None:
    if at < issue.state_entered_at:
        raise ApplicationError(
            _("A step cannot happen before the issue entered its current state."),
            errors={"at": [_("too early")]},
        )
    from_state = issue.state
    fields = _leave_phase(issue, at)
    issue.state = to_state
    issue.state_entered_at = at
    fields += ["state", "state_entered_at"]
    if to_state == State.CLOSED:
        issue.closed_at = at
        days = getattr(settings, "IMPROVEMENT_WATCH_DAYS", 90)
        issue.watch_until = at + dt.timedelta(days=days) if days else None
        fields += ["closed_at", "watch_until"]
    elif from_state == State.CLOSED:
        issue.closed_at = None
        issue.watch_until = None
        fields += ["closed_at", "watch_until"]
    if to_state in VOIDS_APPROVAL and issue.plan_approved_at is not None:
        issue.plan_approved_at = None
        issue.plan_approved_by = None
        fields += ["plan_approved_at", "plan_approved_by"]
    issue.save(update_fields=[*fields, "updated_at"])
    issue_event(issue, actor=actor, at=at, kind=kind, from_value=from_state, to_value=to_state, comment=comment)


@transaction.atomic
def issue_transition(
    *,
    issue_id: int,
    to_state: str,
    actor,
    reason: str = "",
    override_reason: str = "",
    at: dt.datetime | None = None,
) -> ImprovementIssue:
    """Move an issue along TRANSITIONS. Guards: action_plan needs a verified root cause;
    implementation the committee's approval of the plan; verification every corrective
    action done; closed an effective verification or a committee override with a reason
    (`override_reason`); rejected and cancelled a reason."""
    at = _now(at)
    issue = issue_lock(issue_id)
    if to_state not in State.values:
        raise ApplicationError(
            _("Unknown state."), errors={"state": [_("“%(value)s” is not a valid choice.") % {"value": to_state}]}
        )
    if not transition_allowed(issue.state, to_state):
        raise InvalidTransition(
            _("An improvement issue cannot go from “%(from)s” to “%(to)s”.")
            % {"from": State(issue.state).label, "to": State(to_state).label},
            errors={"state": [_("transition not allowed")]},
        )
    text = (reason or "").strip()
    override = (override_reason or "").strip()
    errors = issue_guard_errors(issue, to_state, actor=actor, override_reason=override or text)
    if errors:
        raise GuardRefused(next(iter(errors.values()))[0], errors=errors)
    fields = []
    if to_state in NEEDS_REASON:
        issue.reason = text or override
        fields.append("reason")
    if to_state == State.CLOSED and issue_closing_verdict(issue) != Verdict.EFFECTIVE:
        issue.override_reason = override or text
        fields.append("override_reason")
    if fields:
        issue.save(update_fields=fields)
    _enter(issue, to_state, actor=actor, at=at, kind="transition", comment=text or override)
    return issue


@transaction.atomic
def issue_reopen(*, issue_id: int, actor, reason: str, at: dt.datetime | None = None) -> ImprovementIssue:
    """Reopen a closed (to root cause), rejected or cancelled (to triage) issue."""
    at = _now(at)
    issue = issue_lock(issue_id)
    if issue.state not in REOPEN_TO:
        raise InvalidTransition(
            _("Only a closed, rejected or cancelled issue can be reopened."), errors={"state": [_("not closed")]}
        )
    if not (reason or "").strip():
        raise ApplicationError(_("A reason is required."), errors={"reason": [_("This field is required.")]})
    issue.reopen_count += 1
    issue.reason = reason.strip()
    issue.save(update_fields=["reopen_count", "reason"])
    _enter(issue, REOPEN_TO[issue.state], actor=actor, at=at, kind="reopened", comment=reason.strip())
    return issue


@transaction.atomic
def issue_loop_back(*, issue_id: int, actor, comment: str, at: dt.datetime | None = None) -> ImprovementIssue:
    """A verification judged not effective: back to root cause, one more analysis loop."""
    at = _now(at)
    issue = issue_lock(issue_id)
    if issue.state != State.VERIFICATION:
        raise InvalidTransition(
            _("Only an issue in verification goes back to root cause after a verification."),
            errors={"state": [_("not in verification")]},
        )
    issue.loop_count += 1
    issue.save(update_fields=["loop_count"])
    _enter(issue, State.ROOT_CAUSE, actor=actor, at=at, kind="not_effective", comment=comment)
    return issue


@transaction.atomic
def issue_plan_approve(*, issue_id: int, actor, comment: str = "", at: dt.datetime | None = None) -> ImprovementIssue:
    """The committee approves the action plan (needed to enter implementation)."""
    at = _now(at)
    issue = issue_lock(issue_id)
    if issue.state != State.ACTION_PLAN:
        raise InvalidTransition(
            _("Only a plan in the action-plan phase can be approved."), errors={"state": [_("not in action plan")]}
        )
    if actor is not None and not is_committee(actor):
        raise ApplicationError(
            _("Only a committee member can approve a plan."), errors={"actor": [_("not a committee member")]}
        )
    corrective = issue.actions.filter(kind=ActionKind.CORRECTIVE).exclude(status=ActionStatus.CANCELLED)
    if not corrective.exists():
        raise GuardRefused(_("The plan has no corrective action."), errors={"actions": [_("none")]})
    issue.plan_approved_at = at
    issue.plan_approved_by = actor
    issue.save(update_fields=["plan_approved_at", "plan_approved_by", "updated_at"])
    issue_event(issue, actor=actor, at=at, kind="plan_approved", comment=comment)
    return issue


# --- creation and evidence ---------------------------------------------------------------

EVIDENCE = {
    "tickets": (Ticket, "created_at"),
    "failures": (Failure, "occurred_at"),
    "alerts": (Alert, "first_fired_at"),
    "surveys": (Survey, "responded_at"),
}
SCOPE_FIELDS = ("product_line", "product_model", "component", "supplier", "region", "failure_mode")
EDITABLE = ("title", "description", "severity", "owner", "team", *SCOPE_FIELDS, "baseline_kpi", "baseline_filters")


def fishbone_sets_install() -> None:
    """The migration's fishbone sets, when a flushed database has lost them (like the
    alert rules): an issue's causes sit on the default set's bones."""
    if FishboneSet.objects.filter(is_default=True).exists():
        return
    for values in importlib.import_module("improvements.migrations.0002_fishbone_sets").SETS:
        FishboneSet.objects.update_or_create(code=values["code"], defaults=values)


def _next_code(at: dt.datetime) -> str:
    prefix = f"IMP-{timezone.localtime(at):%Y}-"
    last = ImprovementIssue.objects.filter(code__startswith=prefix).aggregate(m=Max("code"))["m"]
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


def _evidence_ids(name: str, ids: Iterable, errors: dict) -> list[int]:
    model = EVIDENCE[name][0]
    try:
        wanted = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        errors[name] = [_("Give record ids (integers).")]
        return []
    found = set(model.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [i for i in wanted if i not in found]
    if missing:
        errors[name] = [_("Not found: %(ids)s.") % {"ids": ", ".join(map(str, missing[:10]))}]
    return wanted


def _earliest_evidence(issue: ImprovementIssue) -> dt.datetime | None:
    times = []
    for name, (_model, field) in EVIDENCE.items():
        value = getattr(issue, name).aggregate(t=Min(field))["t"]
        if value is not None:
            times.append(value)
    return min(times) if times else None


def _check_texts(fields: dict, errors: dict) -> None:
    if "title" in fields:
        title = (fields["title"] or "").strip()
        if not title:
            errors["title"] = [_("This field is required.")]
        elif len(title) > ImprovementIssue._meta.get_field("title").max_length:
            errors["title"] = [_("At most %(limit)s characters.") % {"limit": 255}]
        fields["title"] = title
    if "severity" in fields and fields["severity"] not in Severity.values:
        errors["severity"] = [_("“%(value)s” is not a valid choice.") % {"value": fields["severity"]}]
    if "baseline_kpi" in fields and fields["baseline_kpi"]:
        from quality.kpi.registry import kpi_lookup

        if kpi_lookup(fields["baseline_kpi"]) is None:
            errors["baseline_kpi"] = [_("Unknown KPI “%(code)s”.") % {"code": fields["baseline_kpi"]}]


def _link(issue: ImprovementIssue, evidence: dict[str, list[int]]) -> None:
    for name, ids in evidence.items():
        if ids:
            getattr(issue, name).add(*ids)


@transaction.atomic
def issue_create(
    *,
    title: str,
    actor,
    source: str = Source.MANUAL,
    severity: str = Severity.MAJOR,
    description: str = "",
    owner=None,
    team=None,
    product_line=None,
    product_model=None,
    batches: Iterable = (),
    component=None,
    supplier=None,
    region=None,
    failure_mode=None,
    tickets: Iterable[int] = (),
    failures: Iterable[int] = (),
    alerts: Iterable[int] = (),
    surveys: Iterable[int] = (),
    baseline_kpi: str = "",
    baseline_filters: dict | None = None,
    at: dt.datetime | None = None,
) -> ImprovementIssue:
    """A new issue in draft with its scope and evidence; `detected_at` is the earliest
    evidence (the creation time when there is none). Validates everything first."""
    at = _now(at)
    errors: dict[str, list[str]] = {}
    fields = {"title": title, "severity": severity, "baseline_kpi": baseline_kpi}
    if product_model is not None and product_line is None:
        product_line = product_model.product_line  # the KPI's product_line dimension reads it
    _check_texts(fields, errors)
    if source not in Source.values:
        errors["source"] = [_("“%(value)s” is not a valid choice.") % {"value": source}]
    evidence = {
        name: _evidence_ids(name, ids, errors)
        for name, ids in (("tickets", tickets), ("failures", failures), ("alerts", alerts), ("surveys", surveys))
    }
    if errors:
        raise ApplicationError(_("The improvement issue was not created."), errors=errors)
    fishbone_sets_install()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                issue = ImprovementIssue.objects.create(
                    code=_next_code(at),
                    title=fields["title"],
                    description=description or "",
                    source=source,
                    severity=severity,
                    owner=owner or actor,
                    team=team,
                    product_line=product_line,
                    product_model=product_model,
                    component=component,
                    supplier=supplier,
                    region=region,
                    failure_mode=failure_mode,
                    baseline_kpi=baseline_kpi or "",
                    baseline_filters=baseline_filters or {},
                    fishbone_set=FishboneSet.objects.filter(is_default=True).first(),
                    detected_at=at,
                    created_at=at,
                    created_by=actor,
                    state_entered_at=at,
                )
            break
        except IntegrityError:  # two creations drew the same number
            continue
    else:
        raise ConflictError(_("Could not draw a free issue number; retry."), errors={"code": [_("taken")]})
    if batches:
        issue.batches.set(batches)
    _link(issue, evidence)
    earliest = _earliest_evidence(issue)
    if earliest is not None and earliest < issue.detected_at:
        issue.detected_at = earliest
        issue.save(update_fields=["detected_at"])
    issue_event(issue, actor=actor, at=at, kind="created", to_value=State.DRAFT, comment=source)
    return issue


@transaction.atomic
def issue_update(*, issue_id: int, actor, batches: Iterable | None = None, **changes) -> ImprovementIssue:
    """Edit the problem's description, severity, owner, team, scope or baseline KPI."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ApplicationError(_("Unknown fields."), errors={name: [_("not editable")] for name in unknown})
    issue = issue_lock(issue_id)
    if issue.state not in OPEN_STATES:
        raise InvalidTransition(_("A closed issue cannot be edited; reopen it first."), errors={"state": [_("closed")]})
    errors: dict[str, list[str]] = {}
    _check_texts(changes, errors)
    if errors:
        raise ApplicationError(_("The improvement issue was not changed."), errors=errors)
    if changes.get("product_model") is not None and changes.get("product_line") is None:
        changes["product_line"] = changes["product_model"].product_line
    changed = [name for name, value in changes.items() if getattr(issue, name) != value]
    for name in changed:
        setattr(issue, name, changes[name])
    if changed:
        issue.save(update_fields=[*changed, "updated_at"])
    if batches is not None:
        issue.batches.set(batches)
        changed.append("batches")
    if changed:
        issue_event(issue, actor=actor, at=timezone.now(), kind="updated", comment=", ".join(changed))
    return issue


@transaction.atomic
def issue_evidence_link(
    *,
    issue_id: int,
    actor,
    tickets: Iterable[int] = (),
    failures: Iterable[int] = (),
    alerts: Iterable[int] = (),
    surveys: Iterable[int] = (),
) -> ImprovementIssue:
    """Link more evidence; `detected_at` moves back to the earliest evidence."""
    issue = issue_lock(issue_id)
    errors: dict[str, list[str]] = {}
    evidence = {
        name: _evidence_ids(name, ids, errors)
        for name, ids in (("tickets", tickets), ("failures", failures), ("alerts", alerts), ("surveys", surveys))
    }
    if errors:
        raise ApplicationError(_("No evidence was linked."), errors=errors)
    _link(issue, evidence)
    earliest = _earliest_evidence(issue)
    if earliest is not None and earliest < issue.detected_at:
        issue.detected_at = earliest
        issue.save(update_fields=["detected_at"])
    counts = ", ".join(f"{name} {len(ids)}" for name, ids in evidence.items() if ids)
    issue_event(issue, actor=actor, at=timezone.now(), kind="evidence", comment=counts)
    return issue
