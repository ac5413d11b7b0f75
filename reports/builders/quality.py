"""The management quality report: a cover, the executive summary (the dashboard's KPI
cards by category), charts (trends with targets, the failure-mode Pareto, batches, the
Nevada table, recall completion), the sections (alerts, improvements, recalls) and the
KPI definitions. Figures come from reports.quality_data; this module only lays them
out, formatting numbers as the dashboard does (static/js/dashboard.js DECIMALS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, PageBreak, Paragraph, Spacer, Table, TableStyle

from catalog.pdf import pdf_build, pdf_content_width, pdf_fonts, pdf_paragraph, pdf_styles, pdf_text
from reports.quality_data import quality_report_data, quality_scope_is_empty

from .charts import (
    STATUS_COLORS,
    curves_chart,
    hbar_chart,
    heat_table,
    line_chart,
    pareto_chart,
    sparkline,
)

# Display precision per unit, as the dashboard shows values (the API never rounds).
DECIMALS = {
    "%": 1,
    "points": 1,
    "per_10k_customers": 2,
    "per_1000_units": 2,
    "h": 1,
    "min": 1,
    "days": 1,
    "currency": 2,
    "tickets": 0,
    "reviews": 2,
    "count": 0,
}
GRID = colors.HexColor("#dee2e6")
HEAD = colors.HexColor("#f1f3f5")
MUTED = colors.HexColor("#6c757d")


def format_kpi_value(value, unit: str, *, signed: bool = False) -> str:
    """A KPI number as the dashboard shows it: fixed decimals per unit, thousands
    separators, a sign on changes; "–" for no value."""
    if value is None:
        return "–"
    digits = DECIMALS.get(unit, 2)
    # Intl.NumberFormat rounds the exact value half away from zero; format() would
    # round half to even (2.25 -> "2.2" where the dashboard shows "2.3").
    exact = Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:{'+' if signed else ''},.{digits}f}"
    if not exact:
        text = text.lstrip("+-")  # no "-0.0"
    return text


def with_unit(value, unit: str, unit_name: str, *, signed: bool = False) -> str:
    if value is None:
        return "–"
    shown = format_kpi_value(value, unit, signed=signed)
    return shown + ("%" if unit == "%" else f" {unit_name}")


def status_label(status: str | None) -> str:
    return {
        "met": pgettext("target", "Met"),
        "near": pgettext("target", "Near"),
        "missed": pgettext("target", "Missed"),
    }.get(status or "", "–")


def period_label(day: str | dt.date, grain: str) -> str:
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    if grain == "year":
        return f"{day.year}"
    if grain == "quarter":
        return _("%(year)s Q%(quarter)s") % {"year": day.year, "quarter": (day.month - 1) // 3 + 1}
    if grain == "month":
        return f"{day:%Y-%m}"
    return day.isoformat()


def _short_month(day: str) -> str:
    return day[2:7]  # "2026-03-01" -> "26-03": twelve of them fit under a half-width chart


def _table(rows, widths, *, header_rows: int = 1, extra=(), font_size: float = 8) -> Table:
    font = pdf_fonts().regular
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    style = [
        ("FONT", (0, 0), (-1, -1), font, font_size),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD),
        ("LINEBELOW", (0, 0), (-1, header_rows - 1), 0.6, colors.HexColor("#adb5bd")),
        ("LINEBELOW", (0, header_rows), (-1, -1), 0.25, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        *extra,
    ]
    table.setStyle(TableStyle(style))
    return table


class _Builder:
    def __init__(self, data: dict, *, user, progress: Callable[[int, str], None] | None):
        self.data = data
        self.user = user
        self.progress = progress or (lambda percent, stage: None)
        self.styles = pdf_styles()
        self.width = pdf_content_width()
        self.story: list = []
        self.cards = {card["code"]: card for category in data["summary"]["categories"] for card in category["kpis"]}

    # Helpers

    def p(self, text, style: str = "body") -> Paragraph:
        return pdf_paragraph(text, self.styles[style])

    def heading(self, text: str) -> None:
        self.story.append(CondPageBreak(60 * mm))
        self.story.append(self.p(text, "heading"))

    def note(self, text: str) -> None:
        self.story.append(self.p(text, "small"))

    def cell(self, text, style: str = "cell") -> Paragraph:
        return pdf_paragraph(text, self.styles[style])

    @property
    def period_text(self) -> str:
        start, end = self.data["start"], self.data["end"]
        last = end - dt.timedelta(days=1)
        return f"{start.isoformat()} – {last.isoformat()}"

    @property
    def summary_period(self) -> str:
        grain = self.data["grain"]
        last = dt.date.fromisoformat(self.data["summary"]["end"]) - dt.timedelta(days=1)
        from quality.kpi.periods import grain_floor

        return period_label(grain_floor(last, grain), grain)

    # Sections

    def cover(self) -> None:
        data = self.data
        s = self.styles
        self.story.append(Spacer(1, 30 * mm))
        self.story.append(Paragraph(pdf_text(_("Management quality report")), s["title"]))
        self.story.append(Spacer(1, 4 * mm))
        scope = (
            "; ".join(f"{data['dimension_names'][d]}: {m}" for d, m in data["filters"].items())
            if data["filters"]
            else _("All regions, products, channels and teams")
        )
        by = (self.user.get_full_name() or self.user.get_username()) if self.user is not None else _("system")
        now = timezone.localtime(data["generated_at"])
        rows = [
            [self.cell(_("Period"), "label"), self.cell(self.period_text)],
            [self.cell(_("Scope"), "label"), self.cell(scope)],
            [self.cell(_("Summary period"), "label"), self.cell(self.summary_note())],
            [self.cell(_("Generated at"), "label"), self.cell(f"{now:%Y-%m-%d %H:%M} ({now.tzname()})")],
            [self.cell(_("Generated by"), "label"), self.cell(by)],
        ]
        self.story.append(
            Table(
                rows,
                colWidths=[40 * mm, self.width - 40 * mm],
                style=TableStyle(
                    [
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("LINEBELOW", (0, 0), (-1, -1), 0.25, GRID),
                        ("TOPPADDING", (0, 0), (-1, -1), 4),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                    ]
                ),
            )
        )
        self.story.append(Spacer(1, 8 * mm))
        contents = [
            _("Executive summary"),
            _("KPI trends"),
            _("Failure modes (Pareto)"),
            _("Batch failure comparison"),
            _("Nevada chart"),
            _("Recall status"),
            _("Top alerts"),
            _("Improvement status"),
            _("Appendix: KPI definitions"),
        ]
        self.story.append(self.p(_("Contents"), "heading"))
        for i, title in enumerate(contents, start=1):
            self.story.append(self.p(f"{i}. {title}"))
        self.story.append(PageBreak())

    def summary_note(self) -> str:
        grain_names = {
            "day": _("day"),
            "week": _("week"),
            "month": _("month"),
            "quarter": _("quarter"),
            "year": _("year"),
        }
        if self.data["single"]:
            return _("%(period)s (the whole period), compared with the %(grain)s before") % {
                "period": self.summary_period,
                "grain": grain_names[self.data["grain"]],
            }
        return _(
            "%(period)s (the last %(grain)s of the period, as the dashboard shows it), compared with the one before"
        ) % {
            "period": self.summary_period,
            "grain": grain_names[self.data["grain"]],
        }

    def summary(self) -> None:
        self.story.append(self.p(_("Executive summary"), "heading"))
        self.note(
            _("Summary period: %(note)s. The trend column shows the last %(n)s periods.")
            % {"note": self.summary_note(), "n": len(self._first_sparkline())}
        )
        w = self.width
        widths = [w * 0.3, w * 0.17, w * 0.17, w * 0.09, w * 0.12, w * 0.15]
        for category in self.data["summary"]["categories"]:
            rows = [
                [
                    self.cell(category["name"]),
                    *(self.cell(t, "label") for t in (_("Value"), _("Target"), _("Status"))),
                    self.cell(_("vs previous period"), "label"),
                    self.cell(_("Trend"), "label"),
                ]
            ]
            extra = []
            for i, card in enumerate(category["kpis"], start=1):
                if not card["applicable"]:
                    rows.append(
                        [
                            self.cell(card["name"]),
                            self.cell(_("Not available for these filters"), "small"),
                            "",
                            "",
                            "",
                            "",
                        ]
                    )
                    extra.append(("SPAN", (1, i), (5, i)))
                    continue
                value = with_unit(card["value"], card["unit"], card["unit_name"])
                value_cell = self.cell(value if card["value"] is not None else _("No value"))
                target = (
                    with_unit(card["target"], card["unit"], card["unit_name"]) if card["target"] is not None else "–"
                )
                change = (
                    format_kpi_value(card["change"], card["unit"], signed=True) if card["change"] is not None else "–"
                )
                color = colors.HexColor("#333333")
                if card["change"] is not None and not change.strip("+-0.,"):
                    change = _("No change")  # as the dashboard: a change that rounds to zero
                elif card["change"]:
                    good = (card["change"] > 0) == (card["direction"] == "up")
                    color = STATUS_COLORS["met"] if good else STATUS_COLORS["missed"]
                    extra.append(("TEXTCOLOR", (4, i), (4, i), color))
                spark = sparkline([p["value"] for p in card["sparkline"]], width=widths[5] - 8, height=13)
                rows.append(
                    [
                        self.cell(card["name"]),
                        value_cell,
                        self.cell(target),
                        status_label(card["status"]),
                        change,
                        spark,
                    ]
                )
                if card["status"]:
                    extra += [
                        ("BACKGROUND", (3, i), (3, i), STATUS_COLORS[card["status"]]),
                        ("TEXTCOLOR", (3, i), (3, i), colors.white),
                    ]
            extra.append(("ALIGN", (3, 0), (4, -1), "CENTER"))
            self.story.append(_table(rows, widths, extra=extra))
            self.story.append(Spacer(1, 3 * mm))

    def _first_sparkline(self) -> list:
        for category in self.data["summary"]["categories"]:
            for card in category["kpis"]:
                if card["sparkline"]:
                    return card["sparkline"]
        return []

    def trends(self) -> None:
        # A conditional break: a summary that fills its page exactly leaves no blank one.
        self.story.append(CondPageBreak(150 * mm))
        self.story.append(self.p(_("KPI trends"), "heading"))
        self.note(_("By month, with the target as a dashed line."))
        half = (self.width - 6) / 2
        charts = []
        for entry in self.data["trends"]:
            title = f"{entry['name']} ({'%' if entry['unit'] == '%' else entry['unit_name']})"
            if not entry["applicable"]:
                charts.append(
                    line_chart([], [], width=half, height=150, title=title, empty=_("Not available for these filters"))
                )
                continue
            labels = [_short_month(r["period_start"]) for r in entry["rows"]]
            values = [r["value"] for r in entry["rows"]]
            targets = [r["target"] for r in entry["rows"] if r["target"] is not None]
            target = targets[-1] if targets else None
            unit = entry["unit"]
            charts.append(
                line_chart(
                    labels,
                    values,
                    width=half,
                    height=150,
                    target=target,
                    fmt=lambda v, unit=unit: f"{v:,.{min(DECIMALS.get(unit, 2), 1)}f}" if abs(v) < 100 else f"{v:,.0f}",
                    title=title,
                    target_label=_("Target %(value)s") % {"value": format_kpi_value(target, unit)}
                    if target is not None
                    else "",
                    empty=_("No data for these filters."),
                )
            )
        grid = [charts[i : i + 2] + [""] * (2 - len(charts[i : i + 2])) for i in range(0, len(charts), 2)]
        self.story.append(
            Table(
                grid,
                colWidths=[half + 3, half + 3],
                style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 8)]),
            )
        )
        # The trend values as a table: the exact figures behind the lines.
        rows_by = {e["code"]: {r["period_start"]: r["value"] for r in e["rows"]} for e in self.data["trends"]}
        months = sorted({p for e in rows_by.values() for p in e})[-12:]
        if months:
            header = [_("KPI"), *[_short_month(m) for m in months]]
            rows = [header]
            for entry in self.data["trends"]:
                rows.append(
                    [self.cell(entry["name"])]
                    + [format_kpi_value(rows_by[entry["code"]].get(m), entry["unit"]) for m in months]
                )
            first = self.width * 0.2
            rest = (self.width - first) / len(months)
            self.story.append(
                _table(
                    rows, [first, *([rest] * len(months))], font_size=6.5, extra=[("ALIGN", (1, 0), (-1, -1), "RIGHT")]
                )
            )

    def pareto(self) -> None:
        pareto = self.data["pareto"]
        self.heading(_("Failure modes (Pareto)"))
        if not pareto["applicable"]:
            self.note(_("Not available for these filters"))
            return
        self.note(
            _("Failures that occurred in the period, by failure mode: %(total)s in all.")
            % {"total": f"{pareto['total']:,}"}
        )
        zh = translation.get_language().lower().startswith("zh")
        names = [r["name_zh"] if zh else r["name_en"] for r in pareto["rows"]]
        self.story.append(
            pareto_chart(
                names,
                [r["failures"] for r in pareto["rows"]],
                [r["cumulative_share"] for r in pareto["rows"]],
                width=self.width,
                height=190,
                empty=_("No failures in the period."),
            )
        )
        if pareto["rows"]:
            rows = [[_("Failure mode"), _("Code"), _("Failures"), _("Share"), _("Cumulative %")]]
            for name, r in zip(names, pareto["rows"], strict=True):
                rows.append(
                    [
                        self.cell(name),
                        r["code"],
                        f"{r['failures']:,}",
                        f"{r['share']:.1f}%",
                        f"{r['cumulative_share']:.1f}%",
                    ]
                )
            if pareto["other"]:
                rows.append([self.cell(_("Other failure modes")), "", f"{pareto['other']:,}", "", ""])
            w = self.width
            self.story.append(Spacer(1, 2 * mm))
            self.story.append(
                _table(
                    rows,
                    [w * 0.4, w * 0.18, w * 0.14, w * 0.12, w * 0.16],
                    extra=[("ALIGN", (2, 0), (-1, -1), "RIGHT")],
                )
            )

    def batches(self) -> None:
        batches = self.data["batches"]
        self.heading(_("Batch failure comparison"))
        if not batches["applicable"]:
            self.note(_("Not available for these filters"))
            return
        self.note(
            _(
                "Failures per 1000 units in service in %(period)s, the %(n)s batches with the most failures; "
                "the dashed line is the target."
            )
            % {"period": self.summary_period, "n": len(batches["rows"])}
        )
        rows = batches["rows"]
        target = batches["target"]
        fill = [
            STATUS_COLORS["missed"]
            if target is not None and r["value"] is not None and r["value"] > target
            else STATUS_COLORS[None]
            for r in rows
        ]
        chart = hbar_chart(
            [f"{r['batch']} ({r['numerator']:,})" for r in rows],
            [r["value"] for r in rows],
            width=self.width,
            target=target,
            fmt=lambda v: f"{v:,.2f}" if v < 100 else f"{v:,.0f}",
            colors_of=fill,
            target_label=_("Target %(value)s") % {"value": format_kpi_value(target, "per_1000_units")}
            if target is not None
            else "",
            empty=_("No failures in the period."),
        )
        self.story.append(chart)
        if rows:
            self.note(_("In brackets: the failures of each batch. Red: above the target."))

    def nevada(self) -> None:
        nevada = self.data["nevada"]
        self.heading(_("Nevada chart"))
        if nevada is None:
            self.note(_("Not available for your role."))
            return
        self.note(
            _(
                "Failures by sale month (rows) and months in service (columns), as of %(day)s: %(units)s units "
                "sold, %(failures)s failures. Grey: not in service that long yet."
            )
            % {"day": nevada["as_of"], "units": f"{nevada['units']:,}", "failures": f"{nevada['failures']:,}"}
        )
        if nevada["cut_rows"] or nevada["cut_cols"]:
            self.note(
                _("Shown: the latest %(rows)s sale months and the first %(cols)s months in service.")
                % {"rows": len(nevada["rows"]), "cols": nevada["cols"]}
            )
        if not nevada["rows"]:
            self.note(_("No units sold in scope."))
            return
        cols = nevada["cols"]
        cells = [
            [(r["cells"].get(str(m), 0) if m <= r["max_mis"] else None) for m in range(cols)] for r in nevada["rows"]
        ]
        table = heat_table(
            [r["month"] for r in nevada["rows"]],
            [str(m) for m in range(cols)],
            cells,
            width=self.width,
            first_cols=[[f"{r['units']:,}"] for r in nevada["rows"]],
            first_headers=[_("Units")],
            first_width=40,
        )
        self.story.append(table)

    def recalls(self) -> None:
        recalls = self.data["recalls"]
        self.heading(_("Recall status"))
        if recalls is None:
            self.note(_("Not available for your role."))
            return
        if not recalls:
            self.note(_("No recalls in scope."))
            return
        rows = [[_("Recall"), _("State"), _("Affected"), _("Notified"), _("Remedied"), _("Weeks to 80%")]]
        for r in recalls:
            rows.append(
                [
                    self.cell(f"{r['code']} {r['title']}"),
                    r["state_label"],
                    f"{r['affected']:,}",
                    "–" if r["notification_rate"] is None else f"{100 * r['notification_rate']:.1f}%",
                    "–" if r["remedied_share"] is None else f"{100 * r['remedied_share']:.1f}%",
                    "–" if r["weeks_to_80"] is None else str(r["weeks_to_80"]),
                ]
            )
        w = self.width
        self.story.append(
            _table(
                rows,
                [w * 0.4, w * 0.14, w * 0.11, w * 0.11, w * 0.11, w * 0.13],
                extra=[("ALIGN", (2, 0), (-1, -1), "RIGHT")],
            )
        )
        running = [r for r in recalls if r["curve"]][:5]
        if running:
            self.story.append(Spacer(1, 3 * mm))
            self.story.append(self.p(_("Recall completion curve"), "body"))
            self.note(_("Share of the affected units remedied, by week since launch; the dashed line is 80%."))
            self.story.append(
                curves_chart(
                    [
                        (r["code"], [None if p["share"] is None else 100 * p["share"] for p in r["curve"]])
                        for r in running
                    ],
                    width=self.width,
                    height=170,
                    x_label=_("weeks since launch"),
                    goal=80,
                    empty=_("No remedies yet."),
                )
            )

    def alerts(self) -> None:
        alerts = self.data["alerts"]
        self.heading(_("Top alerts"))
        counts = alerts["by_severity"]
        self.note(
            _(
                "%(total)s alerts open at the time of generation, in scope (critical %(critical)s, "
                "warning %(warning)s, info %(info)s); "
                "the most severe and most recent:"
            )
            % {
                "total": alerts["total"],
                "critical": counts.get("critical", 0),
                "warning": counts.get("warning", 0),
                "info": counts.get("info", 0),
            }
        )
        if not alerts["rows"]:
            return
        from quality.kpi.registry import kpi_lookup
        from quality.models import AlertSeverity, AlertStatus

        severity = dict(AlertSeverity.choices)
        status = dict(AlertStatus.choices)
        rows = [[_("Severity"), _("KPI"), _("Member"), _("Period"), _("Value"), _("Status"), _("First fired")]]
        extra = []
        for i, a in enumerate(alerts["rows"], start=1):
            kpi = kpi_lookup(a.rule.kpi) if a.rule.kpi else None
            member = ", ".join(f"{v}" for v in (a.member or {}).values()) or _("total")
            value = format_kpi_value(a.value, kpi.unit) if kpi else ("–" if a.value is None else f"{a.value:,.2f}")
            rows.append(
                [
                    str(severity.get(a.severity, a.severity)),
                    self.cell(kpi.name if kpi else a.rule.code),
                    self.cell(member),
                    a.period_start.isoformat() if a.period_start else "–",
                    value,
                    str(status.get(a.status, a.status)),
                    f"{timezone.localtime(a.first_fired_at):%Y-%m-%d}",
                ]
            )
            color = {"critical": STATUS_COLORS["missed"], "warning": STATUS_COLORS["near"]}.get(a.severity)
            if color:
                extra.append(("TEXTCOLOR", (0, i), (0, i), color))
        w = self.width
        self.story.append(
            _table(
                rows,
                [w * 0.1, w * 0.25, w * 0.2, w * 0.12, w * 0.1, w * 0.1, w * 0.13],
                extra=[("ALIGN", (4, 0), (4, -1), "RIGHT")],
            )
        )

    def improvements(self) -> None:
        imp = self.data["improvements"]
        self.heading(_("Improvement status"))
        self.note(
            _("%(open)s open improvement issues; %(overdue)s overdue actions as of %(day)s.")
            % {"open": imp["open"], "overdue": imp["overdue_actions"], "day": imp["as_of"].isoformat()}
        )
        states = imp["states"]
        chart = hbar_chart(
            [s["label"] for s in states],
            [s["count"] for s in states],
            width=self.width * 0.55,
            fmt=lambda v: f"{v:,.0f}",
            integer=True,
            empty=_("No open improvement issues."),
        )
        figures = [[_("Figure"), self.summary_period]]
        for code in ("improvement_closure_days", "improvement_review_cycles", "action_on_time_rate"):
            card = self.cards.get(code)
            if card is None:
                continue
            shown = (
                with_unit(card["value"], card["unit"], card["unit_name"])
                if card["applicable"]
                else _("Not available for these filters")
            )
            figures.append([self.cell(card["name"]), self.cell(shown)])
        figures.append([self.cell(_("Overdue actions")), str(imp["overdue_actions"])])
        side = _table(figures, [self.width * 0.25, self.width * 0.17])
        self.story.append(
            Table(
                [[chart, side]],
                colWidths=[self.width * 0.56, self.width * 0.44],
                style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]),
            )
        )

    def appendix(self) -> None:
        self.story.append(CondPageBreak(120 * mm))
        self.story.append(self.p(_("Appendix: KPI definitions"), "heading"))
        directions = {"up": _("higher is better"), "down": _("lower is better")}
        w = self.width
        rows = [[_("KPI"), pgettext("unit of measure", "Unit"), _("Direction"), _("Definition")]]
        for d in self.data["definitions"]:
            rows.append(
                [
                    self.cell(f"{d['name']}\n{d['code']}"),
                    self.cell(d["unit_name"]),
                    self.cell(directions.get(d["direction"], d["direction"])),
                    self.cell(d["definition"] or "–"),
                ]
            )
        self.story.append(
            _table(rows, [w * 0.31, w * 0.11, w * 0.11, w * 0.47], extra=[("VALIGN", (0, 0), (-1, -1), "TOP")])
        )


STAGES = (
    # (percent when it starts, data stage)
    (5, "summary"),
    (25, "trends"),
    (35, "pareto"),
    (45, "batches"),
    (55, "nevada"),
    (65, "recalls"),
    (72, "alerts"),
    (78, "improvements"),
)


def quality_report_pdf(
    *,
    start: dt.date,
    end: dt.date,
    filters: dict | None = None,
    language: str = "en",
    user=None,
    progress: Callable[[int, str], None] | None = None,
) -> tuple[bytes, int]:
    """The PDF of the management quality report for [start, end) and the dashboard's
    filters, in `language`; returns (pdf bytes, page count). `progress(percent, stage)`
    is called as sections are done (the Celery task stores it for the page)."""
    report = progress or (lambda percent, stage: None)
    percents = dict((stage, percent) for percent, stage in STAGES)
    with translation.override(language):
        data = quality_report_data(
            start=start, end=end, filters=filters, user=user, progress=lambda stage: report(percents[stage], stage)
        )
        data["generated_at"] = timezone.now()
        report(85, "layout")
        builder = _Builder(data, user=user, progress=report)
        builder.cover()
        builder.summary()
        builder.trends()
        builder.pareto()
        builder.batches()
        builder.nevada()
        builder.recalls()
        builder.alerts()
        builder.improvements()
        builder.appendix()
        title = _("Management quality report") + f" · {builder.period_text}"
        info: dict = {}
        pdf = pdf_build(
            builder.story, title=title, author=_("After-sales quality platform"), now=data["generated_at"], info=info
        )
    report(100, "done")
    return pdf, info["pages"]


def quality_report_is_empty(*, start: dt.date, end: dt.date, filters: dict | None = None) -> bool:
    """True when the period and scope hold no records at all (subscriptions' skip-if-empty)."""
    return quality_scope_is_empty(start=start, end=end, filters=filters)
