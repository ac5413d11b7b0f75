"""Charts for the PDF reports, drawn with reportlab.graphics shapes in the embedded CJK
font (so Chinese labels render and extract): a line chart with a target line, a Pareto
chart (bars and the cumulative share), horizontal bars, a heat table and sparklines.
Each returns a flowable (a Drawing, or a Table for the heat table) of the given size.
Axes are drawn here rather than with reportlab's chart widgets: labels can then be
thinned and clipped so they never overlap, whatever the data."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Table, TableStyle

from catalog.pdf import pdf_fonts, pdf_glyphs

SERIES = colors.HexColor("#0d6efd")
SECOND = colors.HexColor("#fd7e14")
TARGET = colors.HexColor("#dc3545")
GRID = colors.HexColor("#e3e3e3")
AXIS = colors.HexColor("#888888")
TEXT = colors.HexColor("#333333")
STATUS_COLORS = {
    "met": colors.HexColor("#198754"),
    "near": colors.HexColor("#e0a800"),
    "missed": colors.HexColor("#dc3545"),
    None: colors.HexColor("#adb5bd"),
}


def nice_ticks(lo: float, hi: float, count: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5, 5 x 10^n steps; whole steps
    for counts)."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    if integer:
        raw = max(raw, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value < hi + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def fit_text(text: str, width: float, size: float) -> str:
    """The text cut (with an ellipsis) to fit a width in the report font."""
    font = pdf_fonts().regular
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _string(x, y, text, *, size=7, anchor="start", color=TEXT) -> String:
    text = pdf_glyphs(text)
    return String(x, y, text, fontName=pdf_fonts().regular, fontSize=size, fillColor=color, textAnchor=anchor)


def _every(labels: Sequence[str], room: float, size: float) -> int:
    """Show every n-th category label so that the labels do not overlap."""
    widest = max((stringWidth(s, pdf_fonts().regular, size) for s in labels), default=0) + 4
    return max(1, math.ceil(widest / room)) if room > 0 else 1


def _y_axis(d: Drawing, *, x0, y0, w, h, lo, hi, ticks, fmt, right=False, color=TEXT):
    for t in ticks:
        y = y0 + (t - lo) / (hi - lo) * h
        if not right:
            d.add(Line(x0, y, x0 + w, y, strokeColor=GRID, strokeWidth=0.4))
            d.add(_string(x0 - 3, y - 2.5, fmt(t), anchor="end", color=color))
        else:
            d.add(_string(x0 + w + 3, y - 2.5, fmt(t), anchor="start", color=color))


def _empty(d: Drawing, message: str) -> Drawing:
    d.add(Rect(0, 0, d.width, d.height, fillColor=colors.HexColor("#f8f9fa"), strokeColor=GRID))
    d.add(_string(d.width / 2, d.height / 2 - 3, message, size=9, anchor="middle", color=AXIS))
    return d


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    width: float,
    height: float,
    target: float | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    title: str = "",
    target_label: str = "",
    empty: str = "",
) -> Drawing:
    """One series over categories (periods), broken where a value is missing, with a
    dashed target line."""
    d = Drawing(width, height)
    known = [v for v in values if v is not None]
    if not known:
        return _empty(d, empty)
    top = 14 if title else 4
    x0, y0 = 40, 16
    w, h = width - x0 - 8, height - y0 - top
    span = known + ([target] if target is not None else [])
    lo, hi = min(span), max(span)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.1 or 1.0
    ticks = nice_ticks(lo - pad if lo - pad > 0 or lo < 0 else 0, hi + pad)
    lo, hi = ticks[0], ticks[-1]
    if title:
        d.add(_string(0, height - 9, fit_text(title, width, 8.5), size=8.5))
    _y_axis(d, x0=x0, y0=y0, w=w, h=h, lo=lo, hi=hi, ticks=ticks, fmt=fmt)
    d.add(Line(x0, y0, x0 + w, y0, strokeColor=AXIS, strokeWidth=0.6))
    n = len(values)
    step = w / max(n, 1)
    xs = [x0 + step * (i + 0.5) for i in range(n)]
    every = _every(labels, step, 6.5)
    for i, label in enumerate(labels):
        if (n - 1 - i) % every == 0:  # the latest period always labelled
            d.add(_string(xs[i], y0 - 9, label, size=6.5, anchor="middle"))

    def y_of(v: float) -> float:
        return y0 + (v - lo) / (hi - lo) * h

    if target is not None:
        d.add(Line(x0, y_of(target), x0 + w, y_of(target), strokeColor=TARGET, strokeWidth=0.8, strokeDashArray=[3, 2]))
        if target_label:
            d.add(_string(x0 + w, y_of(target) + 2, target_label, size=6.5, anchor="end", color=TARGET))
    run: list[float] = []
    for i, v in enumerate([*values, None]):
        if v is None:
            if len(run) >= 4:
                d.add(PolyLine(run, strokeColor=SERIES, strokeWidth=1.2))
            run = []
            continue
        run += [xs[i], y_of(v)]
        d.add(Rect(xs[i] - 1.3, y_of(v) - 1.3, 2.6, 2.6, fillColor=SERIES, strokeColor=None))
    return d


def pareto_chart(
    labels: Sequence[str],
    counts: Sequence[int],
    cumulative: Sequence[float],
    *,
    width: float,
    height: float,
    empty: str = "",
) -> Drawing:
    """Bars (counts, left axis) in descending order and the cumulative share (right
    axis, 0-100 %), with the 80 % line."""
    d = Drawing(width, height)
    if not counts:
        return _empty(d, empty)
    x0, y0, top = 36, 44, 6
    w, h = width - x0 - 30, height - y0 - top
    ticks = nice_ticks(0, max(counts))
    hi = ticks[-1]
    _y_axis(d, x0=x0, y0=y0, w=w, h=h, lo=0, hi=hi, ticks=ticks, fmt=lambda v: f"{v:,.0f}")
    for share in (0, 20, 40, 60, 80, 100):
        y = y0 + share / 100 * h
        d.add(_string(x0 + w + 3, y - 2.5, f"{share}%", color=SECOND))
    d.add(Line(x0, y0 + 0.8 * h, x0 + w, y0 + 0.8 * h, strokeColor=SECOND, strokeWidth=0.5, strokeDashArray=[2, 2]))
    d.add(Line(x0, y0, x0 + w, y0, strokeColor=AXIS, strokeWidth=0.6))
    n = len(counts)
    step = w / n
    points = []
    for i, (label, count, share) in enumerate(zip(labels, counts, cumulative, strict=True)):
        bar = count / hi * h
        d.add(Rect(x0 + step * i + step * 0.15, y0, step * 0.7, bar, fillColor=SERIES, strokeColor=None))
        d.add(_string(x0 + step * (i + 0.5), y0 + bar + 1.5, f"{count:,}", size=6, anchor="middle"))
        points += [x0 + step * (i + 0.5), y0 + share / 100 * h]
        # Category labels written at a slant would need a rotated group; two short lines
        # under each bar read as well and stay inside the drawing.
        text = fit_text(label, step * 2 - 2, 6.5)
        line = 0 if i % 2 == 0 else 1
        d.add(_string(x0 + step * (i + 0.5), y0 - 9 - line * 9, text, size=6.5, anchor="middle"))
    d.add(PolyLine(points, strokeColor=SECOND, strokeWidth=1.2))
    for j in range(0, len(points), 2):
        d.add(Rect(points[j] - 1.3, points[j + 1] - 1.3, 2.6, 2.6, fillColor=SECOND, strokeColor=None))
    return d


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    width: float,
    height: float | None = None,
    target: float | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    colors_of: Sequence | None = None,
    target_label: str = "",
    integer: bool = False,
    empty: str = "",
) -> Drawing:
    """Horizontal bars, one per label (top to bottom), with the value at the bar's end
    and an optional dashed target line."""
    n = len(labels)
    row = 13
    height = height or (n * row + 30)
    d = Drawing(width, height)
    known = [v for v in values if v is not None]
    if not known:
        return _empty(d, empty)
    label_w = min(max(stringWidth(s, pdf_fonts().regular, 7) for s in labels) + 6, width * 0.35)
    x0, y0 = label_w, 14
    w = width - x0 - 40
    h = height - y0 - 9
    step = h / n
    ticks = nice_ticks(0, max(known + ([target] if target is not None else [])), integer=integer)
    hi = ticks[-1]
    for t in ticks:
        x = x0 + t / hi * w
        d.add(Line(x, y0, x, y0 + h, strokeColor=GRID, strokeWidth=0.4))
        d.add(_string(x, y0 - 9, fmt(t), size=6.5, anchor="middle"))
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = y0 + h - step * (i + 1)
        d.add(_string(x0 - 4, y + step / 2 - 2.5, fit_text(label, label_w - 6, 7), anchor="end"))
        if v is None:
            continue
        fill = colors_of[i] if colors_of else SERIES
        d.add(Rect(x0, y + step * 0.18, v / hi * w, step * 0.64, fillColor=fill, strokeColor=None))
        d.add(_string(x0 + v / hi * w + 3, y + step / 2 - 2.5, fmt(v), size=6.5))
    d.add(Line(x0, y0, x0, y0 + h, strokeColor=AXIS, strokeWidth=0.6))
    if target is not None:
        x = x0 + target / hi * w
        # Dark, not red: the bars above the target are red themselves.
        d.add(Line(x, y0, x, y0 + h, strokeColor=TEXT, strokeWidth=0.9, strokeDashArray=[3, 2]))
        if target_label:
            d.add(_string(x + 2, y0 + h + 1, target_label, size=6.5, color=TEXT))
    return d


def curves_chart(
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: float,
    height: float,
    x_label: str = "",
    goal: float | None = None,
    empty: str = "",
) -> Drawing:
    """Several curves of shares (0-100 %) against a common index 1..n (weeks since
    launch), with a legend and an optional dashed goal line."""
    d = Drawing(width, height)
    series = [(name, points) for name, points in series if any(p is not None for p in points)]
    if not series:
        return _empty(d, empty)
    palette = [SERIES, SECOND, colors.HexColor("#20c997"), colors.HexColor("#6f42c1"), colors.HexColor("#d63384")]
    x0, y0, top = 36, 26, 16
    w, h = width - x0 - 10, height - y0 - top
    n = max(len(points) for _name, points in series)
    ticks = [0, 20, 40, 60, 80, 100]
    _y_axis(d, x0=x0, y0=y0, w=w, h=h, lo=0, hi=100, ticks=ticks, fmt=lambda v: f"{v:.0f}%")
    d.add(Line(x0, y0, x0 + w, y0, strokeColor=AXIS, strokeWidth=0.6))
    xs = [x0 + (w * i / max(n - 1, 1)) for i in range(n)]
    every = _every([str(n)], w / max(n, 1), 6.5)
    for i in range(n):
        if i % every == 0 or i == n - 1:
            d.add(_string(xs[i], y0 - 9, str(i + 1), size=6.5, anchor="middle"))
    if x_label:
        d.add(_string(x0 + w, y0 - 19, x_label, size=6.5, anchor="end", color=AXIS))
    if goal is not None:
        y = y0 + goal * h / 100
        d.add(Line(x0, y, x0 + w, y, strokeColor=TARGET, strokeWidth=0.8, strokeDashArray=[3, 2]))
    legend_x = x0
    for k, (name, points) in enumerate(series):
        color = palette[k % len(palette)]
        line = [c for i, p in enumerate(points) if p is not None for c in (xs[i], y0 + p * h / 100)]
        if len(line) >= 4:
            d.add(PolyLine(line, strokeColor=color, strokeWidth=1.2))
        elif line:
            d.add(Rect(line[0] - 1.5, line[1] - 1.5, 3, 3, fillColor=color, strokeColor=None))
        d.add(Rect(legend_x, height - 9, 8, 4, fillColor=color, strokeColor=None))
        text = fit_text(name, 110, 7)
        d.add(_string(legend_x + 11, height - 10, text))
        legend_x += 11 + stringWidth(text, pdf_fonts().regular, 7) + 12
    return d


def sparkline(values: Sequence[float | None], *, width: float = 60, height: float = 14, color=SERIES) -> Drawing:
    """A small line of the values (gaps where missing) and a dot on the last one."""
    d = Drawing(width, height)
    known = [v for v in values if v is not None]
    if not known:
        return d
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    n = len(values)
    xs = [2 + (width - 4) * i / max(n - 1, 1) for i in range(n)]

    def y_of(v):
        return 2 + (v - lo) / span * (height - 4) if hi != lo else height / 2

    run: list[float] = []
    for i, v in enumerate([*values, None]):
        if v is None:
            if len(run) >= 4:
                d.add(PolyLine(run, strokeColor=color, strokeWidth=0.8))
            run = []
            continue
        run += [xs[i], y_of(v)]
    last = next(((xs[i], y_of(v)) for i, v in reversed(list(enumerate(values))) if v is not None), None)
    if last:
        d.add(Rect(last[0] - 1.2, last[1] - 1.2, 2.4, 2.4, fillColor=color, strokeColor=None))
    return d


def heat_table(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    cells: Sequence[Sequence[float | None]],
    *,
    width: float,
    first_cols: Sequence[Sequence[str]] = (),
    first_headers: Sequence[str] = (),
    first_width: float = 90,
    font_size: float = 6.5,
) -> Table:
    """A table whose cells are shaded by value (white to red, relative to the largest);
    None is an empty, grey cell (not observable yet). `first_cols` are extra text
    columns after the row label (e.g. units)."""
    font = pdf_fonts().regular
    peak = max((v for row in cells for v in row if v), default=0) or 1
    header = ["", *first_headers, *col_labels]
    body = []
    for label, extra, row in zip(row_labels, list(first_cols) or [[]] * len(row_labels), cells, strict=True):
        body.append([label, *extra, *("" if v is None else (f"{v:,.0f}" if v else "·") for v in row)])
    n_first = 1 + len(first_headers)
    label_w = first_width
    extra_w = 34
    rest = width - label_w - extra_w * (n_first - 1)
    col_w = rest / max(len(col_labels), 1)
    table = Table(
        [header, *body], colWidths=[label_w, *([extra_w] * (n_first - 1)), *([col_w] * len(col_labels))], repeatRows=1
    )
    style = [
        ("FONT", (0, 0), (-1, -1), font, font_size),
        ("ALIGN", (1, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, AXIS),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.HexColor("#555555")),
    ]
    for r, row in enumerate(cells, start=1):
        for c, v in enumerate(row, start=n_first):
            if v is None:
                style.append(("BACKGROUND", (c, r), (c, r), colors.HexColor("#dee2e6")))
            elif v:
                share = min(v / peak, 1.0)
                shade = colors.Color(1.0, 1.0 - 0.75 * share, 1.0 - 0.8 * share)
                style.append(("BACKGROUND", (c, r), (c, r), shade))
                if share > 0.6:
                    style.append(("TEXTCOLOR", (c, r), (c, r), colors.white))
    table.setStyle(TableStyle(style))
    return table
