"""kpi CODE --grain GRAIN --start DATE --end DATE [--by DIM[,DIM]] [--json] (INTERFACES.md)."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from catalog.exceptions import ApplicationError
from quality.kpi.periods import GRAINS
from quality.kpi.registry import kpi_lookup
from quality.selectors import kpi_values


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}", returncode=2) from None


class Command(BaseCommand):
    help = "Print one KPI's values (the same numbers as the API and the dashboards)."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--grain", required=True, choices=list(GRAINS))
        parser.add_argument("--start", required=True, type=_date)
        parser.add_argument("--end", required=True, type=_date, help="exclusive")
        parser.add_argument("--by", default="", help="dimensions, comma-separated")
        parser.add_argument("--live", action="store_true", help="compute live, ignoring stored snapshots")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        kpi = kpi_lookup(options["code"])
        if kpi is None:
            raise CommandError(f"unknown KPI: {options['code']}", returncode=2)
        by = [d.strip() for d in options["by"].split(",") if d.strip()]
        try:
            body = kpi_values(
                user=None,
                kpi=kpi,
                grain=options["grain"],
                start=options["start"],
                end=options["end"],
                by=by,
                live=options["live"],
            )
        except ApplicationError as error:
            raise CommandError(error.message, returncode=2) from None
        if options["json"]:
            body = {k: v for k, v in body.items() if k not in ("filters", "source")}
            for row in body["rows"]:
                row.pop("target", None)
                row.pop("status", None)
            self.stdout.write(json.dumps(body, ensure_ascii=False))
            return
        self.stdout.write(f"{kpi.code} ({kpi.name_en}, {kpi.unit}, {kpi.direction}) by {', '.join(by) or '-'}")
        for row in body["rows"]:
            members = " ".join(str(row[d]) for d in by)
            value = "-" if row["value"] is None else f"{row['value']:.4f}"
            flag = " provisional" if row["provisional"] else ""
            counts = f"({row['numerator']}/{row['denominator']})"
            self.stdout.write(f"{row['period_start']} {members} {value} {counts}{flag}")
