"""The 8D / CAPA report of one improvement issue: D1 team, D2 problem, D3 containment,
D4 root causes (fishbone, verified causes with evidence and 5-why chains), D5 chosen
corrective actions, D6 implementation (on time against the original due date), D7
prevention, D8 closure (verification, committee decisions, phase durations).
Figures come from reports.capa_data; this module lays them out."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, KeepTogether, Paragraph, Spacer, Table, TableStyle

from catalog.pdf import pdf_build, pdf_content_width, pdf_fonts, pdf_glyphs, pdf_paragraph, pdf_styles
from reports.capa_data import capa_report_data

from .quality import format_kpi_value

HEAD = colors.HexColor("#f1f3f5")
GRID = colors.HexColor("#dee2e6")
MUTED = colors.HexColor("#6c757d")
TIMING_COLORS = {
    "on_time": colors.HexColor("#198754"),
    "late": colors.HexColor("#dc3545"),
    "overdue": colors.HexColor("#dc3545"),
    "open": colors.HexColor("#6c757d"),
    "cancelled": colors.HexColor("#adb5bd"),
}
VERDICT_COLORS = {
    "effective": colors.HexColor("#198754"),
    "partial": colors.HexColor("#e0a800"),
    "not_effective": colors.HexColor("#dc3545"),
}


def timing_label(timing: str) -> str:
    return {
        "on_time": _("On time"),
        "late": _("Late"),
        "overdue": _("Overdue"),
        "open": _("Open"),
        "cancelled": _("Cancelled"),
    }.get(timing, timing)


def day(value) -> str:
    """A date (or a time, in the local zone) as YYYY-MM-DD; "–" for none."""
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value)
    return f"{value:%Y-%m-%d}"


def days_text(value: float | None) -> str:
    if value is None:
        return "–"
    return _("%(days)s days") % {"days": f"{value:,.1f}"}


def p_value_text(p: float | None) -> str:
    """As the knowledge base shows it: below 1e-4 as such."""
    if p is None:
        return "–"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def kpi_text(value, unit: str) -> str:
    if value is None:
        return "–"
    return format_kpi_value(value, unit) + ("%" if unit == "%" else "")


def value_with_counts(value, unit: str, numerator: float, denominator: float) -> str:
    """The verification's window value with the counts it was computed from."""
    return f"{kpi_text(value, unit)} ({numerator:,.0f} / {denominator:,.0f})"


def filters_text(filters: dict | None) -> str:
    return ", ".join(f"{dim}={member}" for dim, member in (filters or {}).items()) or _("all")


def waterfall_chart(phases: list[dict], *, width: float) -> Drawing:
    """The closure waterfall: one row per phase, the bar starting where the previous
    phase ended (days since detection), the days written after the bar."""
    font = pdf_fonts().regular
    rows = [(row["label"], row["days"] + row["running"], row["running"] > 0) for row in phases]
    row_h, top, bottom = 13, 6, 16
    height = len(rows) * row_h + top + bottom
    d = Drawing(width, height)
    label_w = 110
    x0, w = label_w, width - label_w - 60
    total = sum(days for _label, days, _running in rows) or 1.0
    d.add(Line(x0, bottom, x0, height - top, strokeColor=MUTED, strokeWidth=0.6))
    d.add(Line(x0, bottom, x0 + w, bottom, strokeColor=MUTED, strokeWidth=0.6))
    d.add(String(x0, bottom - 10, "0", fontName=font, fontSize=6.5, textAnchor="middle"))
    d.add(String(x0 + w, bottom - 10, f"{total:,.1f}", fontName=font, fontSize=6.5, textAnchor="middle"))
    start = 0.0
    for i, (label, days, running) in enumerate(rows):
        y = height - top - (i + 1) * row_h
        d.add(String(x0 - 4, y + 3.5, pdf_glyphs(label), fontName=font, fontSize=7, textAnchor="end"))
        bar_x = x0 + start / total * w
        bar_w = max(days / total * w, 0.8)  # a hairline for phases of minutes
        fill = colors.HexColor("#fd7e14") if running else colors.HexColor("#0d6efd")
        d.add(Rect(bar_x, y + 2, bar_w, row_h - 4, fillColor=fill, strokeColor=None))
        d.add(String(bar_x + bar_w + 3, y + 3.5, f"{days:,.1f}", fontName=font, fontSize=6.5))
        start += days
    return d


