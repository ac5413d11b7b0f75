"""`python manage.py escalate_sla [--at ISO-DATETIME] [--json]`: runs the SLA sweep once
(what the scheduled job does). `--at` sweeps as if it were then (demos, backtests)."""

import argparse
import json

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tickets.services.escalation import sla_sweep


def _aware(value: str):
    parsed = parse_datetime(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not an ISO date-time: {value!r}")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # the site's time zone
    return parsed


class Command(BaseCommand):
    help = "Run the SLA sweep once: escalate the tickets whose next checkpoint has come."

    def add_arguments(self, parser):
        parser.add_argument(
            "--at", type=_aware, default=None, help="sweep as if it were this time (ISO 8601; default: now)"
        )
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")

    def handle(self, *args, at=None, json=False, **options):
        counts = sla_sweep(now=at)
        if json:
            self.stdout.write(_dumps(counts))
            return
        self.stdout.write(
            f"tickets: {counts['tickets']}  level 1: {counts['level_1']}  "
            f"level 2: {counts['level_2']}  level 3: {counts['level_3']}"
        )


def _dumps(counts: dict) -> str:
    return json.dumps(counts)
