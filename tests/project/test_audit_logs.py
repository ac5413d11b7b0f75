"""Every audit log (a ticket's timeline, a recall's, an alert's) shares one append-only
shape (catalog.models.AppendOnlyEvent): a row is added, never changed or removed."""

import datetime as dt

import pytest

from quality.models import Alert, AlertEvent, AlertRule, Recall, RecallEvent
from tests.factories import TicketFactory
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def _events():
    ticket = TicketFactory()
    recall = Recall.objects.create(code="RC-T", title="Test", severity="class_ii", opened_at=AT)
    rule = AlertRule.objects.create(code="t", name="t", kind="process", params={"check": "sla_breaches", "count": 1})
    alert = Alert.objects.create(rule=rule, severity="warning")
    return [
        TicketEvent.objects.create(ticket=ticket, kind="note", at=AT),
        RecallEvent.objects.create(recall=recall, kind="state", at=AT),
        AlertEvent.objects.create(alert=alert, kind="fired", at=AT),
    ]


def test_an_audit_row_is_added_and_never_changed_or_removed():
    for event in _events():
        event.comment = "rewritten"
        with pytest.raises(ValueError, match="append-only"):
            event.save()
        with pytest.raises(ValueError, match="append-only"):
            event.delete()
        stored = type(event).objects.get(pk=event.pk)
        assert (stored.comment, stored.at) == ("", AT)
