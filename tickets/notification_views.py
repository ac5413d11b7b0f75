"""The notification pages: the bell's count (an htmx fragment), the list, read marks.

Thin: one selector or service each. A notification is fetched through
selectors.notification_get_for_user, so anyone else's is a 404."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services

PAGE_SIZE = 25


@never_cache
@require_GET
def notification_badge(request):
    """The unread count for the navbar bell, polled by htmx. A signed-out poll (session
    expired) gets 204, which htmx leaves alone, instead of a login page to swap in."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    count = selectors.notification_unread_count(user=request.user)
    return render(request, "tickets/notifications/_badge.html", {"count": count})


@login_required
@require_GET
def notification_list(request):
    unread_only = request.GET.get("unread") == "1"
    notifications = selectors.notifications_for_user(user=request.user, unread_only=unread_only)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "unread_only": unread_only,
        "unread_count": selectors.notification_unread_count(user=request.user),
    }
    partial = bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")
    template = "tickets/notifications/_list.html" if partial else "tickets/notifications/list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _safe_target(request, url: str) -> str | None:
    # Links are written by our own services, but never redirect off-site on their word.
    hosts = {request.get_host(), urlsplit(settings.SITE_URL).netloc}
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts=hosts, require_https=request.is_secure()):
        return url
    return None


@login_required
@require_GET
def notification_open(request, pk):
    """Follow a notification's link and mark it read (the bell's list links here)."""
    notification = selectors.notification_get_for_user(user=request.user, pk=pk)
    services.notification_mark_read(user=request.user, notification_id=notification.pk)
    return redirect(_safe_target(request, notification.url) or "tickets:notifications")


@login_required
@require_POST
def notification_read(request, pk):
    notification = selectors.notification_get_for_user(user=request.user, pk=pk)
    services.notification_mark_read(user=request.user, notification_id=notification.pk)
    return redirect(_back(request))


@login_required
@require_POST
def notification_read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    if count:
        messages.success(
            request,
            ngettext("%(count)d notification marked read.", "%(count)d notifications marked read.", count)
            % {"count": count},
        )
    return redirect(_back(request))


def _back(request) -> str:
    # Stay on the page (and filter) the button was pressed on.
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "tickets:notifications"
