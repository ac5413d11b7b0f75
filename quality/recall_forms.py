"""The recall campaign form. It only parses input: batches are written one per line (or
separated by commas or spaces), serial ranges one per line as `first..last`; the
service validates, and its reasons are put back on the fields."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.forms import BootstrapMixin

from .models import Recall, RecallSeverity, RecallUnitStatus

_SPLIT = re.compile(r"[\s,;]+")
_RANGE = re.compile(r"\s*(?:\.\.|–|—|\s-\s|\s+)\s*")


def ranges_to_text(recall: Recall) -> str:
    return "\n".join(f"{r.first}..{r.last}" for r in recall.serial_ranges.all())


class RecallForm(BootstrapMixin, forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=64, help_text=_("Fixed once saved, e.g. RC-0002."), required=True
    )
    title = forms.CharField(label=_("Title"), max_length=255)
    severity = forms.ChoiceField(label=_("Severity"), choices=RecallSeverity.choices)
    reason = forms.CharField(label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    remedy = forms.CharField(
        label=_("Remedy"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the service engineer does; it becomes the description of each remedy ticket."),
    )
    batch_codes = forms.CharField(
        label=_("Batches"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Batch codes, separated by spaces, commas or new lines: every unit of these batches is affected."),
    )
    serial_ranges = forms.CharField(
        label=_("Serial ranges"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One range per line, “first..last” (both included; same length and prefix)."),
    )

    def __init__(self, *args, recall: Recall | None = None, **kwargs):
        if recall is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "code": recall.code,
                "title": recall.title,
                "severity": recall.severity,
                "reason": recall.reason,
                "remedy": recall.remedy,
                "batch_codes": "\n".join(b.code for b in recall.batches.all()),
                "serial_ranges": ranges_to_text(recall),
            }
        super().__init__(*args, **kwargs)
        if recall is not None:
            self.fields["code"].disabled = True

    def clean_batch_codes(self) -> list[str]:
        return [code for code in _SPLIT.split(self.cleaned_data.get("batch_codes") or "") if code]

    def clean_serial_ranges(self) -> list[tuple[str, str]]:
        ranges = []
        for number, line in enumerate((self.cleaned_data.get("serial_ranges") or "").splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            parts = [p for p in _RANGE.split(line, maxsplit=1) if p]
            if len(parts) == 1:
                parts = parts * 2  # a single serial is a range of one
            if len(parts) != 2:
                raise forms.ValidationError(_("Line %(n)d: write “first..last”.") % {"n": number})
            ranges.append((parts[0], parts[1]))
        return ranges

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "severity": data["severity"],
            "reason": data["reason"],
            "remedy": data["remedy"],
            "batch_codes": data["batch_codes"],
            "serial_ranges": data["serial_ranges"],
        }

    def add_application_error(self, error) -> None:
        if "scope" in error.errors:
            error.errors = {**error.errors, "batch_codes": error.errors["scope"]}
            error.errors.pop("scope")
        super().add_application_error(error)


class UnitFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *RecallUnitStatus.choices])

    def status_value(self) -> str | None:
        return self.cleaned_data.get("status") or None if self.is_valid() else None
