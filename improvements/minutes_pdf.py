"""The minutes of a review meeting as PDF, in the language asked for (labels and
choices translated; the users' own text as written)."""

from __future__ import annotations

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

from catalog.pdf import pdf_build, pdf_content_width, pdf_paragraph, pdf_styles, pdf_text

from . import review_selectors as selectors
from .models import AgendaKind, Decision, ReviewMeeting


def _user(user) -> str:
    if user is None:
        return "–"
    return user.get_full_name() or user.username


def _subject(item) -> str:
    """What the item is about: the issue (code and title), the action or the alert."""
    parts = []
    if item.issue is not None:
        parts.append(f"{item.issue.code} {item.issue.title}")
    if item.action is not None:
        parts.append(
            _("Action: %(title)s (due %(due)s)")
            % {"title": item.action.title, "due": formats.date_format(item.action.current_due_on, "SHORT_DATE_FORMAT")}
        )
    if item.alert is not None:
        parts.append(_("Alert: %(rule)s") % {"rule": item.alert.rule.name})
        if item.alert.member:
            parts.append(", ".join(f"{key}: {value}" for key, value in item.alert.member.items()))
    return "\n".join(parts) or "–"


def meeting_minutes_pdf(meeting: ReviewMeeting, *, language: str) -> bytes:
    """Title, date, location, chair, attendees; each agenda item (kind, issue, decision,
    minutes, who decided when); the general minutes."""
    with translation.override(language):
        styles = pdf_styles()
        items = list(selectors.meeting_items(meeting))
        date = formats.date_format(meeting.held_on, "DATE_FORMAT")
        title = _("Minutes: %(title)s") % {"title": meeting.title}
        story: list = [pdf_paragraph(title, styles["title"])]

        facts = [
            (_("Date"), date),
            (_("Location"), meeting.location or "–"),
            (_("Chair"), _user(meeting.chair)),
            (_("Attendees"), ", ".join(sorted((_user(u) for u in meeting.attendees.all()), key=str.casefold)) or "–"),
            (_("Status"), meeting.get_status_display()),
        ]
        label_width = 32 * mm
        width = pdf_content_width()
        fact_table = Table(
            [[pdf_paragraph(k, styles["label"]), pdf_paragraph(v, styles["body"])] for k, v in facts],
            colWidths=[label_width, width - label_width],
        )
        fact_table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ]
            )
        )
        story += [fact_table, Spacer(1, 4 * mm)]

        story.append(pdf_paragraph(_("Agenda and decisions"), styles["heading"]))
        if not items:
            story.append(pdf_paragraph(_("No agenda items."), styles["body"]))
        else:
            header = [
                Paragraph(pdf_text(h), styles["label"])
                for h in ("#", _("Item"), pgettext("review", "Decision"), pgettext("review", "Minutes"), _("Decided"))
            ]
            rows = [header]
            for number, item in enumerate(items, start=1):
                kind = AgendaKind(item.kind).label
                subject = Paragraph(
                    f"<font size='7.5' color='#666666'>{pdf_text(kind)}</font><br/>{pdf_text(_subject(item))}",
                    styles["cell"],
                )
                decision = Decision(item.decision).label if item.decision else _("Not decided")
                decided = (
                    f"{_user(item.decided_by)}\n{timezone.localtime(item.decided_at):%Y-%m-%d %H:%M}"
                    if item.decided_at
                    else "–"
                )
                rows.append(
                    [
                        pdf_paragraph(str(number), styles["cell"]),
                        subject,
                        pdf_paragraph(decision, styles["cell"]),
                        pdf_paragraph(item.minutes or "–", styles["cell"]),
                        pdf_paragraph(decided, styles["cell"]),
                    ]
                )
            rest = width - 8 * mm
            widths = [8 * mm, 0.34 * rest, 0.15 * rest, 0.31 * rest, 0.20 * rest]
            table = Table(rows, colWidths=widths, repeatRows=1)
            table.setStyle(
                TableStyle(
                    [
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f4")),
                        ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#c8ccd0")),
                        ("TOPPADDING", (0, 0), (-1, -1), 3),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                        ("LEFTPADDING", (0, 0), (-1, -1), 3),
                        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                    ]
                )
            )
            story.append(table)

        story.append(
            KeepTogether(
                [
                    pdf_paragraph(_("General minutes"), styles["heading"]),
                    pdf_paragraph(meeting.minutes or "–", styles["body"]),
                ]
            )
        )
        return pdf_build(story, title=title, author=_user(meeting.chair) if meeting.chair else "")