class _Builder:
    def __init__(self, data: dict):
        self.data = data
        self.styles = pdf_styles()
        self.width = pdf_content_width()
        self.story: list = []

    def p(self, text, style: str = "body") -> Paragraph:
        return pdf_paragraph(text, self.styles[style])

    def cell(self, text) -> Paragraph:
        return pdf_paragraph(text if text not in (None, "") else "–", self.styles["cell"])

    def heading(self, number: int, text: str, *, room: float = 40 * mm) -> None:
        self.story.append(CondPageBreak(room))  # a heading never ends a page alone
        self.story.append(self.p(f"D{number} · {text}", "heading"))

    def note(self, text: str) -> None:
        self.story.append(self.p(text, "small"))

    def table(self, rows, fractions, *, header=True, extra=()) -> Table:
        font = pdf_fonts().regular
        rows = [[self.cell(c) if isinstance(c, str) or c is None else c for c in row] for row in rows]
        table = Table(rows, colWidths=[self.width * f for f in fractions], repeatRows=1 if header else 0)
        style = [
            ("FONT", (0, 0), (-1, -1), font, 8),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, GRID),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            *extra,
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), HEAD))
        table.setStyle(TableStyle(style))
        return table

    def facts(self, pairs) -> Table:
        """Label / value pairs, two per row."""
        rows, row = [], []
        for label, value in pairs:
            row += [pdf_paragraph(label, self.styles["label"]), self.cell(value)]
            if len(row) == 4:
                rows.append(row)
                row = []
        if row:
            rows.append(row + ["", ""])
        return self.table(rows, [0.17, 0.33, 0.17, 0.33], header=False)

    def action_table(self, actions, *, empty: str, full: bool = False) -> None:
        if not actions:
            self.note(empty)
            return
        head = [_("Action"), _("Owner"), _("Original due"), _("Due"), _("Status"), _("Completed")]
        if full:
            head.append(_("On time?"))
        rows, extra = [head], []
        for i, a in enumerate(actions, start=1):
            title = a["title"] + (f"\n{a['description']}" if a["description"] and full else "")
            if a["cause"]:
                title += "\n" + _("Cause: %(cause)s") % {"cause": a["cause"]}
            row = [
                title,
                a["owner"],
                day(a["due_on"]),
                day(a["current_due_on"]) + (" *" if a["moved"] else ""),
                a["status_label"],
                day(a["completed_on"]),
            ]
            if full:
                row.append(timing_label(a["timing"]))
                extra.append(("TEXTCOLOR", (6, i), (6, i), TIMING_COLORS.get(a["timing"], MUTED)))
            rows.append(row)
        fractions = [0.34, 0.14, 0.11, 0.11, 0.1, 0.11, 0.09] if full else [0.39, 0.16, 0.12, 0.12, 0.1, 0.11]
        self.story.append(self.table(rows, fractions, extra=extra))
        if any(a["moved"] for a in actions):
            self.note(_("* The due date was moved; on-time counts against the original due date."))

    # The sections

    def cover(self) -> None:
        d = self.data
        issue = d["issue"]
        self.story.append(self.p(_("8D / CAPA report"), "small"))
        self.story.append(self.p(f"{issue.code} {issue.title}", "title"))
        self.story.append(
            self.facts(
                [
                    (_("State"), d["state_label"]),
                    (_("Severity"), d["severity_label"]),
                    (_("Source"), d["source_label"]),
                    (_("Owner"), d["team"]["owner"]),
                    (_("Detected"), day(issue.detected_at)),
                    (_("Opened"), day(issue.created_at)),
                    (_("Plan approved"), day(d["plan_approved_at"])),
                    (_("Closed"), day(d["closed_at"])),
                ]
            )
        )

    def d1(self) -> None:
        team = self.data["team"]
        self.heading(1, _("Team"))
        rows = [
            (_("Owner"), team["owner"]),
            (_("Opened by"), team["created_by"]),
            (_("Team"), team["team"] + (f" ({', '.join(team['team_members'])})" if team["team_members"] else "")),
            (_("Action owners"), ", ".join(team["action_owners"])),
            (_("Committee reviewers"), ", ".join(team["reviewers"])),
        ]
        self.story.append(
            self.table([[pdf_paragraph(k, self.styles["label"]), v] for k, v in rows], [0.22, 0.78], header=False)
        )

    def d2(self) -> None:
        d = self.data
        issue = d["issue"]
        self.heading(2, _("Problem description"))
        self.story.append(self.p(issue.title))
        if issue.description:
            self.story.append(self.p(issue.description, "small"))
        self.story.append(Spacer(1, 2 * mm))
        pairs = [(label, value) for label, value in d["scope"]]
        ev = d["evidence"]
        pairs += [
            (_("Detected"), day(issue.detected_at)),
            (
                _("Evidence"),
                _(
                    "%(tickets)s tickets, %(failures)s failures, %(alerts)s alerts, %(surveys)s surveys, "
                    "%(recalls)s recalls"
                )
                % ev,
            ),
        ]
        self.story.append(
            self.table([[pdf_paragraph(k, self.styles["label"]), v] for k, v in pairs], [0.22, 0.78], header=False)
        )
        base = d["baseline"]
        if base:
            self.story.append(Spacer(1, 2 * mm))
            self.story.append(
                self.p(
                    _("Baseline: %(kpi)s = %(value)s (%(start)s – %(end)s, scope %(scope)s).")
                    % {
                        "kpi": base["name"],
                        "value": kpi_text(base["value"], base["unit"]),
                        "start": day(base["start"]),
                        "end": day(base["end"]),
                        "scope": filters_text(base["filters"]),
                    }
                )
            )

    def d3(self) -> None:
        self.heading(3, _("Containment actions"))
        self.action_table(self.data["containment"], empty=_("No containment action was recorded."))

    def d4(self) -> None:
        d = self.data
        self.heading(4, _("Root causes"))
        verified_word = _("verified")
        rows = [[_("Category"), _("Causes")]]
        for bone in d["bones"]:
            causes = "\n".join(
                "- " + c["description"] + (f" ({verified_word})" if c["verified"] else "") for c in bone["causes"]
            )
            rows.append([bone["name"], causes or "–"])
        self.story.append(self.table(rows, [0.22, 0.78]))
        verified = [(bone["name"], c) for bone in d["bones"] for c in bone["causes"] if c["verified"]]
        if not verified:
            self.note(_("No cause has been verified yet."))
        for category, c in verified:
            block = [
                Spacer(1, 2 * mm),
                self.p(
                    _("Verified root cause (%(category)s): %(cause)s")
                    % {"category": category, "cause": c["description"]}
                ),
                self.p(
                    _("Verified %(day)s by %(who)s; %(n)s failures as evidence.")
                    % {"day": day(c["verified_at"]), "who": c["verified_by"] or "–", "n": c["evidence_failures"]},
                    "small",
                ),
                self.p(_("Evidence: %(evidence)s") % {"evidence": c["evidence"]}, "small"),
            ]
            if c["whys"]:
                rows = [[_("Why?"), _("Answer")]] + [[f"{i}.", text] for i, text in enumerate(c["whys"], start=1)]
                block.append(self.table(rows, [0.08, 0.92]))
            self.story.append(KeepTogether(block))

    def d5(self) -> None:
        d = self.data
        self.heading(5, _("Chosen corrective actions"))
        if d["plan_approved_at"]:
            self.story.append(
                self.p(
                    _("The action plan was approved on %(day)s by %(who)s.")
                    % {"day": day(d["plan_approved_at"]), "who": d["plan_approved_by"] or "–"}
                )
            )
        else:
            self.story.append(self.p(_("The action plan has not been approved yet.")))
        self.action_table(d["corrective"], empty=_("No corrective action was recorded."))

    def d6(self) -> None:
        d = self.data
        self.heading(6, _("Implementation"))
        self.note(
            _("%(on_time)s of %(done)s completed actions on time (against the original due date).")
            % {"on_time": d["on_time"], "done": d["completed"]}
        )
        self.action_table(d["actions"], empty=_("No action was recorded."), full=True)
        evidence = [a for a in d["actions"] if a["evidence"]]
        if evidence:
            rows = [[_("Action"), _("Completion evidence")]] + [[a["title"], a["evidence"]] for a in evidence]
            self.story.append(Spacer(1, 2 * mm))
            self.story.append(self.table(rows, [0.35, 0.65]))

    def d7(self) -> None:
        d = self.data
        self.heading(7, _("Prevention"))
        self.action_table(d["prevention"], empty=_("No preventive or systemic action was recorded."))
        if d["in_knowledge_base"]:
            text = _(
                "The issue is closed: its verified root causes, actions and verified effect are in the knowledge "
                "base, suggested to new issues with the same failure mode."
            )
        else:
            text = _("The issue enters the knowledge base when it is closed.")
        self.story.append(Spacer(1, 2 * mm))
        self.story.append(self.p(text, "small"))
        if d["similar"]:
            self.note(
                _("Similar closed issues: %(list)s")
                % {"list": "; ".join(f"{s['code']} {s['title']}" for s in d["similar"])}
            )

    def verification(self, v: dict, *, heading: str) -> None:
        ratio = v["test"] == "poisson_rate_ratio"
        effect_name = _("Rate ratio (after / before)") if ratio else _("Difference (after − before)")
        level = f"{(1 - v['alpha']) * 100:g}"
        rows = [
            [_("KPI"), v["kpi_name"], _("Test"), v["test_label"]],
            [
                _("Scope"),
                filters_text(v["filters"]),
                _("Control group"),
                filters_text(v["control_filters"]) if v["control_filters"] else "–",
            ],
            [
                _("Before"),
                f"{day(v['before'][0])} – {day(v['before'][1])}",
                _("After"),
                f"{day(v['after'][0])} – {day(v['after'][1])}",
            ],
            [
                _("Before value"),
                value_with_counts(v["before_value"], v["unit"], v["before_numerator"], v["before_denominator"]),
                _("After value"),
                value_with_counts(v["after_value"], v["unit"], v["after_numerator"], v["after_denominator"]),
            ],
            [
                effect_name,
                "–" if v["effect"] is None else f"{v['effect']:.3f}",
                _("%(level)s %% confidence interval") % {"level": level},
                "–" if v["ci_low"] is None else f"{v['ci_low']:.3f} – {v['ci_high']:.3f}",
            ],
            [
                _("Relative change"),
                "–" if v["relative_change"] is None else f"{v['relative_change'] * 100:+.1f}%",
                _("p-value"),
                p_value_text(v["p_value"]),
            ],
            [_("Verdict"), v["verdict_label"], _("Checked"), f"{day(v['created_at'])} {v['created_by']}".strip()],
        ]
        table = self.table(
            [
                [pdf_paragraph(r[0], self.styles["label"]), r[1], pdf_paragraph(r[2], self.styles["label"]), r[3]]
                for r in rows
            ],
            [0.17, 0.33, 0.17, 0.33],
            header=False,
            extra=[("BACKGROUND", (1, 6), (1, 6), VERDICT_COLORS.get(v["verdict"], HEAD).clone(alpha=0.15))],
        )
        block = [self.p(heading, "body"), table]
        if v["comment"]:
            block.append(self.p(v["comment"], "small"))
        self.story.append(KeepTogether(block))
        self.story.append(Spacer(1, 2 * mm))

    def d8(self) -> None:
        d = self.data
        self.heading(8, _("Closure and recognition"), room=90 * mm)  # with the verification table
        if not d["verifications"]:
            self.story.append(self.p(_("Effectiveness verification"), "body"))
            self.note(_("No effectiveness verification was recorded."))
        for v in d["verifications"]:
            self.verification(v, heading=_("Effectiveness verification"))
        self.story.append(self.p(_("Committee decisions"), "body"))
        if d["reviews"]:
            rows = [[_("Meeting"), pgettext("review", "Decision"), _("Decided by"), pgettext("review", "Minutes")]]
            for r in d["reviews"]:
                rows.append(
                    [f"{day(r['held_on'])}\n{r['meeting']}", r["decision_label"], r["decided_by"], r["minutes"]]
                )
            self.story.append(self.table(rows, [0.22, 0.16, 0.14, 0.48]))
        else:
            self.note(_("The committee has not decided on this issue yet."))
        self.story.append(Spacer(1, 2 * mm))
        issue = d["issue"]
        closed = (
            _("Closed on %(day)s, %(days)s after detection; %(cycles)s committee review cycles.")
            % {"day": day(d["closed_at"]), "days": days_text(d["closure_days"]), "cycles": d["review_cycles"]}
            if d["closed_at"]
            else _("Not closed yet (%(state)s); %(cycles)s committee review cycles.")
            % {"state": d["state_label"], "cycles": d["review_cycles"]}
        )
        self.story.append(self.p(closed))
        if issue.override_reason:
            self.note(_("Closed by committee override: %(reason)s") % {"reason": issue.override_reason})
        self.story.append(
            KeepTogether(
                [
                    Spacer(1, 2 * mm),
                    self.p(_("Days per phase (closure waterfall)"), "body"),
                    waterfall_chart(d["phases"], width=self.width),
                ]
                + (
                    [self.p(_("Orange: the phase the issue is in now (running)."), "small")]
                    if any(row["running"] for row in d["phases"])
                    else []
                )
            )
        )
        if d["team"]["owner"] or d["team"]["action_owners"]:
            people = sorted({d["team"]["owner"], *d["team"]["action_owners"]} - {""})
            self.story.append(Spacer(1, 2 * mm))
            self.story.append(
                self.p(
                    _("Recognition: thanks to %(people)s for their work on this issue.") % {"people": ", ".join(people)}
                )
            )


