"""The shared PDF base: an embedded CJK font, paragraph styles that use it, and a
document whose every page carries the title as header and "Page X of Y" with the
generation time as footer. Apps build their story of flowables and call `pdf_build`.

The font is a TrueType font embedded in the file (wqy-zenhei covers Chinese and
Latin), so text extraction and viewers without Chinese fonts both work; the CID font
STSong-Light (not embedded: the viewer must supply it) is only a fallback when the
font file is missing."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import threading
from dataclasses import dataclass
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate

logger = logging.getLogger(__name__)

DEFAULT_CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT_NAME = "CJK"
FALLBACK_FONT = "STSong-Light"
MARGIN = 18 * mm
FRAME_PADDING = 6  # reportlab's default frame padding, points on each side
_lock = threading.Lock()
_fonts: PdfFonts | None = None


@dataclass(frozen=True)
class PdfFonts:
    regular: str
    bold: str  # the CJK font has no bold face; headings differ by size
    embedded: bool


def pdf_fonts() -> PdfFonts:
    """Register the CJK font once per process and return the font names to use."""
    global _fonts
    with _lock:
        if _fonts is None:
            path = getattr(settings, "PDF_CJK_FONT", "") or DEFAULT_CJK_FONT
            if os.path.exists(path):
                pdfmetrics.registerFont(TTFont(FONT_NAME, path, subfontIndex=0))
                name, embedded = FONT_NAME, True
            else:
                logger.warning("PDF font %s is missing; using the non-embedded CID font %s", path, FALLBACK_FONT)
                pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
                name, embedded = FALLBACK_FONT, False
            # <b>/<i> in paragraph markup map to the same face instead of failing.
            pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
            _fonts = PdfFonts(regular=name, bold=name, embedded=embedded)
        return _fonts


def pdf_styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles in the CJK font: title, heading, body, small, cell, label.
    reportlab's default wrapping breaks between Chinese characters and keeps Latin
    words whole, which suits mixed text (its "CJK" mode would split Latin words)."""
    font = pdf_fonts().regular
    base = ParagraphStyle("body", fontName=font, fontSize=10, leading=14, alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=22, spaceAfter=6),
        "heading": ParagraphStyle("heading", parent=base, fontSize=12.5, leading=17, spaceBefore=10, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=11, textColor=colors.HexColor("#555555")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
        "label": ParagraphStyle("label", parent=base, fontSize=8.5, leading=11, textColor=colors.HexColor("#555555")),
    }


def pdf_content_width(pagesize=A4) -> float:
    """The width a flowable may take on a page of `pdf_build` (tables: the sum of columns)."""
    return pagesize[0] - 2 * MARGIN - 2 * FRAME_PADDING


# Characters the embedded font lacks, and what stands in for them.
GLYPH_SUBSTITUTES = str.maketrans({"\u2212": "-"})  # minus sign


def pdf_glyphs(text: str) -> str:
    """The text with the characters the font lacks replaced (wqy-zenhei has no U+2212
    minus sign: it would print as a blank)."""
    return text.translate(GLYPH_SUBSTITUTES)


def pdf_text(value) -> str:
    """Plain text made safe for Paragraph markup, new lines kept."""
    return escape(pdf_glyphs(str(value if value is not None else ""))).replace("\n", "<br/>")


def pdf_paragraph(value, style: ParagraphStyle) -> Paragraph:
    return Paragraph(pdf_text(value), style)


def _numbered_canvas(*, title: str, footer_left: str, page_label, info: dict | None = None):
    """A canvas class that keeps every page until the end, then draws the header and
    the footer knowing the page count (two passes over the saved page states)."""
    font = pdf_fonts().regular

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._saved_pages: list[dict] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._saved_pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._saved_pages)
            if info is not None:
                info["pages"] = total
            for state in self._saved_pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            width, height = self._pagesize
            left, right = MARGIN + FRAME_PADDING, width - MARGIN - FRAME_PADDING
            top, bottom = height - MARGIN + 4.5 * mm, MARGIN - 5 * mm
            self.saveState()
            self.setStrokeColor(colors.HexColor("#999999"))
            self.setLineWidth(0.5)
            self.setFillColor(colors.HexColor("#444444"))
            self.setFont(font, 9)
            self.drawString(left, top + 1.5 * mm, title)
            self.line(left, top, right, top)
            self.line(left, bottom, right, bottom)
            self.setFont(font, 8)
            self.drawString(left, bottom - 4 * mm, footer_left)
            self.drawRightString(right, bottom - 4 * mm, page_label(self._pageNumber, total))
            self.restoreState()

    return NumberedCanvas


def pdf_build(
    story: list,
    *,
    title: str,
    author: str = "",
    now: dt.datetime | None = None,
    pagesize=A4,
    info: dict | None = None,
) -> bytes:
    """Lay out the flowables on A4 pages with the header (title) and the footer
    ("Page X of Y", the generation time in the local time zone); returns the PDF bytes.
    Labels are translated in the active language. A dict passed as `info` receives
    "pages": the page count (no need to parse the PDF again)."""
    pdf_fonts()
    now = timezone.localtime(now or timezone.now())
    generated = _("Generated %(time)s") % {"time": f"{now:%Y-%m-%d %H:%M} ({now.tzname()})"}

    def page_label(page: int, total: int) -> str:
        return _("Page %(page)d of %(pages)d") % {"page": page, "pages": total}

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        title=title,
        author=author,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 4 * mm,
        bottomMargin=MARGIN,
    )
    doc.build(story, canvasmaker=_numbered_canvas(title=title, footer_left=generated, page_label=page_label, info=info))
    return buffer.getvalue()
