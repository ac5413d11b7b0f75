"""The audit logs are append-only in the database itself on PostgreSQL (catalog migration
0002 and one migration per owning app): UPDATE and DELETE of an event row raise, whatever
issued them — raw SQL, the ORM's queryset update()/delete() (which skip the models'
Python guard, see tests/project/test_audit_logs.py) or a cascade from the parent.
INSERT works; TRUNCATE (flush, test resets) is not refused."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from improvements.models import Action, ActionEvent, ImprovementEvent, ImprovementIssue
from quality.models import Alert, AlertEvent, AlertRule, Recall, RecallEvent
from tests.factories import TicketFactory, UserFactory, audit_rows_wipe
from tickets.models import Ticket, TicketEvent

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
AT = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
EVENT_MODELS = (TicketEvent, RecallEvent, AlertEvent, ImprovementEvent, ActionEvent)


def _events() -> dict[type, object]:
    owner = UserFactory(username="audit_owner")
    ticket = TicketFactory()
    recall = Recall.objects.create(code="RC-A", title="Audit", severity="class_ii", opened_at=AT)
    rule = AlertRule.objects.create(code="a", name="a", kind="process", params={"check": "sla_breaches", "count": 1})
    alert = Alert.objects.create(rule=rule, severity="warning")
    issue = ImprovementIssue.objects.create(code="IMP-A", title="Audit", detected_at=AT)
    action = Action.objects.create(
        issue=issue, kind="corrective", title="Fix", owner=owner, due_on=AT.date(), current_due_on=AT.date()
    )
    return {
        TicketEvent: TicketEvent.objects.create(ticket=ticket, kind="note", at=AT, comment="original"),
        RecallEvent: RecallEvent.objects.create(recall=recall, kind="state", at=AT, comment="original"),
        AlertEvent: AlertEvent.objects.create(alert=alert, kind="fired", at=AT, comment="original"),
        ImprovementEvent: ImprovementEvent.objects.create(issue=issue, kind="created", at=AT, comment="original"),
        ActionEvent: ActionEvent.objects.create(action=action, kind="created", at=AT, comment="original"),
    }


def _refused(statement) -> str:
    """Run a write in a savepoint; return the database's refusal (the test transaction
    goes on after the rollback to the savepoint)."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic():
        statement()
    return str(refusal.value)


def _unchanged(event) -> bool:
    stored = type(event).objects.filter(pk=event.pk).values_list("comment", "at").first()
    return stored == ("original", AT)


def test_every_audit_log_has_the_trigger():
    """A new AppendOnlyEvent table without its migration fails here."""
    from django.apps import apps

    from catalog.models import AppendOnlyEvent

    tables = {m._meta.db_table for m in apps.get_models() if issubclass(m, AppendOnlyEvent)}
    assert tables == {m._meta.db_table for m in EVENT_MODELS}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE %s AND NOT t.tgisinternal",
            ["%_append_only"],
        )
        assert {row[0] for row in cursor.fetchall()} == tables


def test_raw_sql_update_and_delete_are_refused_and_leave_the_row():
    for model, event in _events().items():
        table = connection.ops.quote_name(model._meta.db_table)
        update = f"UPDATE {table} SET comment = 'rewritten' WHERE id = %s"  # noqa: S608 (a model's table)
        delete = f"DELETE FROM {table} WHERE id = %s"  # noqa: S608
        with connection.cursor() as cursor:
            message = _refused(lambda c=cursor, sql=update, pk=event.pk: c.execute(sql, [pk]))
            assert f"{model._meta.db_table} is append-only: UPDATE refused" in message
            message = _refused(lambda c=cursor, sql=delete, pk=event.pk: c.execute(sql, [pk]))
            assert f"{model._meta.db_table} is append-only: DELETE refused" in message
        assert _unchanged(event), model


def test_orm_bulk_update_and_delete_are_refused():
    """queryset.update()/delete() never call Model.save()/delete(): only the trigger stops them."""
    for model, event in _events().items():
        rows = model.objects.filter(pk=event.pk)
        _refused(lambda rows=rows: rows.update(comment="rewritten"))
        _refused(lambda rows=rows: rows.delete())
        _refused(lambda rows=rows: rows._raw_delete(rows.db))
        assert _unchanged(event), model


def test_deleting_a_parent_with_a_history_is_refused():
    """The FKs cascade, so the parent's delete would take its history with it."""
    events = _events()
    parents = {
        TicketEvent: Ticket.objects.filter(pk=events[TicketEvent].ticket_id),
        RecallEvent: Recall.objects.filter(pk=events[RecallEvent].recall_id),
        AlertEvent: AlertRule.objects.filter(pk=events[AlertEvent].alert.rule_id),  # rule -> alerts -> events
        ImprovementEvent: ImprovementIssue.objects.filter(pk=events[ImprovementEvent].issue_id),
        ActionEvent: Action.objects.filter(pk=events[ActionEvent].action_id),
    }
    for model, parent in parents.items():
        _refused(lambda parent=parent: parent.delete())
        assert parent.exists(), model
        assert _unchanged(events[model]), model


def test_a_parent_without_history_can_still_be_deleted():
    """The trigger is per row: a cascade that finds no event rows goes through."""
    rule = AlertRule.objects.create(code="b", name="b", kind="process", params={"check": "sla_breaches", "count": 1})
    Alert.objects.create(rule=rule, severity="warning")
    AlertRule.objects.filter(pk=rule.pk).delete()
    assert not Alert.objects.filter(rule_id=rule.pk).exists()


def test_insert_works_and_truncate_is_allowed():
    events = _events()
    ticket_event = events[TicketEvent]
    added = TicketEvent.objects.create(ticket_id=ticket_event.ticket_id, kind="note", at=AT, comment="second")
    assert list(TicketEvent.objects.filter(ticket_id=ticket_event.ticket_id).values_list("comment", flat=True)) == [
        "original",
        "second",
    ]
    assert added.pk > ticket_event.pk
    audit_rows_wipe(TicketEvent)  # TRUNCATE: how flush and test resets empty a database
    assert TicketEvent.objects.count() == 0


def test_the_admin_offers_no_delete_for_parents_with_a_history(client):
    """The admin would otherwise end in the database's refusal (a 500)."""
    events = _events()
    client.force_login(UserFactory(username="audit_root", is_staff=True, is_superuser=True))
    pages = {
        "tickets/ticket": events[TicketEvent].ticket_id,
        "quality/recall": events[RecallEvent].recall_id,
        "quality/alert": events[AlertEvent].alert_id,
        "quality/alertrule": events[AlertEvent].alert.rule_id,
        "improvements/improvementissue": events[ImprovementEvent].issue_id,
        "improvements/action": events[ActionEvent].action_id,
    }
    for model, pk in pages.items():
        assert client.get(f"/admin/{model}/{pk}/delete/").status_code == 403, model
        changelist = client.get(f"/admin/{model}/")
        assert changelist.status_code == 200, model
        assert "delete_selected" not in changelist.content.decode(), model
