"""Row-lock helper shared by every app's services (Saleor's lock_objects pattern)."""

from django.db import connection
from django.db.models import Model, QuerySet


def lock_one(queryset: QuerySet, pk) -> Model:
    """Lock and return one row. `no_key` lets child inserts (events, comments) that
    reference the row proceed; SQLite has no row locks and serialises writers itself.
    Raises the model's DoesNotExist when there is no such row."""
    if connection.features.has_select_for_update:
        kwargs = {"no_key": True} if connection.features.has_select_for_no_key_update else {}
        queryset = queryset.select_for_update(**kwargs)
    return queryset.get(pk=pk)
