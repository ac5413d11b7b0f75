"""Attach the append-only trigger (catalog 0002) to this app's audit logs on PostgreSQL."""

from django.db import migrations

from catalog.migration_operations import AppendOnlyTriggers


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_append_only_guard"), ("tickets", "0004_drop_indexes_served_by_composites")]

    operations = [AppendOnlyTriggers("tickets_ticketevent")]
