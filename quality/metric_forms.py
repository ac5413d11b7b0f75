"""The self-service metric form. It only parses input (filters are written one per
line: `field operator value`); the service validates, and its reasons are put back on
the fields."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tickets.forms import BootstrapMixin

from .models import MetricDefinition, MetricDirection, MetricKind, MetricRecordSet

# Symbols accepted for the operators, besides their names.
SYMBOLS = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
FILTERS_HELP = gettext_lazy(
    "One filter per line: field, operator, value, e.g. “type eq repair”, “visits <= 1”, “channel in phone,web”, "
    "“first_response_at isnull false”. Operators: eq, ne, in, lt, lte, gt, gte, isnull."
)


def filters_to_lines(filters: list[dict]) -> str:
    lines = []
    for item in filters or []:
        value = item.get("value")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        lines.append(f"{item.get('field', '')} {item.get('op', '')} {value}".rstrip())
    return "\n".join(lines)


def lines_to_filters(text: str) -> list[dict]:
    """`field op value` lines as filter dicts; raises ValidationError for a line that is
    not of that shape (what the words mean is the service's to check)."""
    filters = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise forms.ValidationError(
                _("Line %(n)d: write “field operator value”, e.g. “type eq repair”.") % {"n": number}
            )
        field, op = parts[0], parts[1]
        filters.append({"field": field, "op": SYMBOLS.get(op, op.lower()), "value": parts[2] if len(parts) > 2 else ""})
    return filters


class MetricDefinitionForm(BootstrapMixin, forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=64,
        help_text=gettext_lazy("Lower-case letters, digits, “_” or “-”; fixed once saved (e.g. repair_ftf)."),
    )
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=200, required=False)
    description = forms.CharField(
        label=gettext_lazy("Definition"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("What the metric means, in a sentence; the exact rule is shown with it."),
    )
    record_set = forms.ChoiceField(label=gettext_lazy("Record set"), choices=MetricRecordSet.choices)
    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=MetricKind.choices,
        help_text=gettext_lazy(
            "Count: the records. Ratio: records passing the numerator filters ÷ all records (both after the base "
            "filters). Mean: the average of a field over the records."
        ),
    )
    time_field = forms.CharField(
        label=gettext_lazy("Time field"),
        max_length=64,
        help_text=gettext_lazy("The date or time that places a record in a period (e.g. created_at)."),
    )
    mean_field = forms.CharField(
        label=gettext_lazy("Mean of"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("Mean only: a number field, or the end time of a duration."),
    )
    mean_start_field = forms.CharField(
        label=gettext_lazy("Duration start"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("For a duration: its start time; the mean is in hours (times the scale)."),
    )
    base_filters = forms.CharField(
        label=gettext_lazy("Base filters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=FILTERS_HELP,
    )
    numerator_filters = forms.CharField(
        label=gettext_lazy("Numerator filters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=gettext_lazy("Ratio: the records counted above the line. Count and mean: more filters."),
    )
    unit = forms.CharField(
        label=gettext_lazy("Unit"),
        max_length=32,
        required=False,
        help_text=gettext_lazy("e.g. %, h, tickets; empty: chosen from the kind."),
    )
    direction = forms.ChoiceField(label=gettext_lazy("Direction"), choices=MetricDirection.choices)
    target = forms.FloatField(label=gettext_lazy("Target"), required=False)
    scale = forms.FloatField(
        label=gettext_lazy("Scale"),
        initial=1,
        help_text=gettext_lazy("Multiplies the value: 100 for a percentage, 60 for a duration in minutes."),
    )
    active = forms.BooleanField(label=gettext_lazy("Active (in the catalogue and dashboards)"), required=False)

    def __init__(self, *args, definition: MetricDefinition | None = None, read_only: bool = False, **kwargs):
        if definition is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(definition)
        kwargs.setdefault("initial", {"scale": 1, "active": True, "kind": "ratio", "direction": "up"})
        super().__init__(*args, **kwargs)
        if definition is not None:
            self.fields["code"].disabled = True
        # Suggestions: the fields of the chosen record set (static/js/metrics.js follows a change).
        record_set = self.data.get("record_set") if self.is_bound else self.initial.get("record_set")
        record_set = record_set if record_set in MetricRecordSet.values else MetricRecordSet.TICKETS
        for name, role in (("time_field", "time"), ("mean_field", "mean"), ("mean_start_field", "start")):
            attrs = {"list": f"metric-{record_set}-{role}", "autocomplete": "off", "data-field-role": role}
            self.fields[name].widget.attrs.update(attrs)
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    @staticmethod
    def initial_for(definition: MetricDefinition) -> dict:
        initial = {name: getattr(definition, name) for name in MetricDefinitionForm.base_fields}
        for name in ("base_filters", "numerator_filters"):
            initial[name] = filters_to_lines(getattr(definition, name))
        return initial

    def clean_base_filters(self):
        return lines_to_filters(self.cleaned_data["base_filters"])

    def clean_numerator_filters(self):
        return lines_to_filters(self.cleaned_data["numerator_filters"])

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)
