"""Root-cause analysis: fishbone causes (categories of the issue's set), 5-why chains,
verification of a cause with its evidence, and a recall launched from a verified cause.

Every write locks the issue row first (issue_lock), so an analysis step never
interleaves with a transition of the same issue (the action_plan guard reads the
causes), and appends one ImprovementEvent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError, ConflictError
from quality.models import Failure, Recall
from quality.services.recalls import recall_create

from ..models import PHASES, Cause, FishboneSet, ImprovementIssue, State, Why
from .issues import OPEN_STATES, issue_event, issue_lock

MAX_WHYS = 5
# Once the plan is being made, the verified causes are what the action_plan guard
# admitted: removing or unverifying one would break that guard after the fact.
PAST_ROOT_CAUSE = frozenset(PHASES[PHASES.index(State.ACTION_PLAN) :])


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    return at


def _require_open(issue: ImprovementIssue) -> None:
    if issue.state not in OPEN_STATES:
        raise ConflictError(
            _("The analysis of a closed, rejected or cancelled issue cannot change; reopen it first."),
            errors={"state": [_("not open")]},
        )


def fishbone_categories(issue: ImprovementIssue) -> list[dict]:
    """The issue's fishbone categories (its set, else the default set)."""
    fishbone = issue.fishbone_set or FishboneSet.objects.filter(is_default=True).first()
    return list(fishbone.categories) if fishbone else []


def _check_category(issue: ImprovementIssue, category: str, errors: dict) -> str:
    category = (category or "").strip()
    codes = [c["code"] for c in fishbone_categories(issue)]
    if category not in codes:
        errors["category"] = [
            _("“%(value)s” is not a category of this fishbone; choose one of %(codes)s.")
            % {"value": category, "codes": ", ".join(codes)}
        ]
    return category


def _check_description(description: str | None, errors: dict) -> str:
    text = (description or "").strip()
    if not text:
        errors["description"] = [_("This field is required.")]
    return text


def _cause_locked(cause_id: int) -> tuple[Cause, ImprovementIssue]:
    """The cause and its issue, the issue locked first (the lock order of every write)."""
    issue_id = Cause.objects.filter(pk=cause_id).values_list("issue_id", flat=True).first()
    if issue_id is None:
        raise ApplicationError(_("Cause not found."), errors={"cause": [_("does not exist")]})
    issue = issue_lock(issue_id)
    cause = Cause.objects.get(pk=cause_id)
    return cause, issue


