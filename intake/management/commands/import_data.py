"""`python manage.py import_data ENTITY FILE [--mode strict|lenient] [--profile NAME] [--json] [--dry-run]`
and `python manage.py import_data --dir DIR [...]` (INTERFACES.md): import standard-template
files through intake.services. Exit 0 when the file was written (lenient: even with
rejected rows) or a dry run found no problem, 1 when a file was rejected (or a dry run
found problems), 2 for usage errors."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from intake import selectors
from intake.models import ENTITY_ORDER, ImportMode, ImportRun, ImportStatus
from intake.services import import_directory, import_file, import_run_summary, import_run_unchanged

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = "Import a standard-template CSV/XLSX file (DATA_CONTRACT.md), or every ENTITY.csv/.xlsx of a directory."

    def add_arguments(self, parser):
        parser.add_argument("entity", nargs="?", help=f"one of: {', '.join(ENTITY_ORDER)}")
        parser.add_argument("file", nargs="?", help="the CSV or XLSX file")
        parser.add_argument("--dir", dest="directory", help="import every ENTITY.csv / ENTITY.xlsx of DIR, in order")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.STRICT)
        parser.add_argument("--profile", help="name of a mapping profile")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="print the INTERFACES.md JSON object (a list for --dir)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")

    def handle(self, *args, entity, file, directory, mode, profile, as_json: bool, dry_run: bool, **options):
        if directory and (entity or file):
            raise CommandError("give either ENTITY FILE or --dir DIR, not both", returncode=2)
        if not directory and not (entity and file):
            raise CommandError("give ENTITY FILE, or --dir DIR", returncode=2)
        mapping = None
        if profile:
            mapping = selectors.mapping_profile_by_name(name=profile)
            if mapping is None:
                raise CommandError(f"unknown mapping profile {profile!r}", returncode=2)
        progress = self._progress if options["verbosity"] >= 2 else None

        if directory:
            if not Path(directory).is_dir():
                raise CommandError(f"not a directory: {directory}", returncode=2)
            runs = import_directory(directory=directory, mode=mode, profile=mapping, dry_run=dry_run, progress=progress)
            if not runs:
                self.stderr.write(f"no ENTITY.csv / ENTITY.xlsx file in {directory}")
        else:
            if entity not in ENTITY_ORDER:
                raise CommandError(f"unknown entity {entity!r}; one of: {', '.join(ENTITY_ORDER)}", returncode=2)
            if not Path(file).is_file():
                raise CommandError(f"no such file: {file}", returncode=2)
            if mapping is not None and mapping.entity and mapping.entity != entity:
                raise CommandError(f"mapping profile {profile!r} is for {mapping.entity}, not {entity}", returncode=2)
            runs = [
                import_file(entity=entity, path=file, mode=mode, profile=mapping, dry_run=dry_run, progress=progress)
            ]

        if as_json:
            summaries = [import_run_summary(run) for run in runs]
            self.stdout.write(_dumps(summaries if directory else summaries[0]))
        else:
            for run in runs:
                self._print(run)
        refused = [run for run in runs if _refused(run)]
        if refused:
            names = ", ".join(run.file_name for run in refused)
            raise CommandError(f"not imported: {names}", returncode=1)

    def _progress(self, rows: int) -> None:
        self.stderr.write(f"rows read: {rows}")
        self.stderr.flush()

    def _print(self, run: ImportRun) -> None:
        self.stdout.write(
            f"{run.file_name} ({run.entity}, {run.mode}{', dry run' if run.dry_run else ''}): {run.status} — "
            f"{run.rows} rows, {run.created} created, {run.updated} updated, "
            f"{import_run_unchanged(run)} unchanged, {run.rejected} rejected"
        )
        for warning in run.warnings or []:
            self.stdout.write(f"  warning: {warning}")
        errors = list(run.errors.all()[: SHOWN_ERRORS + 1])
        for error in errors[:SHOWN_ERRORS]:
            where = f"row {error.row}" if error.row else "file"
            column = f", {error.column}" if error.column else ""
            value = f" = {error.value!r}" if error.value else ""
            self.stdout.write(f"  {where}{column}{value}: {error.reason}")
        total = run.errors.count() if len(errors) > SHOWN_ERRORS else len(errors)
        if total > SHOWN_ERRORS:
            self.stdout.write(f"  ... {total - SHOWN_ERRORS} more (see the import history)")


def _refused(run: ImportRun) -> bool:
    """Exit 1: strict rejection, a file error, a failed run, or a dry run with problems."""
    if run.status in (ImportStatus.REJECTED, ImportStatus.FAILED):
        return True
    if run.status == ImportStatus.DRY_RUN:
        return not selectors.import_run_passed_dry_run(run)
    return False


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
