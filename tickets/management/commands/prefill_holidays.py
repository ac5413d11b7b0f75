"""`python manage.py prefill_holidays [--calendar NAME] [--years 2026 2027]`: fills the
business calendars' holidays and make-up working days from the `holidays` library
(rows edited by hand are kept)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.exceptions import ApplicationError
from tickets.models import BusinessCalendar
from tickets.services import calendar_holidays_prefill


class Command(BaseCommand):
    help = "Fill business calendars with public holidays and make-up working days from the holidays library."

    def add_arguments(self, parser):
        parser.add_argument("--calendar", help="the calendar's name (default: every calendar)")
        parser.add_argument("--years", type=int, nargs="+", help="years to fill (default: this year and the next)")

    def handle(self, *args, calendar=None, years=None, **options):
        this_year = timezone.localdate().year
        years = years or [this_year, this_year + 1]
        calendars = BusinessCalendar.objects.all()
        if calendar:
            calendars = calendars.filter(name=calendar)
            if not calendars.exists():
                raise CommandError(f"no business calendar named {calendar!r}")
        for item in calendars:
            try:
                written = calendar_holidays_prefill(calendar=item, years=years)
            except ApplicationError as error:
                raise CommandError(f"{item.name}: {error.message}") from None
            self.stdout.write(f"{item.name}: {written} day(s) written for {', '.join(map(str, years))}")
