"""`python manage.py purge_import_uploads [--days N]`: delete stored uploads past the
retention, what the scheduled import_uploads_purge_task does (the same service)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from intake.services import import_uploads_purge
from intake.tasks import upload_retention


class Command(BaseCommand):
    help = "Delete stored import uploads (MEDIA_ROOT/imports/) older than the retention."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, help="retention in days (default: settings.IMPORT_UPLOAD_RETENTION_DAYS, else 30)"
        )

    def handle(self, *args, days: int | None, **options):
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more", returncode=2)
        older_than = timedelta(days=days) if days is not None else upload_retention()
        deleted = import_uploads_purge(older_than=older_than)
        self.stdout.write(f"{deleted} stored upload(s) deleted (older than {older_than.days} days)")
