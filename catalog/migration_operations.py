"""Migration operations other apps use (like django.contrib.postgres.operations)."""

from django.db.migrations.operations.base import Operation


class AppendOnlyTriggers(Operation):
    """Attach the append-only trigger function (catalog migration 0002) to audit-log
    tables on PostgreSQL: an UPDATE or DELETE of an event row raises, whatever path
    issued it (ORM bulk update, queryset delete, a cascade, raw SQL). SQLite keeps the
    models' Python guard. Reversible; no model state changes."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, *tables: str):
        self.tables = tables

    def deconstruct(self):
        return self.__class__.__qualname__, self.tables, {}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in self.tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION append_only_refuse()"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in self.tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    def describe(self):
        return f"Refuse UPDATE and DELETE of {', '.join(self.tables)} (PostgreSQL)"
