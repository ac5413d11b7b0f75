"""compute_kpis [--since DATE] [--full]: what the scheduled snapshot refresh does."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from quality.services import kpi_snapshots_refresh


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}", returncode=2) from None


class Command(BaseCommand):
    help = "Refresh the stored KPI snapshots: the periods touched since the last run, from --since, or all."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_date, help="recompute every period from this day")
        parser.add_argument("--full", action="store_true", help="recompute everything (the nightly job)")

    def handle(self, *args, **options):
        result = kpi_snapshots_refresh(full=options["full"], since=options["since"])
        self.stdout.write(json.dumps(result))
