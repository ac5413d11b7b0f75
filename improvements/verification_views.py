"""The issue page's "run a verification" form (POST only): parse, call verification_run,
back to the issue page with the verdict or the refusal as a message. Thin: the service
validates; an issue out of the user's scope is a 404, running needs add_verification."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from catalog.exceptions import ApplicationError

from . import services
from .models import Verdict
from .selectors import issue_get

RUN_PERM = "improvements.add_verification"


def pairs_parse(text: str) -> dict[str, str] | None:
    """ "batch=WM200-L15, region=East" (commas or new lines) -> {"batch": "WM200-L15", ...};
    None when a part is not a dim=value pair."""
    out: dict[str, str] = {}
    for part in (text or "").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            return None
        out[name.strip()] = value.strip()
    return out


def pairs_format(filters: dict | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (filters or {}).items())


def _number(raw: str, default: float, *, percent: bool = False) -> float | str:
    raw = (raw or "").strip().replace("%", "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return raw  # the service refuses it by field
    return value / 100 if percent else value


def _message(error: ApplicationError) -> str:
    reasons = [str(r) for values in (error.errors or {}).values() for r in values if str(r) != str(error.message)]
    return " ".join([str(error.message), *reasons])


@login_required
@require_POST
def verification_run(request, pk: int):
    issue = issue_get(user=request.user, pk=pk)
    if not request.user.has_perm(RUN_PERM):
        raise PermissionDenied
    back = reverse("improvements:issue-detail", kwargs={"pk": issue.pk}) + "#verifications"
    post = request.POST
    filters = pairs_parse(post.get("filters", ""))
    control = pairs_parse(post.get("control_filters", ""))
    if filters is None or control is None:
        messages.error(request, _("The verification was not run: give the scope as dimension=member pairs."))
        return redirect(back)
    try:
        verification = services.verification_run(
            issue_id=issue.pk,
            actor=request.user,
            kpi=post.get("kpi", ""),
            filters=filters,
            control_filters=control or None,
            before_start=post.get("before_start", ""),
            before_end=post.get("before_end", ""),
            after_start=post.get("after_start", ""),
            after_end=post.get("after_end", ""),
            alpha=_number(post.get("alpha", ""), 0.05),
            min_effect=_number(post.get("min_effect", ""), 0.2, percent=True),
            comment=post.get("comment", "")[:2000],
        )
    except ApplicationError as error:
        messages.error(request, _message(error))
        return redirect(back)
    label = Verdict(verification.verdict).label
    if verification.verdict == Verdict.EFFECTIVE:
        messages.success(request, _("Verification done: %(verdict)s.") % {"verdict": label})
    else:
        issue.refresh_from_db(fields=["state"])
        text = _("Verification done: %(verdict)s.") % {"verdict": label}
        if issue.state == "root_cause" and verification.verdict == Verdict.NOT_EFFECTIVE:
            text += " " + _("The issue went back to root-cause analysis.")
        messages.warning(request, text)
    return redirect(back)


def default_windows(issue, *, today: dt.date) -> dict[str, dt.date]:
    """The form's first guess, for the user to edit: before = the baseline window (else
    the 90 days before detection), after = the last 90 days up to today, starting no
    earlier than the before window's end; both ends exclusive."""
    before_start, before_end = issue.baseline_start, issue.baseline_end
    detected = timezone.localtime(issue.detected_at).date()
    if not before_start or not before_end or before_end <= before_start or before_end > today:
        before_start, before_end = detected - dt.timedelta(days=90), detected
    after_end = today + dt.timedelta(days=1)
    after_start = max(before_end, after_end - dt.timedelta(days=90))
    if after_start >= after_end:
        after_start = today
    return {"before_start": before_start, "before_end": before_end, "after_start": after_start, "after_end": after_end}
