"""Forms of the alert centre (issue 7). They only parse input: the rule form builds the
condition's `params` from the fields of the chosen kind (never typed as raw JSON) and
keeps the settings it has no field for, so editing a rule loses nothing; the service
validates, and its reasons are put back on the fields."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.roles import ADMIN, QUALITY_ENGINEER, ROLES
from tickets.forms import BootstrapMixin
from tickets.models import Status, Team

from .kpi.periods import GRAINS
from .kpi.registry import DIMENSIONS, kpi_registry
from .models import AlertAutoAction, AlertKind, AlertRule, AlertSchedule, AlertSeverity, AlertStatus

CHANNELS = [
    ("in_app", gettext_lazy("In the app")),
    ("email", gettext_lazy("E-mail")),
    ("webhook", gettext_lazy("Webhook")),
]
ROLE_LABELS = {
    "agent": gettext_lazy("Agents"),
    "supervisor": gettext_lazy("Supervisors"),
    "quality_engineer": gettext_lazy("Quality engineers"),
    "committee_member": gettext_lazy("Committee members"),
    "manager": gettext_lazy("Managers"),
    "admin": gettext_lazy("Admins"),
}
_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*[:=]\s*(.+?)\s*$")
_OVERRIDE = re.compile(r"^\s*(.+?)\s*[:=]\s*(-?[\d.]+)\s*$")


def workers():
    """The people an alert may be assigned to: those who may work alerts."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[QUALITY_ENGINEER, ADMIN]))
        .distinct()
        .order_by("username")
    )


def lines_to_dict(text: str, *, number: bool = False) -> dict:
    """`dimension: member` (or `member: number`) lines as a dict; ValidationError names
    the first line that is not of that shape."""
    out = {}
    pattern = _OVERRIDE if number else _LINE
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = pattern.match(line)
        if not match:
            example = "“East Service: 6”" if number else "“region: East”"
            raise forms.ValidationError(
                _("Line %(n)d: write one “name: value” per line, e.g. %(example)s.") % {"n": n, "example": example}
            )
        key, value = match.group(1), match.group(2)
        if number:
            try:
                value = float(value)
            except ValueError:
                raise forms.ValidationError(_("Line %(n)d: the value is not a number.") % {"n": n}) from None
        out[key] = value
    return out


def dict_to_lines(mapping: dict | None) -> str:
    return "\n".join(f"{key}: {value}" for key, value in (mapping or {}).items())


def _num(label, help_text="", **kwargs):
    return forms.FloatField(label=label, required=False, help_text=help_text, **kwargs)


def _int(label, help_text="", **kwargs):
    return forms.IntegerField(label=label, required=False, help_text=help_text, **kwargs)


def _choice(label, choices, help_text=""):
    return forms.ChoiceField(label=label, required=False, choices=choices, help_text=help_text)


