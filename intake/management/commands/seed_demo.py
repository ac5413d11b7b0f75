"""`python manage.py seed_demo [--scale small|medium|large] [--seed N] [--as-of YYYY-MM-DD]`:
fills an empty database with the deterministic demo data set (intake/demo.py)."""

import argparse
from datetime import date

from django.core.management.base import BaseCommand
from django.utils import timezone

from intake.demo import DEFAULT_SEED, DEMO_LOGINS, DEMO_PASSWORD, SCALES, demo_seed, planted_for


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}")


class Command(BaseCommand):
    help = "Fill an empty database with a realistic, deterministic demo data set (does nothing otherwise)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=list(SCALES),
            default="small",
            help="small (default, ~5k tickets), medium (~10x), large (~1 M tickets, for benchmarks on "
            "PostgreSQL); tiny is for the test suite",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
        parser.add_argument(
            "--as-of",
            type=_date,
            default=None,
            help="YYYY-MM-DD; the data ends at this day's local midnight (default: today)",
        )
        parser.add_argument(
            "--reference-only",
            action="store_true",
            help="only the accounts, teams, regions, product lines and failure modes (what the import "
            "template does not carry); then import the demo's exported files (export_data) to get the rest",
        )

    def handle(self, *args, scale: str, seed: int, as_of: date | None, reference_only: bool, **options):
        as_of = as_of or timezone.localdate()
        counts = demo_seed(scale=scale, seed=seed, as_of=as_of, log=self.stdout.write, reference_only=reference_only)
        if counts is None:
            self.stdout.write("Database is not empty; seed_demo did nothing.")
            return
        if reference_only:
            for label, count in sorted(counts.items()):
                self.stdout.write(f"  {label}: {count}")
            return
        for label in ("catalog.Customer", "catalog.Unit", "tickets.Ticket", "quality.Failure", "tickets.Survey"):
            self.stdout.write(f"  {label}: {counts.get(label, 0)}")
        planted = planted_for(as_of=as_of)
        self.stdout.write(
            "Planted problems: defective batch {defective_batch} ({defective_failure_mode} on "
            "{defective_component}), recall {recall}; {degraded_team} slower from {degraded_from}; "
            "{seasonal_line} peak in months {seasonal_months}.".format(**planted)
        )
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password: {DEMO_PASSWORD}):"))
        for username, role in DEMO_LOGINS:
            self.stdout.write(f"  {username:<12} {role}")