@transaction.atomic
def cause_add(*, issue_id: int, actor, category: str, description: str, at=None) -> Cause:
    """Add a cause on one bone of the issue's fishbone set. Refused when the issue is
    closed, rejected or cancelled, or the category is not in the issue's set."""
    at = _now(at)
    issue = issue_lock(issue_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    category = _check_category(issue, category, errors)
    text = _check_description(description, errors)
    if errors:
        raise ApplicationError(_("The cause was not added."), errors=errors)
    cause = Cause.objects.create(issue=issue, category=category, description=text, created_at=at, created_by=actor)
    issue_event(issue, actor=actor, at=at, kind="cause_added", to_value=category, comment=text)
    return cause


@transaction.atomic
def cause_update(*, cause_id: int, actor, category: str | None = None, description: str | None = None) -> Cause:
    """Move a cause to another bone or reword it; one event naming what changed."""
    cause, issue = _cause_locked(cause_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    changes = {}
    if category is not None:
        changes["category"] = _check_category(issue, category, errors)
    if description is not None:
        changes["description"] = _check_description(description, errors)
    if errors:
        raise ApplicationError(_("The cause was not changed."), errors=errors)
    changed = [name for name, value in changes.items() if getattr(cause, name) != value]
    if not changed:
        return cause
    before = cause.category
    for name in changed:
        setattr(cause, name, changes[name])
    cause.save(update_fields=changed)
    issue_event(
        issue,
        actor=actor,
        at=timezone.now(),
        kind="cause_changed",
        from_value=before,
        to_value=cause.category,
        comment=cause.description if "description" in changed else "",
    )
    return cause


@transaction.atomic
def cause_delete(*, cause_id: int, actor) -> None:
    """Delete a cause (with its whys). A verified cause stays once the plan is being made."""
    cause, issue = _cause_locked(cause_id)
    _require_open(issue)
    if cause.verified and issue.state in PAST_ROOT_CAUSE:
        raise ConflictError(
            _("A verified cause cannot be deleted once the issue is past root-cause analysis."),
            errors={"cause": [_("verified")]},
        )
    text = cause.description
    category = cause.category
    cause.delete()
    issue_event(issue, actor=actor, at=timezone.now(), kind="cause_deleted", from_value=category, comment=text)


@transaction.atomic
def cause_verify(*, cause_id: int, actor, evidence: str, failure_ids: Iterable = (), at=None) -> Cause:
    """Mark a cause verified; evidence text is required, the failures given must exist."""
    at = _now(at)
    cause, issue = _cause_locked(cause_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    text = (evidence or "").strip()
    if not text:
        errors["evidence"] = [_("Describe the evidence that confirms this cause.")]
    try:
        wanted = sorted({int(i) for i in failure_ids})
    except (TypeError, ValueError):
        wanted = []
        errors["failure_ids"] = [_("Give record ids (integers).")]
    found = set(Failure.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [i for i in wanted if i not in found]
    if missing:
        errors["failure_ids"] = [_("Not found: %(ids)s.") % {"ids": ", ".join(map(str, missing[:10]))}]
    if errors:
        raise ApplicationError(_("The cause was not verified."), errors=errors)
    cause.verified, cause.verified_at, cause.verified_by, cause.evidence = True, at, actor, text
    cause.save(update_fields=["verified", "verified_at", "verified_by", "evidence"])
    if wanted:
        cause.evidence_failures.add(*wanted)
    issue_event(issue, actor=actor, at=at, kind="cause_verified", to_value=cause.category, comment=text)
    return cause


@transaction.atomic
def cause_unverify(*, cause_id: int, actor, reason: str, at=None) -> Cause:
    """Withdraw a verification (the evidence text is kept for the record); only while the
    issue is still in root-cause analysis or before."""
    at = _now(at)
    cause, issue = _cause_locked(cause_id)
    _require_open(issue)
    text = (reason or "").strip()
    if not text:
        raise ApplicationError(_("A reason is required."), errors={"reason": [_("This field is required.")]})
    if issue.state in PAST_ROOT_CAUSE:
        raise ConflictError(
            _("Send the issue back to root cause before withdrawing a verified cause."),
            errors={"state": [_("past root cause")]},
        )
    if not cause.verified:
        raise ConflictError(_("The cause is not verified."), errors={"cause": [_("not verified")]})
    cause.verified, cause.verified_at, cause.verified_by = False, None, None
    cause.save(update_fields=["verified", "verified_at", "verified_by"])
    issue_event(issue, actor=actor, at=at, kind="cause_unverified", to_value=cause.category, comment=text)
    return cause


@transaction.atomic
def why_set(*, cause_id: int, actor, whys: list[str], at: dt.datetime | None = None) -> list[Why]:
    """Replace the cause's 5-why chain (1..5 non-empty answers, in order) in one step."""
    cause, issue = _cause_locked(cause_id)
    _require_open(issue)
    answers = [(text or "").strip() for text in (whys or [])]
    errors: dict[str, list[str]] = {}
    if not answers:
        errors["whys"] = [_("Give at least one answer.")]
    elif len(answers) > MAX_WHYS:
        errors["whys"] = [_("At most %(max)d answers.") % {"max": MAX_WHYS}]
    elif not all(answers):
        errors["whys"] = [_("Answer %(n)d is empty.") % {"n": answers.index("") + 1}]
    if errors:
        raise ApplicationError(_("The 5-why chain was not saved."), errors=errors)
    cause.whys.all().delete()
    rows = Why.objects.bulk_create(
        Why(cause=cause, position=position, text=text) for position, text in enumerate(answers, start=1)
    )
    at = at or timezone.now()
    issue_event(issue, actor=actor, at=at, kind="whys", to_value=str(len(answers)), comment=answers[-1])
    return rows


def _next_recall_code() -> str:
    """RC-NNNN after the highest code of that form (recall codes are free text)."""
    last = Recall.objects.filter(code__regex=r"^RC-[0-9]{4}$").aggregate(m=Max("code"))["m"]
    number = int(last[3:]) + 1 if last else 1
    return f"RC-{number:04d}"


@transaction.atomic
def cause_recall_launch(
    *, cause_id: int, actor, title: str = "", severity: str = "class_ii", at=None, code: str = ""
) -> Recall:
    """Create a recall (draft) from a verified cause with the issue's scope (batches) and
    link it to the issue. The recall service validates the rest (code, title, severity)."""
    at = _now(at)
    cause, issue = _cause_locked(cause_id)
    _require_open(issue)
    errors: dict[str, list[str]] = {}
    if not cause.verified:
        errors["cause"] = [_("Only a verified cause can launch a recall.")]
    batch_codes = list(issue.batches.order_by("code").values_list("code", flat=True))
    if not batch_codes:
        errors["batches"] = [_("The issue's scope names no batch.")]
    if errors:
        raise ApplicationError(_("The recall was not created."), errors=errors)
    reason = cause.description
    if cause.evidence:
        reason = _("%(cause)s\n\nEvidence: %(evidence)s") % {"cause": reason, "evidence": cause.evidence}
    recall = recall_create(
        actor=actor,
        code=(code or "").strip() or _next_recall_code(),
        title=(title or "").strip() or f"{issue.code}: {issue.title}"[:255],
        severity=severity,
        reason=reason,
        batch_codes=batch_codes,
        at=at,
    )
    issue.recalls.add(recall)
    issue_event(issue, actor=actor, at=at, kind="recall", to_value=recall.code, comment=recall.title)
    return recall
