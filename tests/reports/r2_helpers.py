"""Helpers of the 8D and recall report tests: the text of a PDF, dark pixels per page."""

from __future__ import annotations

import io
import shutil
import subprocess

from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def dark_pixels_per_page(pdf: bytes, tmp_path) -> list[int]:
    """Render every page in grey (pdftoppm -gray) and count the body's pixels darker than mid-grey."""
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "poppler-utils' pdftoppm is needed (.ci/run installs it)"
    subprocess.run([pdftoppm, "-gray", "-r", "40", str(source), str(tmp_path / "page")], check=True)
    counts = []
    for image in sorted(tmp_path.glob("page*.pgm")):
        data = image.read_bytes()
        # P5 header: magic, width, height, maxval, each followed by whitespace.
        parts, offset = [], 0
        while len(parts) < 4:
            end = data.index(b"\n", offset) if data[offset:].find(b"\n") >= 0 else len(data)
            parts += data[offset:end].split()
            offset = end + 1
        width, height = int(parts[1]), int(parts[2])
        # The body only (between the header's and the footer's rules): a page holding
        # nothing but its header and footer counts as blank.
        top, bottom = int(height * 0.09), int(height * 0.91)
        pixels = data[offset + top * width : offset + bottom * width]
        counts.append(sum(1 for value in pixels if value < 128))
    return counts
