"""The recurrence watch after closure: for IMPROVEMENT_WATCH_DAYS after an issue closes,
a failure of its failure mode in its scope means the fix did not hold."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from quality.models import Failure
from tickets.services import notification_send

from ..models import ImprovementIssue, State
from .issues import issue_event, issue_lock, issue_reopen

REOPEN = "reopen"
FLAG = "flag"


def recurrence_failures(issue: ImprovementIssue, *, until: dt.datetime):
    """Failures of the issue's mode in its scope that occurred after its closure (and by
    `until`): batches if any, else the product model, else the product line; the
    component and the region (of the unit's customer) when set."""
    condition = Q(failure_mode_id=issue.failure_mode_id, occurred_at__gt=issue.closed_at, occurred_at__lte=until)
    batches = list(issue.batches.values_list("pk", flat=True))
    if batches:
        condition &= Q(unit__batch_id__in=batches)
    elif issue.product_model_id:
        condition &= Q(unit__product_model_id=issue.product_model_id)
    elif issue.product_line_id:
        condition &= Q(unit__product_model__product_line_id=issue.product_line_id)
    if issue.component_id:
        condition &= Q(component_id=issue.component_id)
    if issue.region_id:
        condition &= Q(unit__customer__region_id=issue.region_id)
    return Failure.objects.filter(condition).order_by("occurred_at", "pk")


def _watched(now: dt.datetime):
    return ImprovementIssue.objects.filter(
        state=State.CLOSED, watch_until__gt=now, closed_at__isnull=False, failure_mode__isnull=False
    )


def _flagged(issue: ImprovementIssue) -> bool:
    """Flagged already for this closure (a later closure is watched afresh)."""
    return issue.recurrence_at is not None and issue.recurrence_at > issue.closed_at


@transaction.atomic
def _recurrence_handle(*, issue_id: int, now: dt.datetime, action: str) -> str | None:
    """Lock the issue, re-check it under the lock (another worker may have been first),
    then reopen or flag it. Returns what was done, None when nothing."""
    issue = issue_lock(issue_id)
    if issue.state != State.CLOSED or issue.watch_until is None or issue.watch_until <= now:
        return None
    if issue.failure_mode_id is None or (action == FLAG and _flagged(issue)):
        return None
    found = recurrence_failures(issue, until=now)
    count = found.count()
    if not count:
        return None
    first = found.first()
    params = {"code": issue.code, "count": count, "failure": first.external_id}
    reason = _("Recurrence after closure: %(count)d failure(s) of the same mode in scope, first %(failure)s.") % params
    if action == REOPEN:
        issue_reopen(issue_id=issue.pk, actor=None, reason=reason, at=now)
        title = gettext_lazy("%(code)s reopened: the failure mode recurred")
    else:
        issue.recurrence_at = first.occurred_at
        issue.save(update_fields=["recurrence_at", "updated_at"])
        issue_event(issue, actor=None, at=now, kind="recurrence", to_value=first.external_id, comment=reason)
        title = gettext_lazy("%(code)s: the failure mode recurred after closure")
    notification_send(
        recipients=[issue.owner],
        kind="improvement_recurrence",
        title=title,
        body=gettext_lazy(
            "%(count)d failure(s) of the same mode in the issue's scope since closure, first %(failure)s."
        ),
        params=params,
        url=_issue_url(issue.pk),
        payload={"issue": issue.code, "failures": count, "first": first.external_id, "action": action},
        dedupe_key=f"improvement-recurrence:{issue.pk}:{issue.reopen_count}:{first.pk}",
        at=now,
    )
    return action


def _issue_url(pk: int) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("improvements:issue-detail", kwargs={"pk": pk})
    except NoReverseMatch:
        return ""


def recurrence_watch(*, now=None) -> dict:
    """The daily job: for each closed issue still watched, a failure of its failure mode
    in its scope after closure reopens it (IMPROVEMENT_RECURRENCE_ACTION=reopen) or
    flags it (=flag: recurrence_at, an event, a notice to the owner). Idempotent: a
    reopened issue is no longer closed, a flagged one is not flagged again for the same
    closure; each issue is locked and re-checked before it is touched."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("timezone-aware datetimes only")
    action = getattr(settings, "IMPROVEMENT_RECURRENCE_ACTION", REOPEN)
    if action not in (REOPEN, FLAG):
        raise ValueError(f"IMPROVEMENT_RECURRENCE_ACTION must be {REOPEN!r} or {FLAG!r}")
    ids = list(_watched(now).order_by("pk").values_list("pk", flat=True))
    done = {REOPEN: 0, FLAG: 0}
    for issue_id in ids:
        result = _recurrence_handle(issue_id=issue_id, now=now, action=action)
        if result:
            done[result] += 1
    return {"checked": len(ids), "reopened": done[REOPEN], "flagged": done[FLAG]}
