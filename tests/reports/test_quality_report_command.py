"""`quality_report` (INTERFACES.md): writes the PDF where --out says, or to
./quality-report-START-END-LANG.pdf, prints the path and the page count; usage errors
exit with status 2 and say what is wrong."""

from __future__ import annotations

import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pypdf import PdfReader

from tests.factories import UserFactory


def run(*args) -> str:
    out = StringIO()
    call_command("quality_report", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_writes_the_report_to_out(tmp_path):
    path = tmp_path / "report.pdf"
    printed = run("--start", "2026-02-01", "--end", "2026-03-01", "--out", str(path))
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    assert printed.strip() == f"{path} ({len(reader.pages)} pages)"
    assert "Management quality report" in reader.pages[0].extract_text()


@pytest.mark.django_db
def test_default_file_name_language_filter_and_user(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    UserFactory(username="boss")
    printed = run(
        "--start", "2026-01-01", "--end", "2026-04-01", "--lang", "zh-hans", "--filter", "region=East", "--user", "boss"
    )
    path = tmp_path / "quality-report-2026-01-01-2026-04-01-zh-hans.pdf"
    assert printed.startswith("quality-report-2026-01-01-2026-04-01-zh-hans.pdf (")
    text = PdfReader(io.BytesIO(path.read_bytes())).pages[0].extract_text()
    assert "East" in text and "2026-01-01 – 2026-03-31" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-02-30", "--end", "2026-03-01"], "not a date"),
        (["--start", "2026-03-01", "--end", "2026-03-01"], "--end must be after --start"),
        (["--start", "2026-03-01", "--end", "2026-02-01"], "--end must be after --start"),
        (["--start", "2026-02-01", "--end", "2026-03-01", "--lang", "fr"], "unknown language: fr"),
        (["--start", "2026-02-01", "--end", "2026-03-01", "--filter", "region"], "DIM=MEMBER"),
        (["--start", "2026-02-01", "--end", "2026-03-01", "--filter", "colour=red"], "Unknown filter: colour"),
        (["--start", "2026-02-01", "--end", "2026-03-01", "--user", "nobody"], "no such user: nobody"),
    ],
)
@pytest.mark.django_db
def test_usage_errors_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert raised.value.returncode == 2
    assert message in str(raised.value)
    assert not list(tmp_path.iterdir())  # nothing written
