"""`python manage.py export_data DIR [--entity NAME ...]`: write every entity of the
standard template (DATA_CONTRACT.md) as DIR/ENTITY.csv, ready for `import_data --dir`
or the import page of another installation. Streams; memory stays flat."""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake.models import ENTITY_ORDER
from intake.selectors import template_export_rows


class Command(BaseCommand):
    help = "Export the data as standard-template CSV files (one per entity, UTF-8, in import order)."

    def add_arguments(self, parser):
        parser.add_argument("directory", help="where to write ENTITY.csv files (created when missing)")
        parser.add_argument("--entity", action="append", choices=ENTITY_ORDER, help="only these (repeatable)")

    def handle(self, *args, directory: str, entity: list[str] | None, **options):
        target = Path(directory)
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"cannot create {target}: {error}") from error
        for name in [e for e in ENTITY_ORDER if not entity or e in entity]:
            path = target / f"{name}.csv"
            rows = -1  # the header
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                for row in template_export_rows(entity=name):
                    writer.writerow(row)
                    rows += 1
            self.stdout.write(f"{path}: {rows} rows")
