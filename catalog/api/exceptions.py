"""The one place where errors become HTTP: {"detail": "...", "errors": {...}}."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from catalog.exceptions import ApplicationError

logger = logging.getLogger(__name__)


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {str(k): v if isinstance(v, (list, dict)) else [v] for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {}


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, "errors": exc.errors}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, (DataError, OverflowError)):
        # A value the database cannot hold that no validation caught (an integer beyond
        # 64 bits, a NUL byte in text on PostgreSQL): the client's input, not a server
        # fault. Logged, so that the missing validation gets added.
        logger.warning("database refused a client value: %s", exc)
        exc = exceptions.ValidationError({"non_field_errors": [_("A value is out of range or not allowed.")]})

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        response.data = {"detail": "Invalid input.", "errors": errors}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else str(response.data)
        response.data = {"detail": str(detail), "errors": {}}
    return response


def not_found(request, exception=None):
    """handler404: a path under /api/ that matches no route answers in the API's shape."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "errors": {}}, status=404)
    return defaults.page_not_found(request, exception)
