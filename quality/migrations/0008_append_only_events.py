"""Attach the append-only trigger (catalog 0002) to this app's audit logs on PostgreSQL:
an UPDATE or DELETE of an event row raises, whatever path issued it (ORM bulk update,
queryset delete, a cascade, raw SQL)."""

from django.db import migrations

TABLES = ["quality_recallevent", "quality_alertevent"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION append_only_refuse()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_append_only_guard"), ("quality", "0007_kpi_cube")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
