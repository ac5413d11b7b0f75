"""Attach the append-only trigger (catalog 0002) to this app's audit logs on PostgreSQL."""

from django.db import migrations

from catalog.migration_operations import AppendOnlyTriggers


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_append_only_guard"), ("quality", "0007_kpi_cube")]

    operations = [AppendOnlyTriggers("quality_recallevent", "quality_alertevent")]
