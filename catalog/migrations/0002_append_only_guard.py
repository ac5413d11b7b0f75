"""The database's half of the append-only audit logs (catalog.models.AppendOnlyEvent):
one trigger function that refuses UPDATE and DELETE. Each app that owns an event table
attaches it in its own migration. PostgreSQL only; SQLite keeps the models' Python guard.
TRUNCATE is not refused: it is how a whole database is emptied (flush, test resets)."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION append_only_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'audit rows are only ever added';
END
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)  # "%" is plpgsql's, not a placeholder


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS append_only_refuse()")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