CAPA_REPORT_TITLE = gettext_lazy("8D / CAPA report")


def capa_report_pdf(*, issue_id: int, language: str = "en", user=None) -> tuple[bytes, int]:
    """The 8D report of one issue in `language`; (pdf bytes, page count). Http404 when
    the user may not see the issue (user None: no scoping, a system caller)."""
    with translation.override(language):
        data = capa_report_data(issue_id=issue_id, user=user)
        builder = _Builder(data)
        for section in (
            builder.cover,
            builder.d1,
            builder.d2,
            builder.d3,
            builder.d4,
            builder.d5,
            builder.d6,
            builder.d7,
            builder.d8,
        ):
            section()
        info: dict = {}
        pdf = pdf_build(
            builder.story,
            title=f"{CAPA_REPORT_TITLE} · {data['issue'].code}",
            author=_("After-sales quality platform"),
            now=data["generated_at"],
            info=info,
        )
    return pdf, info["pages"]


def capa_links_register() -> None:
    """The download links of the issue page ("8D report (PDF)") and of the recall page
    ("Status report (PDF)"); called from reports' AppConfig.ready (improvements and
    quality may not import reports)."""
    from django.urls import NoReverseMatch, reverse

    from improvements.panels import issue_action_register
    from quality.panels import recall_action_register

    def link(name: str):
        def url(obj, user) -> str | None:
            try:
                return reverse(name, args=[obj.pk])
            except NoReverseMatch:  # reports.capa_urls not mounted (a trimmed URL conf): no link
                return None

        return url

    issue_action_register(
        key="capa-pdf", label=gettext_lazy("8D report (PDF)"), icon="bi-file-earmark-pdf", url=link("reports:capa_pdf")
    )
    recall_action_register(
        key="recall-pdf",
        label=gettext_lazy("Status report (PDF)"),
        icon="bi-file-earmark-pdf",
        url=link("reports:recall_pdf"),
    )
