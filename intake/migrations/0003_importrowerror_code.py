import re

from django.conf import settings
from django.db import migrations, models
from django.utils import translation

# The reasons the engine wrote before rows carried a code, as their message ids (the
# English text), with the code each stands for. Stored reasons are in the importing
# user's language, so every message is matched in every configured language: its
# translation with each placeholder as a wildcard. Best effort: a reason that matches
# none (edited by hand, cut at 500 characters, an older wording) stays "other".
REASONS = (
    ("duplicate key; first seen at row %(row)s", "duplicate_key"),
    ("unknown %(what)s: %(keys)s", "unknown_reference"),
    ("unknown %(what)s “%(key)s”", "unknown_reference"),
    ("required", "required"),
    ("required column missing", "required"),
    ("required for a new record", "required"),
    ("required when %(other)s is %(value)s", "rule"),
    ("required when %(other)s is given", "rule"),
    ("must not be before %(other)s (%(value)s)", "rule"),
    ("must not be before the %(ref)s's %(attr)s (%(value)s)", "rule"),
    ("must equal the %(ref)s's %(column)s", "rule"),
    ("at least one of %(columns)s is required", "rule"),
    ("the unit is not in a batch affected by the recall", "rule"),
    ("not a valid timestamp", "invalid_timestamp"),
    ("not a valid date (YYYY-MM-DD)", "invalid_date"),
    ("not a whole number", "invalid_number"),
    ("not a number", "invalid_number"),
    ("must be at least %(min)s", "out_of_range"),
    ("must be at most %(max)s", "out_of_range"),
    ("too large: at most %(digits)s digits before the decimal point", "out_of_range"),
    ("must be one of: %(allowed)s", "invalid_enum"),
    ("not a yes/no value (true/false, 1/0, yes/no)", "invalid_boolean"),
    ("not text", "invalid_text"),
    ("contains a NUL character", "invalid_text"),
    ("longer than %(limit)s characters", "invalid_text"),
    ("not a valid code", "invalid_text"),
    ("not a list of codes", "invalid_text"),
    ("refused by the database: %(error)s", "database"),
    ("the row has %(cells)s cells, the header %(header)s", "shape"),
    ("not an object with the template's columns", "shape"),
    ("given twice (the names differ only in case or spaces)", "duplicate_column"),
)
# English prefixes for reasons whose placeholders are inside the message (when the
# whole-reason match fails, e.g. a reason cut at the column's length).
PREFIXES = (("duplicate key", "duplicate_key"), ("unknown ", "unknown_reference"))
CHUNK = 5000


def _pattern(message: str) -> str:
    parts = re.split(r"%\([a-z_]+\)s", message)
    return ".*".join(re.escape(part.replace("%%", "%")) for part in parts)


def _matcher():
    """One regex over every message in every language; the group that matched names
    the code (the first message that fits the whole reason wins)."""
    alternatives, codes = [], {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for message, code in REASONS:
                group = f"g{len(codes)}"
                codes[group] = code
                alternatives.append(f"(?P<{group}>{_pattern(translation.gettext(message))})")
    return re.compile("|".join(alternatives), re.DOTALL), codes


def backfill_codes(apps, schema_editor):
    ImportRowError = apps.get_model("intake", "ImportRowError")
    matcher, codes = _matcher()
    unclassified = ImportRowError.objects.filter(code="other").order_by("pk")
    last = 0
    while True:
        chunk = list(unclassified.filter(pk__gt=last).values_list("pk", "row", "reason")[:CHUNK])
        if not chunk:
            break
        last = chunk[-1][0]
        found: dict[str, list[int]] = {}
        for pk, row, reason in chunk:
            code = "file" if row == 0 else None
            if code is None and (match := matcher.fullmatch(reason)):
                code = codes[match.lastgroup]
            if code is None:
                code = next((c for prefix, c in PREFIXES if reason.startswith(prefix)), None)
            if code is not None:
                found.setdefault(code, []).append(pk)
        for code, pks in found.items():
            ImportRowError.objects.filter(pk__in=pks).update(code=code)


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0002_importrun_stored_file"),
    ]

    operations = [
        migrations.AddField(
            model_name="importrowerror",
            name="code",
            field=models.CharField(
                choices=[
                    ("file", "File cannot be imported"),
                    ("shape", "Malformed row"),
                    ("required", "Required value missing"),
                    ("invalid_text", "Invalid text or code"),
                    ("invalid_number", "Invalid number"),
                    ("out_of_range", "Number out of range"),
                    ("invalid_date", "Invalid date"),
                    ("invalid_timestamp", "Invalid timestamp"),
                    ("invalid_boolean", "Invalid yes/no value"),
                    ("invalid_enum", "Value not allowed"),
                    ("unknown_reference", "Unknown reference"),
                    ("duplicate_key", "Duplicate key"),
                    ("duplicate_column", "Column given twice"),
                    ("rule", "Cross-field rule broken"),
                    ("database", "Refused by the database"),
                    ("other", "Other"),
                ],
                default="other",
                max_length=20,
                verbose_name="code",
            ),
        ),
        migrations.RunPython(backfill_codes, migrations.RunPython.noop),
    ]
