"""The recall status report: the campaign's facts, completion figures (the completion
rate from the KPI engine, as the dashboard shows it), the cumulative completion curve,
the breakdown by region and by batch, the open units and the campaign's timeline.
Figures come from reports.recall_data; this module lays them out."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Spacer, Table, TableStyle

from catalog.pdf import pdf_build, pdf_paragraph
from reports.recall_data import recall_report_data

from .capa import _Builder as _CapaBuilder
from .capa import day
from .charts import hbar_chart, line_chart
from .quality import format_kpi_value, status_label

RECALL_REPORT_TITLE = gettext_lazy("Recall status report")


def pct(value) -> str:
    """A percentage as the dashboard shows it (one decimal); "–" for none."""
    return "–" if value is None else format_kpi_value(value, "%") + "%"


def share(value) -> str:
    """A 0..1 share as a percentage."""
    return "–" if value is None else pct(value * 100)


class _Builder(_CapaBuilder):
    def heading(self, text: str) -> None:  # no D-numbers here
        self.story.append(CondPageBreak(40 * mm))
        self.story.append(self.p(text, "heading"))

    def cover(self) -> None:
        d = self.data
        recall = d["recall"]
        self.story.append(self.p(_("Recall status report"), "small"))
        self.story.append(self.p(f"{recall.code} {recall.title}", "title"))
        ranges = ", ".join(f"{first} – {last}" for first, last in d["serial_ranges"])
        self.story.append(
            self.facts(
                [
                    (_("State"), d["state_label"]),
                    (_("Severity"), d["severity_label"]),
                    (_("Opened"), day(recall.opened_at)),
                    (_("Approved"), day(recall.approved_at)),
                    (_("Launched"), day(recall.launched_at)),
                    (_("Completed"), day(recall.completed_at)),
                    (_("Terminated"), day(recall.terminated_at)),
                    (_("Closed"), day(recall.closed_at)),
                    (_("Batches"), ", ".join(d["batches"]) or "–"),
                    (_("Serial ranges"), ranges or "–"),
                ]
            )
        )
        rows = [(_("Reason"), recall.reason or "–"), (_("Remedy"), recall.remedy or "–")]
        self.story.append(
            self.table([[pdf_paragraph(k, self.styles["label"]), v] for k, v in rows], [0.17, 0.83], header=False)
        )

    def completion(self) -> None:
        d = self.data
        f = d["figures"]
        self.heading(_("Completion"))
        rate = pct(d["completion_rate"])
        target = pct(d["target"]) if d["target"] is not None else "–"
        self.story.append(
            self.p(
                _("%(kpi)s: %(rate)s (target %(target)s, %(status)s) — %(remedied)s of %(units)s units remedied.")
                % {
                    "kpi": d["kpi"].name,
                    "rate": rate,
                    "target": target,
                    "status": status_label(d["status"]),
                    "remedied": f"{d['completion_numerator'] or 0:,.0f}",
                    "units": f"{d['completion_denominator'] or 0:,.0f}",
                }
            )
        )
        self.note(
            _("The rate is the KPI engine's, as on the dashboards: %(definition)s")
            % {"definition": d["kpi"].definition}
        )
        rows = [
            [
                _("Units in scope"),
                _("Notified"),
                _("Scheduled"),
                _("Remedied"),
                _("Unreachable"),
                _("Pending"),
                _("Open"),
            ],
            [
                f"{f['affected']:,}",
                f"{f['notified']:,} ({share(f['notification_rate'])})",
                f"{f['scheduled']:,}",
                f"{f['remedied']:,} ({share(f['remedied_share'])})",
                f"{f['unreachable']:,}",
                f"{f['pending']:,}",
                f"{d['open_count']:,}",
            ],
        ]
        self.story.append(Spacer(1, 2 * mm))
        self.story.append(self.table(rows, [1 / 7] * 7))
        self.note(
            _("Affected units of the campaign and their status; weeks to 50 %%: %(w50)s, to 80 %%: %(w80)s.")
            % {"w50": f["weeks_to_50"] or "–", "w80": f["weeks_to_80"] or "–"}
        )

    def curve(self) -> None:
        d = self.data
        title = (
            _("Completion by week (cumulative %)") if d["grain"] == "week" else _("Completion by month (cumulative %)")
        )
        self.heading(title)
        labels = [row["period_start"][2:] if d["grain"] == "week" else row["period_start"][:7] for row in d["curve"]]
        self.story.append(
            line_chart(
                labels,
                [row["value"] for row in d["curve"]],
                width=self.width,
                height=55 * mm,
                target=d["target"],
                fmt=lambda v: f"{v:g}%",
                target_label=_("target"),
                empty=_("No remedies yet."),
            )
        )
        self.note(_("Periods start on the dates shown; each value is the state at the end of its period."))

    def breakdown(self) -> None:
        d = self.data
        self.heading(_("By region"))
        regions = d["by_region"]
        if regions:
            labels = [str(row.get("region") or _("(none)")) for row in regions]
            chart = hbar_chart(
                labels,
                [row["value"] for row in regions],
                width=self.width * 0.5,
                fmt=lambda v: f"{v:,.0f}%" if v == int(v) else pct(v),
                target=d["target"],
                empty=_("No units."),
            )
            rows = [[_("Region"), _("Remedied"), _("Units"), _("Rate")]]
            for label, row in zip(labels, regions, strict=True):
                rows.append(
                    [label, f"{row['numerator'] or 0:,.0f}", f"{row['denominator'] or 0:,.0f}", pct(row["value"])]
                )
            table = self.table(rows, [0.2, 0.09, 0.09, 0.09], extra=[("ALIGN", (1, 1), (-1, -1), "RIGHT")])
            self.story.append(
                Table(
                    [[chart, table]],
                    colWidths=[self.width * 0.52, self.width * 0.48],
                    style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]),
                )
            )
        else:
            self.note(_("No units."))
        self.heading(_("By batch"))
        rows = [
            [_("Batch"), _("Units"), _("Notified"), _("Remedied"), _("Unreachable"), _("Remedied share"), _("Rate")]
        ]
        for row in d["by_batch"]:
            rows.append(
                [
                    row["batch"] or "–",
                    f"{row['affected']:,}",
                    f"{row['notified']:,}",
                    f"{row['remedied']:,}",
                    f"{row['unreachable']:,}",
                    share(row["remedied_share"]),
                    pct(row["completion_rate"]),
                ]
            )
        self.story.append(
            self.table(rows, [0.22, 0.12, 0.12, 0.12, 0.14, 0.14, 0.14], extra=[("ALIGN", (1, 1), (-1, -1), "RIGHT")])
        )
        self.note(
            _("Rate: the completion rate KPI of the batch; the other columns count the campaign's affected units.")
        )

    def open_units(self) -> None:
        d = self.data
        self.heading(_("Open units"))
        if not d["open_units"]:
            self.note(_("Every affected unit is remedied."))
            return
        self.note(
            _("%(shown)s of %(open)s open units, by serial number.")
            % {"shown": len(d["open_units"]), "open": d["open_count"]}
        )
        rows = [
            [_("Serial number"), _("Model"), _("Batch"), _("Region"), _("Customer"), _("Status"), _("Last contact")]
        ]
        for u in d["open_units"]:
            rows.append(
                [
                    u["serial"],
                    u["model"],
                    u["batch"],
                    u["region"],
                    u["customer"],
                    u["status_label"],
                    day(u["last_contact"]),
                ]
            )
        self.story.append(self.table(rows, [0.19, 0.1, 0.13, 0.13, 0.19, 0.12, 0.14]))

    def timeline(self) -> None:
        d = self.data
        self.heading(_("Timeline"))
        recall = d["recall"]
        # The campaign's dated milestones, then its logged events, newest first.
        milestones = [
            (recall.opened_at, _("Opened")),
            (recall.approved_at, _("Approved")),
            (recall.launched_at, _("Launched")),
            (recall.completed_at, _("Completed")),
            (recall.terminated_at, _("Terminated")),
            (recall.closed_at, _("Closed")),
        ]
        entries = [
            {"at": at, "actor": "", "kind": label, "from": "", "to": "", "comment": ""}
            for at, label in milestones
            if at is not None
        ]
        entries += [{**e, "kind": e["kind"].replace("_", " ")} for e in d["events"]]
        entries.sort(key=lambda e: e["at"], reverse=True)
        rows = [[_("When"), _("Who"), _("Event"), _("Change"), _("Comment")]]
        for e in entries:
            change = f"{e['from']} → {e['to']}" if e["from"] or e["to"] else ""
            rows.append([day(e["at"]), e["actor"], e["kind"], change, e["comment"]])
        self.story.append(self.table(rows, [0.13, 0.15, 0.15, 0.22, 0.35]))


def recall_report_pdf(*, recall_id: int, language: str = "en", user=None) -> tuple[bytes, int]:
    """The status report of one recall in `language`; (pdf bytes, page count). Http404
    when the user may not read recalls (user None: no scoping, a system caller)."""
    with translation.override(language):
        data = recall_report_data(recall_id=recall_id, user=user)
        builder = _Builder(data)
        for section in (
            builder.cover,
            builder.completion,
            builder.curve,
            builder.breakdown,
            builder.open_units,
            builder.timeline,
        ):
            section()
        info: dict = {}
        pdf = pdf_build(
            builder.story,
            title=f"{RECALL_REPORT_TITLE} · {data['recall'].code}",
            author=_("After-sales quality platform"),
            now=data["generated_at"],
            info=info,
        )
    return pdf, info["pages"]
