"""Review-meeting pages (/improvements/meetings/...). Committee members, quality
engineers, managers (read) and admins; others get a 403. Thin: forms parse, the
reviews services validate and write (a refusal changes nothing and is shown next to
what caused it), selectors read."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.exceptions import ApplicationError

from . import review_selectors as selectors
from .minutes_pdf import meeting_minutes_pdf
from .models import AgendaItem, MeetingStatus
from .review_forms import AgendaItemForm, DecisionForm, MeetingForm, MinutesForm
from .services import agenda_item_add, agenda_item_decide, meeting_agenda_build, meeting_create, meeting_hold
from .services.issues import is_committee
from .services.reviews import can_prepare, decisions_fitting


def meeting_reader(view):
    """Logged in and allowed to read review meetings, else 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not selectors.meetings_readable(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _require_preparer(request) -> None:
    if not can_prepare(request.user):
        raise PermissionDenied


@meeting_reader
@require_GET
def meeting_list(request):
    upcoming, past = selectors.meeting_list_split(today=timezone.localdate())
    context = {"upcoming": upcoming, "past": past, "can_prepare": can_prepare(request.user)}
    return render(request, "improvements/meetings/list.html", context)


@meeting_reader
def meeting_new(request):
    _require_preparer(request)
    form = MeetingForm(request.POST or None, initial={"chair": request.user.pk})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            meeting = meeting_create(
                actor=request.user,
                title=data["title"],
                held_on=data["held_on"],
                location=data["location"],
                chair=data["chair"],
                attendees=list(data["attendees"]),
            )
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("The meeting was planned. Build its agenda from the data."))
            return redirect("improvements:meeting-detail", pk=meeting.pk)
    return render(request, "improvements/meetings/form.html", {"form": form})


def _detail(request, meeting, *, failed_item: int | None = None, failed_form=None, item_form=None, minutes_form=None):
    items = list(selectors.meeting_items(meeting))
    can_decide = is_committee(request.user)
    for item in items:
        item.issue_url = selectors.issue_url(item.issue_id) if item.issue_id else ""
        item.overdue = bool(item.action and item.action.current_due_on < meeting.held_on)
        if not item.decision and can_decide:
            fitting = decisions_fitting(item)
            item.form = (
                failed_form
                if item.pk == failed_item
                else DecisionForm(prefix=f"item{item.pk}", fitting=fitting, initial={"decision": fitting[0]})
            )
    planned = meeting.status == MeetingStatus.PLANNED
    prepare = can_prepare(request.user)
    context = {
        "meeting": meeting,
        "groups": selectors.agenda_groups(items),
        "item_count": len(items),
        "decided_count": sum(1 for item in items if item.decision),
        "can_decide": can_decide,
        "can_prepare": prepare,
        "can_build": prepare and planned,
        "item_form": item_form or (AgendaItemForm() if prepare and planned else None),
        "minutes_form": minutes_form or (MinutesForm(initial={"minutes": meeting.minutes}) if prepare else None),
    }
    return render(request, "improvements/meetings/detail.html", context)


@meeting_reader
@require_GET
def meeting_detail(request, pk):
    return _detail(request, selectors.meeting_get(pk=pk))


@meeting_reader
@require_POST
def meeting_agenda(request, pk):
    _require_preparer(request)
    meeting = selectors.meeting_get(pk=pk)
    try:
        added = meeting_agenda_build(meeting_id=meeting.pk, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if added:
            messages.success(request, _("%(count)d items were added to the agenda.") % {"count": added})
        else:
            messages.info(request, _("The agenda is up to date: nothing new to add."))
    return redirect("improvements:meeting-detail", pk=meeting.pk)


@meeting_reader
@require_POST
def meeting_item_add(request, pk):
    _require_preparer(request)
    meeting = selectors.meeting_get(pk=pk)
    form = AgendaItemForm(request.POST)
    if form.is_valid():
        try:
            agenda_item_add(meeting_id=meeting.pk, actor=request.user, issue_id=form.cleaned_data["issue"].pk)
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("The issue was added to the agenda."))
            return redirect("improvements:meeting-detail", pk=meeting.pk)
    return _detail(request, meeting, item_form=form)


@meeting_reader
@require_POST
def meeting_item_decide(request, pk, item_pk):
    if not is_committee(request.user):
        raise PermissionDenied
    meeting = selectors.meeting_get(pk=pk)
    item = get_object_or_404(AgendaItem.objects.select_related("issue"), pk=item_pk, meeting=meeting)
    form = DecisionForm(request.POST, prefix=f"item{item.pk}", fitting=decisions_fitting(item))
    if form.is_valid():
        try:
            agenda_item_decide(
                item_id=item.pk,
                actor=request.user,
                decision=form.cleaned_data["decision"],
                minutes=form.cleaned_data["minutes"],
            )
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("The decision was recorded."))
            return redirect(f"{reverse('improvements:meeting-detail', args=[meeting.pk])}#item-{item.pk}")
    return _detail(request, meeting, failed_item=item.pk, failed_form=form)


@meeting_reader
@require_POST
def meeting_mark_held(request, pk):
    _require_preparer(request)
    meeting = selectors.meeting_get(pk=pk)
    form = MinutesForm(request.POST)
    if form.is_valid():
        try:
            meeting_hold(meeting_id=meeting.pk, actor=request.user, minutes=form.cleaned_data["minutes"])
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, _("The meeting is marked as held; its minutes were saved."))
            return redirect("improvements:meeting-detail", pk=meeting.pk)
    return _detail(request, meeting, minutes_form=form)


@meeting_reader
@require_GET
def meeting_minutes_download(request, pk):
    """The minutes as PDF in the page's language."""
    meeting = selectors.meeting_get(pk=pk)
    language = translation.get_language() or "en"
    body = meeting_minutes_pdf(meeting, language=language)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="minutes-{meeting.held_on:%Y-%m-%d}-{meeting.pk}.pdf"'
    return response
