"""Who a client is, and the answer when it asks too often: one client address for
django-axes, django-ratelimit and DRF; page throttles (login, exports) and the API's
export throttle. Counters live in the default cache, which production shares between
processes (CACHE_URL on Redis)."""

import ipaddress
import math
from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django_ratelimit.core import get_usage
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a key, never bound to


def client_ip(request) -> str:
    """The client's address. Behind NUM_PROXIES reverse proxies it is the entry the
    outermost of them appended to X-Forwarded-For: entries further left are whatever
    the client sent, so believing them would let anyone pick a fresh address per try."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "NUM_PROXIES", 0)
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            address = forwarded[-min(proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        # A Unix-socket peer has no address; a malformed header must not become a 500.
        return UNKNOWN_ADDRESS


def lockout_response(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out user name + address (AXES_LOCKOUT_CALLABLE):
    the translated page with the wait in minutes, 429 and Retry-After."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    minutes = max(1, math.ceil(seconds / 60)) if seconds else 0
    context = {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    response = render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


def throttled(*, group: str, rate_setting: str, key: str, method: str | tuple = ("GET", "POST")):
    """A page view allowed `settings.<rate_setting>` requests (django-ratelimit syntax,
    read per request) per `key` ("ip", "user_or_ip") and window; beyond that a 429 page
    with Retry-After. Views sharing a group share the budget."""

    def rate(group, request) -> str:
        return getattr(settings, rate_setting)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            usage = get_usage(request, group=group, key=key, rate=rate, method=method, increment=True)
            if usage is not None and usage["should_limit"]:
                wait = max(1, usage["time_left"])
                response = render(request, "throttled.html", {"retry_after": wait}, status=429)
                response["Retry-After"] = str(wait)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# Login posts per client address, on top of django-axes' lockout per user name + address:
# this one also stops one address trying many user names.
login_throttle = throttled(group="login", rate_setting="LOGIN_RATE", key="ip", method="POST")
# Every page export (CSV/XLSX) shares one budget per user: each reads a whole filtered list.
export_throttle = throttled(group="exports", rate_setting="EXPORT_RATE", key="user_or_ip")


class ExportThrottle(UserRateThrottle):
    """API exports: DEFAULT_THROTTLE_RATES["export"] per user (the address for anonymous
    requests, which the permissions refuse anyway); beyond it DRF's 429 with Retry-After."""

    scope = "export"

    def get_rate(self):
        # Read per request: DRF binds THROTTLE_RATES once at import.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request)
