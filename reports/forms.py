"""Forms of the report pages: they parse input; the services validate and write."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from catalog.exceptions import ApplicationError
from quality.kpi.periods import GRAINS
from quality.views import FILTER_DIMS, DashboardFilterForm
from tickets.forms import BootstrapMixin

from .models import ReportKind, Schedule

PERIODS = {
    "last_month": _("Last month"),
    "last_quarter": _("Last quarter"),
    "last_12_months": _("Last 12 months"),
    "custom": _("Custom dates"),
}
# Service fields that are named differently on the forms.
FIELD_NAMES = {"issue_id": "issue", "recall_id": "recall", "filters": None, "scope": None}


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_dates(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of a preset: whole months or quarters before the current one."""
    month = today.replace(day=1)
    if name == "last_quarter":
        quarter = _months_back(month, (month.month - 1) % 3)
        return _months_back(quarter, 3), quarter
    if name == "last_12_months":
        return _months_back(month, 12), month
    return _months_back(month, 1), month


def current_language() -> str:
    language = (get_language() or settings.LANGUAGE_CODE).lower()
    codes = [code for code, _name in settings.LANGUAGES]
    return language if language in codes else settings.LANGUAGE_CODE


class _ServiceErrorsMixin(BootstrapMixin):
    def add_application_error(self, error: ApplicationError) -> None:
        placed = False
        for name, reasons in error.errors.items():
            field = FIELD_NAMES.get(name, name)
            for reason in reasons if isinstance(reasons, list | tuple) else [reasons]:
                self.add_error(field if field in self.fields else None, str(reason))
                placed = placed or field in self.fields
        if not placed:
            self.add_error(None, error.message)


def _scope_fields(form: forms.Form, user) -> None:
    """The dashboard's dimension filters, with the dashboard's member choices."""
    dashboard = DashboardFilterForm(None, user=user)
    for dim in FILTER_DIMS:
        form.fields[dim] = dashboard.fields[dim]
        form.fields[dim].widget.attrs["class"] = "form-select"


class ReportRequestForm(_ServiceErrorsMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Report"), widget=forms.RadioSelect)
    period = forms.ChoiceField(label=_("Period"), choices=list(PERIODS.items()), initial="last_month")
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("Until (exclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    grain = forms.ChoiceField(label=_("Grain"), initial="month")
    issue = forms.TypedChoiceField(label=_("Improvement issue"), required=False, coerce=int, empty_value=None)
    recall = forms.TypedChoiceField(label=_("Recall"), required=False, coerce=int, empty_value=None)
    language = forms.ChoiceField(label=_("Language of the report"), choices=settings.LANGUAGES)

    def __init__(self, data=None, *, user, issues=(), recalls=(), today=None, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today or timezone.localdate()
        kinds = [(ReportKind.QUALITY.value, ReportKind.QUALITY.label)]
        if issues:
            kinds.append((ReportKind.CAPA.value, ReportKind.CAPA.label))
        if recalls:
            kinds.append((ReportKind.RECALL.value, ReportKind.RECALL.label))
        self.fields["kind"].choices = kinds
        self.fields["kind"].widget.attrs["class"] = "form-check-input"
        self.fields["grain"].choices = [(code, str(label).capitalize()) for code, (label, _t) in GRAINS.items()]
        self.fields["issue"].choices = [("", "—"), *((i.pk, f"{i.code} · {i.title}") for i in issues)]
        self.fields["recall"].choices = [("", "—"), *((r.pk, f"{r.code} · {r.title}") for r in recalls)]
        _scope_fields(self, user)
        for name in ("kind", "period", "grain", "language", "issue", "recall", *FILTER_DIMS):
            self.fields[name].widget.attrs["class"] = "form-check-input" if name == "kind" else "form-select"
        self.fields["period"].widget.attrs["data-period-select"] = ""
        if not self.is_bound:
            self.initial.setdefault("language", current_language())
            self.initial.setdefault("kind", ReportKind.QUALITY)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == ReportKind.QUALITY and data.get("period") == "custom":
            for name in ("start", "end"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, _("This field is required."))
        if kind == ReportKind.CAPA and not data.get("issue") and "issue" not in self.errors:
            self.add_error("issue", _("Choose an improvement issue."))
        if kind == ReportKind.RECALL and not data.get("recall") and "recall" not in self.errors:
            self.add_error("recall", _("Choose a recall."))
        return data

    def request_arguments(self) -> dict:
        """kind, parameters and language for services.report_request."""
        data = self.cleaned_data
        kind = data["kind"]
        if kind == ReportKind.CAPA:
            parameters = {"issue_id": data["issue"]}
        elif kind == ReportKind.RECALL:
            parameters = {"recall_id": data["recall"]}
        else:
            if data["period"] == "custom":
                start, end = data["start"], data["end"]
            else:
                start, end = period_dates(data["period"], self.today)
            parameters = {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "grain": data["grain"],
                "filters": {dim: data[dim] for dim in FILTER_DIMS if data.get(dim)},
            }
        return {"kind": kind, "parameters": parameters, "language": data["language"]}


class SubscriptionForm(_ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    schedule = forms.ChoiceField(label=_("Schedule"), choices=Schedule.choices, widget=forms.RadioSelect)
    cron = forms.CharField(
        label=_("Cron expression"),
        required=False,
        max_length=100,
        help_text=_("Five fields: minute hour day-of-month month day-of-week, e.g. 30 8 * * 1-5."),
        widget=forms.TextInput(attrs={"placeholder": "0 7 * * 1", "spellcheck": "false"}),
    )
    language = forms.ChoiceField(label=_("Language of the report"), choices=settings.LANGUAGES)
    recipients = forms.CharField(
        label=_("Recipients"),
        required=False,
        help_text=_("E-mail addresses, separated by commas or new lines; empty: your own address."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    skip_if_empty = forms.BooleanField(label=_("Skip if empty"), required=False, initial=True)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, data=None, *, user, subscription=None, **kwargs):
        initial = kwargs.pop("initial", {}) or {}
        if subscription is not None:
            initial = {
                "name": subscription.name,
                "schedule": subscription.schedule,
                "cron": subscription.cron,
                "language": subscription.language,
                "recipients": "\n".join(subscription.recipients or []),
                "skip_if_empty": subscription.skip_if_empty,
                "active": subscription.active,
                **(subscription.scope or {}),
            }
        else:
            initial = {
                "schedule": Schedule.MONTHLY,
                "language": current_language(),
                "skip_if_empty": True,
                "active": True,
                **initial,
            }
        super().__init__(data, initial=initial, **kwargs)
        _scope_fields(self, user)
        self.fields["schedule"].widget.attrs["class"] = "form-check-input"
        self.fields["cron"].widget.attrs["class"] = "form-control font-monospace"

    def save_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "schedule": data["schedule"],
            "cron": data.get("cron") or "",
            "scope": {dim: data[dim] for dim in FILTER_DIMS if data.get(dim)},
            "language": data["language"],
            "recipients": data.get("recipients") or "",
            "skip_if_empty": data.get("skip_if_empty", False),
            "active": data.get("active", False),
        }