# The condition's settings per kind (quality.services.alerts documents them): form
# field name -> (params key, field). A field left empty leaves its setting out (the
# service's default applies).
PARAM_FIELDS: dict[str, dict[str, tuple[str, forms.Field]]] = {
    AlertKind.THRESHOLD: {
        "th_op": (
            "op",
            _choice(
                gettext_lazy("Alert when the value is"),
                [("above", gettext_lazy("above the limit")), ("below", gettext_lazy("below the limit"))],
            ),
        ),
        "th_value": ("value", _num(gettext_lazy("Limit"))),
        "th_overrides": (
            "overrides",
            forms.CharField(
                label=gettext_lazy("Per-member limits"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=gettext_lazy("One “member: limit” per line, e.g. “East Service: 6”."),
            ),
        ),
        "th_holiday_value": (
            "holiday_value",
            _num(
                gettext_lazy("Limit on holidays"),
                gettext_lazy("Day grain: used on days the business calendar does not work (blank: the same)."),
            ),
        ),
        "th_min_denominator": (
            "min_denominator",
            _num(
                gettext_lazy("Minimum base"),
                gettext_lazy("Periods with a smaller denominator are skipped."),
                min_value=0,
            ),
        ),
    },
    AlertKind.TREND: {
        "tr_mode": (
            "mode",
            _choice(
                gettext_lazy("Compare with"),
                [
                    ("previous", gettext_lazy("the periods before")),
                    ("year_ago", gettext_lazy("the same period last year")),
                    ("run", gettext_lazy("N periods in a row getting worse")),
                ],
            ),
        ),
        "tr_pct": ("pct", _num(gettext_lazy("Worse by more than (%)"), min_value=0)),
        "tr_baseline_periods": (
            "baseline_periods",
            _int(gettext_lazy("Periods before"), gettext_lazy("Their mean is the baseline (default 1)."), min_value=1),
        ),
        "tr_periods": ("periods", _int(gettext_lazy("Periods in a row (N)"), min_value=2)),
        "tr_min_denominator": ("min_denominator", _num(gettext_lazy("Minimum base"), min_value=0)),
        "tr_min_count": ("min_count", _num(gettext_lazy("Minimum count"), min_value=0)),
    },
    AlertKind.ANOMALY: {
        "an_method": (
            "method",
            _choice(
                gettext_lazy("Method"),
                [
                    ("poisson", gettext_lazy("Poisson exceedance (sparse counts)")),
                    ("p", gettext_lazy("p chart (proportion)")),
                    ("u", gettext_lazy("u chart (rate per unit)")),
                    ("laney_p", gettext_lazy("Laney p′ (large subgroups)")),
                    ("laney_u", gettext_lazy("Laney u′ (large subgroups)")),
                    ("c", gettext_lazy("c chart (counts)")),
                    ("xmr", gettext_lazy("XmR (individual values)")),
                    ("ewma", gettext_lazy("EWMA")),
                    ("cusum", gettext_lazy("CUSUM")),
                ],
            ),
        ),
        "an_baseline_periods": (
            "baseline_periods",
            _int(
                gettext_lazy("Baseline periods"),
                gettext_lazy("Earlier periods that set the limits (default 12)."),
                min_value=2,
            ),
        ),
        "an_min_baseline": (
            "min_baseline",
            _int(
                gettext_lazy("Minimum baseline"),
                gettext_lazy("Fewer periods of history: no decision (default 3)."),
                min_value=2,
            ),
        ),
        "an_min_count": (
            "min_count",
            _num(
                gettext_lazy("Minimum count"), gettext_lazy("No alert below this many events (default 5)."), min_value=0
            ),
        ),
        "an_L": ("L", _num(gettext_lazy("Limit width (sigmas)"), min_value=0)),
        "an_lambda": ("lambda", _num(gettext_lazy("EWMA λ"), min_value=0, max_value=1)),
        "an_k": ("k", _num(gettext_lazy("CUSUM k"), min_value=0)),
        "an_h": ("h", _num(gettext_lazy("CUSUM h"), min_value=0)),
        "an_alpha": ("alpha", _num(gettext_lazy("Poisson significance (α)"), min_value=0, max_value=1)),
    },
    AlertKind.PROCESS: {
        "pr_check": (
            "check",
            _choice(
                gettext_lazy("Check"),
                [
                    ("stuck", gettext_lazy("Tickets stuck in a status")),
                    ("sla_breaches", gettext_lazy("SLA breaches")),
                    ("overdue_followups", gettext_lazy("Overdue follow-ups")),
                    ("overdue_actions", gettext_lazy("Overdue improvement actions")),
                ],
            ),
        ),
        "pr_status": (
            "status",
            _choice(
                gettext_lazy("Stuck in status"),
                [
                    ("", "—"),
                    *((value, label) for value, label in Status.choices if value not in ("resolved", "closed")),
                ],
            ),
        ),
        "pr_business_hours": ("business_hours", _num(gettext_lazy("For more than (business hours)"), min_value=0)),
        "pr_count": ("count", _int(gettext_lazy("Alert from (count)"), min_value=1)),
    },
}
PARAM_GROUPS = {kind: list(fields) for kind, fields in PARAM_FIELDS.items()}


class AlertRuleForm(BootstrapMixin, forms.Form):
    code = forms.SlugField(
        label=gettext_lazy("Code"), max_length=64, help_text=gettext_lazy("Fixed once saved, e.g. batch-failures.")
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=AlertKind.choices)
    kpi = forms.ChoiceField(label=gettext_lazy("KPI or metric"), required=False)
    filters = forms.CharField(
        label=gettext_lazy("Scope filters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("One “dimension: member” per line, e.g. “product_line: washer”."),
    )
    split_by = forms.ChoiceField(label=gettext_lazy("Split by"), required=False)
    grain = forms.ChoiceField(label=gettext_lazy("Grain"), choices=[(g, label) for g, (label, _t) in GRAINS.items()])
    severity = forms.ChoiceField(label=gettext_lazy("Severity"), choices=AlertSeverity.choices)
    schedule = forms.ChoiceField(label=gettext_lazy("Evaluation"), choices=AlertSchedule.choices)
    recipient_users = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Recipients: people"), required=False, queryset=get_user_model().objects.none()
    )
    recipient_roles = forms.MultipleChoiceField(
        label=gettext_lazy("Recipients: roles"),
        required=False,
        choices=[(role, ROLE_LABELS[role]) for role in ROLES],
        widget=forms.CheckboxSelectMultiple,
    )
    recipient_teams = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Recipients: teams"), required=False, queryset=Team.objects.none()
    )
    channels = forms.MultipleChoiceField(
        label=gettext_lazy("Channels"), required=False, choices=CHANNELS, widget=forms.CheckboxSelectMultiple
    )
    renotify_minutes = forms.IntegerField(
        label=gettext_lazy("Re-notify every (minutes)"),
        min_value=0,
        initial=1440,
        help_text=gettext_lazy("0: notify once per alert."),
    )
    resolve_after = forms.IntegerField(
        label=gettext_lazy("Resolve after clear evaluations"), min_value=1, max_value=1000, initial=2
    )
    auto_action = forms.ChoiceField(label=gettext_lazy("Auto-action"), required=False, choices=AlertAutoAction.choices)
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args, rule: AlertRule | None = None, **kwargs):
        self.rule = rule
        if rule is not None and "initial" not in kwargs:
            kwargs["initial"] = self._initial(rule)
        super().__init__(*args, **kwargs)
        # Bound per form: the kind fields are shared class-level specs.
        for kind, fields in PARAM_FIELDS.items():
            for name, (_key, field) in fields.items():
                self.fields[name] = field.__class__(**_field_kwargs(field))
                self.fields[name].widget.attrs.update(
                    {"class": "form-select" if isinstance(field, forms.ChoiceField) else "form-control"}
                )
                self.fields[name].widget.attrs["data-kind"] = kind
        self.fields["kpi"].choices = [("", _("— none (process rules) —"))] + [
            (code, f"{kpi.name} ({code})") for code, kpi in kpi_registry().items()
        ]
        self.fields["split_by"].choices = [("", _("— one series —"))] + [
            (dim, str(label)) for dim, label in DIMENSIONS.items()
        ]
        self.fields["recipient_users"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["recipient_teams"].queryset = Team.objects.order_by("name")
        for name in ("recipient_roles", "channels"):
            self.fields[name].widget.attrs["class"] = ""
        if rule is not None:
            self.fields["code"].disabled = True

    @staticmethod
    def _initial(rule: AlertRule) -> dict:
        initial = {
            "code": rule.code,
            "name": rule.name,
            "description": rule.description,
            "kind": rule.kind,
            "kpi": rule.kpi,
            "filters": dict_to_lines(rule.filters),
            "split_by": rule.split_by,
            "grain": rule.grain,
            "severity": rule.severity,
            "schedule": rule.schedule,
            "recipient_users": list(rule.recipient_users.all()),
            "recipient_roles": list(rule.recipient_roles or []),
            "recipient_teams": list(rule.recipient_teams.all()),
            "channels": list(rule.channels or []),
            "renotify_minutes": rule.renotify_minutes,
            "resolve_after": rule.resolve_after,
            "auto_action": rule.auto_action,
            "active": rule.active,
        }
        for name, (key, _field) in PARAM_FIELDS.get(rule.kind, {}).items():
            value = (rule.params or {}).get(key)
            if value is None:
                continue
            initial[name] = dict_to_lines(value) if isinstance(value, dict) else value
        return initial

    def clean_filters(self) -> dict:
        return lines_to_dict(self.cleaned_data.get("filters") or "")

    def clean_th_overrides(self) -> dict:
        return lines_to_dict(self.cleaned_data.get("th_overrides") or "", number=True)

    def params(self) -> dict:
        """The settings of the chosen kind; those without a field here (set through the
        API) are kept from the rule when its kind is unchanged."""
        kind = self.cleaned_data["kind"]
        known = {key for key, _f in PARAM_FIELDS.get(kind, {}).values()}
        params = {}
        if self.rule is not None and self.rule.kind == kind:
            params = {k: v for k, v in (self.rule.params or {}).items() if k not in known}
        for name, (key, _field) in PARAM_FIELDS.get(kind, {}).items():
            value = self.cleaned_data.get(name)
            if value in (None, "", {}):
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 30, not 30.0, in the stored condition
            params[key] = value
        return params

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        fields = {
            name: data[name]
            for name in (
                "name",
                "description",
                "kind",
                "kpi",
                "filters",
                "split_by",
                "grain",
                "severity",
                "schedule",
                "recipient_roles",
                "channels",
                "renotify_minutes",
                "resolve_after",
                "auto_action",
                "active",
            )
        }
        fields["recipient_users"] = list(data["recipient_users"])
        fields["recipient_teams"] = list(data["recipient_teams"])
        fields["params"] = self.params()
        if self.rule is None:
            fields["code"] = data["code"]
        return fields

    def add_application_error(self, error) -> None:
        # The service names the condition's settings by their params key: put each on
        # its field of the chosen kind.
        kind = self.data.get("kind") or (self.rule.kind if self.rule else "")
        by_key = {key: name for name, (key, _f) in PARAM_FIELDS.get(kind, {}).items()}
        errors = {}
        for name, reasons in error.errors.items():
            key = name.split(".", 1)[1] if name.startswith("params.") else name
            errors[by_key.get(key, name)] = reasons
        error.errors = errors
        super().add_application_error(error)

    def kind_groups(self) -> list[dict]:
        return [
            {"kind": kind, "label": AlertKind(kind).label, "fields": [self[name] for name in names]}
            for kind, names in PARAM_GROUPS.items()
        ]


def _field_kwargs(field: forms.Field) -> dict:
    kwargs = {"label": field.label, "required": False, "help_text": field.help_text}
    if isinstance(field, forms.ChoiceField):
        kwargs["choices"] = field.choices
    elif isinstance(field, forms.CharField):
        kwargs["widget"] = field.widget.__class__(attrs=dict(field.widget.attrs))
        kwargs["max_length"] = field.max_length
    if isinstance(field, forms.FloatField | forms.IntegerField):
        kwargs["min_value"] = field.min_value
        kwargs["max_value"] = field.max_value
    return kwargs


class AlertFilterForm(forms.Form):
    """The centre's filters; an unknown value is ignored (the default applies)."""

    status = forms.ChoiceField(
        required=False,
        choices=[("open", gettext_lazy("Open")), *AlertStatus.choices, ("all", gettext_lazy("All"))],
    )
    severity = forms.ChoiceField(required=False, choices=[("", gettext_lazy("Any severity")), *AlertSeverity.choices])
    kind = forms.ChoiceField(required=False, choices=[("", gettext_lazy("Any kind")), *AlertKind.choices])
    rule = forms.ChoiceField(required=False)

    def __init__(self, data=None, *, rules):
        super().__init__(data)
        self.fields["rule"].choices = [("", _("Any rule"))] + [(r.code, r.name) for r in rules]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-sm"

    def values(self) -> dict:
        cleaned = self.cleaned_data if self.is_valid() else {}
        if not self.is_valid():
            # Keep what is valid: drop the fields in error only.
            cleaned = {name: self.data.get(name, "") for name in self.fields if name not in self.errors}
        return {
            "status": cleaned.get("status") or "open",
            "severity": cleaned.get("severity") or "",
            "kind": cleaned.get("kind") or "",
            "rule": cleaned.get("rule") or "",
        }


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = workers()


SILENCE_DURATIONS = {"1d": dt.timedelta(days=1), "1w": dt.timedelta(days=7)}


class SilenceForm(BootstrapMixin, forms.Form):
    """A silence: from an alert (its rule and member are given) or from the silence page
    (rule, KPI and member lines). `duration` 1d / 1w, or `custom` with an end."""

    rule = forms.ModelChoiceField(
        label=gettext_lazy("Rule"), required=False, queryset=AlertRule.objects.none(), to_field_name="code"
    )
    kpi = forms.CharField(label=gettext_lazy("KPI"), required=False, max_length=64)
    member = forms.CharField(
        label=gettext_lazy("Member"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("One “dimension: member” per line; blank matches every member."),
    )
    duration = forms.ChoiceField(
        label=gettext_lazy("For"),
        choices=[("1d", gettext_lazy("1 day")), ("1w", gettext_lazy("1 week")), ("custom", gettext_lazy("Until…"))],
        initial="1d",
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    comment = forms.CharField(label=gettext_lazy("Comment"), required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = AlertRule.objects.order_by("code")
        self.fields["rule"].label_from_instance = lambda rule: f"{rule.name} ({rule.code})"

    def clean_member(self) -> dict:
        return lines_to_dict(self.cleaned_data.get("member") or "")

    def clean(self):
        data = super().clean()
        now = timezone.now()
        duration = data.get("duration")
        if duration == "custom":
            ends_at = data.get("ends_at")
            if ends_at is None:
                self.add_error("ends_at", _("Give the end of the silence."))
            elif ends_at <= now:
                self.add_error("ends_at", _("The end must be in the future."))
        elif duration in SILENCE_DURATIONS:
            data["ends_at"] = now + SILENCE_DURATIONS[duration]
        data["starts_at"] = now
        return data


class ReplayForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, data=None, *, today: dt.date):
        self.today = today
        default = {"start": (today - dt.timedelta(days=182)).isoformat(), "end": today.isoformat()}
        super().__init__({**default, **{k: v for k, v in (data or {}).items() if v}})
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control form-control-sm"

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end <= start:
                self.add_error("end", _("The end must be after the start."))
            elif (end - start).days > 3 * 366:
                self.add_error("end", _("Replay at most three years at once."))
        return data
