"""The minutes PDF: its text (codes, decisions, minutes), Chinese with the embedded font,
and a first page that renders to a non-blank image."""

import io
import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from improvements import services
from improvements.minutes_pdf import meeting_minutes_pdf
from improvements.models import AgendaKind, State, Verdict
from tests.improvements import review_fixtures as fx

pytestmark = pytest.mark.django_db
PDFTOPPM = shutil.which("pdftoppm")


@pytest.fixture
def people(db):
    return fx.users()


@pytest.fixture
def decided_meeting(people):
    """A held meeting: one verification accepted, one new problem noted, one item left open."""
    meeting = services.meeting_create(
        actor=people["committee"],
        title="March quality review",
        held_on=fx.MEETING_DAY,
        location="Plant 2, room 3",
        chair=people["committee"],
        attendees=[people["qe"], people["manager"]],
    )
    verifying = fx.issue("IMP-2025-0008", State.VERIFICATION, title="轴承早期磨损")
    fx.verification(verifying, Verdict.EFFECTIVE)
    new = fx.issue("IMP-2025-0001", State.TRIAGE, title="Door seal leaks")
    waiting = fx.issue("IMP-2025-0002", State.TRIAGE, title="Display flicker")
    accept = services.agenda_item_add(
        meeting_id=meeting.pk, actor=people["qe"], issue_id=verifying.pk, kind=AgendaKind.AWAITING_VERIFICATION
    )
    noted = services.agenda_item_add(
        meeting_id=meeting.pk, actor=people["qe"], issue_id=new.pk, kind=AgendaKind.NEW_PROBLEM
    )
    services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=waiting.pk)
    services.agenda_item_decide(
        item_id=accept.pk,
        actor=people["committee"],
        decision="accept_verification",
        minutes="失效率下降一半，同意关闭。",
    )
    services.agenda_item_decide(
        item_id=noted.pk, actor=people["committee"], decision="noted", minutes="Owner starts the teardown."
    )
    return services.meeting_hold(meeting_id=meeting.pk, actor=people["committee"], minutes="Next review on 14 April.")


def _text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def _squash(text: str) -> str:
    # Table cells wrap; compare without the line breaks and spaces extraction puts there.
    return "".join(text.split())


def test_english_minutes_list_codes_decisions_and_minutes(decided_meeting):
    body = meeting_minutes_pdf(decided_meeting, language="en")

    text = _text(body)
    flat = _squash(text)
    assert body.startswith(b"%PDF")
    for expected in (
        "Minutes: March quality review",
        "Plant 2, room 3",
        "IMP-2025-0008",
        "IMP-2025-0001",
        "IMP-2025-0002",
        "Accept verification",
        "Noted",
        "Not decided",
        "Ownerstartstheteardown.",
        "失效率下降一半，同意关闭。",
        "Nextreviewon14April.",
        "committee",
        "boss, qe",  # attendees by name, whatever order the rows come in
        "Awaitingverification",
    ):
        assert _squash(expected) in flat, expected
    assert "Page 1 of 1" in text


def test_zh_hans_minutes_carry_the_chinese_issue_title(decided_meeting):
    body = meeting_minutes_pdf(decided_meeting, language="zh-hans")

    assert "轴承早期磨损" in _squash(_text(body))
    assert b"FontFile2" in body  # the TrueType CJK font is embedded


def _render_gray(body: bytes, tmp_path, name: str) -> bytes:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(body)
    subprocess.run(
        [PDFTOPPM, "-gray", "-r", "50", "-f", "1", "-l", "1", str(source), str(tmp_path / name)],
        check=True,
        timeout=60,
    )
    (page,) = tmp_path.glob(f"{name}-*.pgm")
    return page.read_bytes()


def _dark_pixels(pgm: bytes) -> tuple[int, int]:
    """(dark pixels, all pixels) of a binary 8-bit PGM as pdftoppm writes it."""
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", pgm)
    assert header, pgm[:20]
    width, height = int(header.group(1)), int(header.group(2))
    pixels = pgm[header.end() : header.end() + width * height]
    assert len(pixels) == width * height
    return sum(1 for value in pixels if value < 160), width * height


@pytest.mark.skipif(PDFTOPPM is None, reason="needs poppler's pdftoppm")
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_first_page_renders_with_ink(decided_meeting, tmp_path, language):
    pgm = _render_gray(meeting_minutes_pdf(decided_meeting, language=language), tmp_path, language)

    dark, total = _dark_pixels(pgm)
    assert total > 100_000  # A4 at 50 dpi is 414 x 585
    assert 0.002 < dark / total < 0.5  # text on the page, not a blank or a black page
