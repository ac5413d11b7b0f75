"""evaluate_alerts [--as-of DATE] [--dry-run] [--json] (INTERFACES.md): the scheduled
evaluation run by hand, or a backtest as of a past day."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from quality.services.alerts import alert_rules_evaluate


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}", returncode=2) from None


class Command(BaseCommand):
    help = (
        "Evaluate the active alert rules once. --as-of tests the last complete period before "
        "that day using only records before it; --dry-run writes and sends nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, help="evaluate as if it were that day (YYYY-MM-DD)")
        parser.add_argument("--dry-run", action="store_true", help="change nothing, send nothing")
        parser.add_argument("--json", action="store_true", help="print the alerts that fire as JSON")

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # argparse exits 2 on usage errors itself; keep it so from call_command too.
        parser.error = lambda message: (_ for _ in ()).throw(CommandError(message, returncode=2))
        return parser

    def handle(self, *args, **options):
        firing = alert_rules_evaluate(as_of=options["as_of"], dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps(firing, ensure_ascii=False))
            return
        for item in firing:
            member = ", ".join(f"{k}={v}" for k, v in item["member"].items()) or "-"
            value = "-" if item["value"] is None else f"{item['value']:.4g}"
            self.stdout.write(f"{item['severity']:8} {item['rule']:28} {member:30} {item['period_start']} {value}")
        mode = " (dry run)" if options["dry_run"] else ""
        self.stdout.write(f"{len(firing)} alert(s) firing{mode}.")
