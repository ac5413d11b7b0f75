"""The shared PDF base: the embedded CJK font and the numbered footer on every page."""

import io

import pytest
from django.utils import translation
from pypdf import PdfReader
from reportlab.platypus import PageBreak

from catalog import pdf


def _pages(body: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(body)).pages]


def test_footer_numbers_every_page_of_a_three_page_document():
    styles = pdf.pdf_styles()
    story = []
    for number in (1, 2, 3):
        story.append(pdf.pdf_paragraph(f"Section {number}", styles["heading"]))
        if number < 3:
            story.append(PageBreak())

    pages = _pages(pdf.pdf_build(story, title="Numbering check"))

    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of 3" in text
        assert "Numbering check" in text  # the header
        assert "Generated " in text
        assert f"Section {number}" in text


def test_long_text_flows_over_pages_with_the_total_known_on_the_first():
    styles = pdf.pdf_styles()
    story = [pdf.pdf_paragraph(f"Line {n} of a long report", styles["body"]) for n in range(200)]
    pages = _pages(pdf.pdf_build(story, title="Long"))
    total = len(pages)
    assert total >= 3
    assert f"Page 1 of {total}" in pages[0] and f"Page {total} of {total}" in pages[-1]


def test_chinese_text_is_embedded_and_extractable():
    assert pdf.pdf_fonts().embedded
    with translation.override("zh-hans"):
        styles = pdf.pdf_styles()
        body = pdf.pdf_build([pdf.pdf_paragraph("轴承早期磨损 <tag> & co", styles["body"])], title="质量报告")
    text = _pages(body)[0]
    assert "轴承早期磨损 <tag> & co" in text
    assert "质量报告" in text
    assert b"FontFile2" in body  # a TrueType font program is embedded


def test_missing_font_file_falls_back_to_the_cid_font(settings, monkeypatch, caplog):
    monkeypatch.setattr(pdf, "_fonts", None)  # restored after the test: the real font again
    settings.PDF_CJK_FONT = "/nonexistent/font.ttc"
    fonts = pdf.pdf_fonts()
    assert (fonts.regular, fonts.embedded) == (pdf.FALLBACK_FONT, False)
    assert "missing" in caplog.text


@pytest.mark.parametrize("value,expected", [("a<b>\nc", "a&lt;b&gt;<br/>c"), (None, "")])
def test_pdf_text_escapes_markup(value, expected):
    assert pdf.pdf_text(value) == expected


def test_mixed_text_breaks_between_chinese_characters_and_keeps_latin_words_whole():
    with translation.override("zh-hans"):
        paragraph = pdf.pdf_paragraph("失效率下降一半同意关闭" * 3 + " Accept verification", pdf.pdf_styles()["body"])
    paragraph.wrap(80, 1000)
    lines = [" ".join(words) for _extra, words in paragraph.blPara.lines]
    assert len(lines) >= 4  # 33 characters do not fit 80 points: the Chinese run is broken
    assert "verification" in lines[-1].split() or "verification" in lines[-2].split()
    assert not any(line.endswith("verificatio") for line in lines)
