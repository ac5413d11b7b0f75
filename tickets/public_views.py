"""Customer pages reached through signed links, without a login: the progress page and
the satisfaction survey. Thin: resolve the token to its one ticket, call one service.

Every refusal of a link (tampered, expired, revoked, unknown, no longer current) is the
same plain 404 page. Both pages share one throttle per client address; the responses
are never cached, never indexed, and send no Referer to other sites (the token is in
the URL)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from catalog.exceptions import ApplicationError

from . import selectors
from .models import Status
from .public_forms import ReplyForm, SurveyForm
from .services.links import (
    LinkInvalid,
    progress_link_ticket,
    survey_answer,
    survey_change_deadline,
    survey_link_ticket,
    survey_link_url,
    ticket_customer_confirm,
    ticket_customer_reply,
)
from .services.surveys import survey_submit

THROTTLE_GROUP = "tickets.customer_links"


def _rate(group, request) -> str:
    # Read per request, so the setting can change without a restart (and in tests).
    return settings.PUBLIC_LINK_RATE


def customer_page(view):
    """Throttle (429), turn LinkInvalid into the plain 404, and set the private headers."""

    @ratelimit(group=THROTTLE_GROUP, key="ip", rate=_rate, method=ratelimit.ALL, block=False)
    @require_http_methods(["GET", "POST"])
    @wraps(view)
    def wrapped(request, token):
        if getattr(request, "limited", False):
            response = render(request, "tickets/public/throttled.html", status=429)
            response["Retry-After"] = "60"
        else:
            try:
                response = view(request, token)
            except LinkInvalid:
                response = render(request, "tickets/public/invalid.html", status=404)
        add_never_cache_headers(response)
        # The token must not leak to other sites; "no-referrer" would also make browsers
        # send "Origin: null" on the page's own forms, which the CSRF check refuses.
        response["Referrer-Policy"] = "same-origin"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return wrapped


@customer_page
def progress(request, token):
    ticket = progress_link_ticket(token)
    form = ReplyForm()
    if request.method == "POST":
        if request.POST.get("action") == "confirm":
            try:
                ticket_customer_confirm(ticket_id=ticket.pk)
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("Thank you for confirming. Your request is now closed."))
            return redirect(request.path)
        form = ReplyForm(request.POST)
        if form.is_valid():
            try:
                ticket_customer_reply(ticket_id=ticket.pk, body=form.cleaned_data["body"])
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(request, _("Thank you. Your message was sent to the service team."))
                return redirect(request.path)
    context = {
        "ticket": ticket,
        "events": selectors.ticket_customer_timeline(ticket=ticket),
        "form": form,
        "can_confirm": ticket.status == Status.RESOLVED,
        "survey_url": survey_link_url(ticket) if ticket.status in (Status.RESOLVED, Status.CLOSED) else "",
    }
    return render(request, "tickets/public/progress.html", context, status=400 if form.errors else 200)


@customer_page
def survey(request, token):
    ticket, round = survey_link_ticket(token)
    answer = survey_answer(ticket, round)
    if request.method == "POST":
        form = SurveyForm(request.POST)
        if form.is_valid():
            try:
                survey_submit(ticket=ticket, round=round, **form.cleaned_data)
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                # The page itself thanks (and shows the answer); no flash message.
                return redirect(request.path)
    elif answer is not None:
        form = SurveyForm(initial={"csat": answer.csat, "nps": answer.nps, "comment": answer.comment})
    else:
        form = SurveyForm()
    context = {
        "ticket": ticket,
        "answer": answer,
        "deadline": survey_change_deadline(answer) if answer else None,
        "form": form,
        # An answered survey shows the thank-you state; the form opens on request.
        "editing": answer is None or bool(form.errors) or "change" in request.GET,
    }
    return render(request, "tickets/public/survey.html", context, status=400 if form.errors else 200)
