"""quality_report --start DATE --end DATE [--lang en|zh-hans] [--out FILE.pdf]
[--filter DIM=MEMBER ...] [--user USERNAME] (INTERFACES.md): writes the management
quality report. Exit 2 for usage errors (bad dates, end <= start, unknown language,
filter or user)."""

import datetime as dt
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from catalog.exceptions import ApplicationError
from reports.builders.quality import quality_report_pdf


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}", returncode=2) from None


def _filter(value: str) -> tuple[str, str]:
    dim, sep, member = value.partition("=")
    if not sep or not dim.strip() or not member.strip():
        raise CommandError(f"a filter is DIM=MEMBER, not: {value}", returncode=2)
    return dim.strip(), member.strip()


class Command(BaseCommand):
    help = "Write the management quality report (PDF) for [start, end)."

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, type=_date)
        parser.add_argument("--end", required=True, type=_date, help="exclusive")
        parser.add_argument("--lang", default="en", help="en or zh-hans")
        parser.add_argument("--out", default="", help="the PDF file (default ./quality-report-START-END-LANG.pdf)")
        parser.add_argument(
            "--filter", action="append", default=[], type=_filter, help="DIM=MEMBER, as the dashboard's filters"
        )
        parser.add_argument("--user", default="", help="read as this user (their scope); default: everything")

    def handle(self, *args, **options):
        start, end, lang = options["start"], options["end"], options["lang"]
        languages = [code for code, _name in settings.LANGUAGES]
        if lang not in languages:
            raise CommandError(f"unknown language: {lang} (use {' or '.join(languages)})", returncode=2)
        if end <= start:
            raise CommandError("--end must be after --start (the end is exclusive)", returncode=2)
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no such user: {options['user']}", returncode=2)
        filters = dict(options["filter"])
        try:
            pdf, pages = quality_report_pdf(start=start, end=end, filters=filters, language=lang, user=user)
        except ApplicationError as error:
            raise CommandError(error.message, returncode=2) from None
        out = Path(options["out"] or f"quality-report-{start.isoformat()}-{end.isoformat()}-{lang}.pdf")
        try:
            out.write_bytes(pdf)
        except OSError as error:
            raise CommandError(f"cannot write {out}: {error.strerror}", returncode=2) from None
        self.stdout.write(f"{out} ({pages} pages)")
