"""Forms of the traceability pages: record a failure on a ticket, search a serial.
They only parse input; quality.services.failure_record validates the domain rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import Component

from .models import RootCauseCategory
from .trace_selectors import failure_mode_choices

PART_ROWS = 3


class SerialSearchForm(forms.Form):
    serial = forms.CharField(label=_("Serial number"), max_length=64)


class FailureRecordForm(forms.Form):
    failure_mode = forms.ChoiceField(label=_("Failure mode"))
    component = forms.ChoiceField(label=_("Component"), required=False)
    occurred_at = forms.DateTimeField(
        label=_("Occurred at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    repaired_at = forms.DateTimeField(
        label=_("Repaired at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    repair_action = forms.CharField(label=_("Repair action"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    root_cause_category = forms.ChoiceField(
        label=_("Root-cause category"), required=False, choices=[("", "—"), *RootCauseCategory.choices]
    )
    labor_hours = forms.DecimalField(label=_("Labour hours"), min_value=0, initial=0, decimal_places=2, max_digits=8)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["failure_mode"].choices = [("", "—"), *failure_mode_choices()]
        self.fields["component"].choices = [
            ("", "—"),
            *(
                (c.code, f"{c.code} {c.name}" + (f" · {c.supplier.name}" if c.supplier_id else ""))
                for c in Component.objects.select_related("supplier").order_by("code")
            ),
        ]
        for i in range(PART_ROWS):
            self.fields[f"part_number_{i}"] = forms.CharField(label=_("Part number"), required=False, max_length=64)
            self.fields[f"quantity_{i}"] = forms.IntegerField(label=_("Quantity"), required=False, min_value=1)
            self.fields[f"unit_cost_{i}"] = forms.DecimalField(
                label=_("Unit cost"), required=False, min_value=0, decimal_places=2, max_digits=12
            )
        for i in range(PART_ROWS):
            for name in ("part_number", "quantity", "unit_cost"):
                field = self.fields[f"{name}_{i}"]
                field.widget.attrs["placeholder"] = field.label
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)

    def part_rows(self) -> list[tuple]:
        return [(self[f"part_number_{i}"], self[f"quantity_{i}"], self[f"unit_cost_{i}"]) for i in range(PART_ROWS)]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        parts = [
            {
                "part_number": data[f"part_number_{i}"],
                "quantity": data[f"quantity_{i}"] or 1,
                "unit_cost": data[f"unit_cost_{i}"] or 0,
            }
            for i in range(PART_ROWS)
            if data.get(f"part_number_{i}")
        ]
        return {
            "failure_mode": data["failure_mode"],
            "component": data["component"] or None,
            "occurred_at": data["occurred_at"],
            "repaired_at": data["repaired_at"],
            "repair_action": data["repair_action"],
            "root_cause_category": data["root_cause_category"],
            "labor_hours": data["labor_hours"],
            "parts": parts,
        }
