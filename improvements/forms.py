"""Forms of the improvement pages. They only parse input (codes and numbers to rows);
the services decide, and their ApplicationError.errors go back on the fields."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from catalog.models import Batch, Component, ProductLine, ProductModel, Region, Supplier
from quality.kpi.registry import kpi_registry
from quality.models import Failure, FailureMode
from tickets.forms import BootstrapMixin, person_label
from tickets.models import Team, Ticket

from .models import ActionKind, ActionStatus, Severity, Source

MAX_WHYS = 5


def split_codes(raw: str) -> list[str]:
    """ "A, B  C" -> ["A", "B", "C"] (commas, semicolons, spaces or new lines)."""
    return [part for part in re.split(r"[\s,;]+", raw or "") if part]


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return person_label(obj)


def _users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class RecordsMixin:
    """Ticket numbers and failure ids typed as text, resolved to row ids."""

    def _resolve(self, name: str, model, field: str) -> list[int]:
        codes = split_codes(self.cleaned_data.get(name, ""))
        if not codes:
            return []
        found = dict(model.objects.filter(**{f"{field}__in": codes}).values_list(field, "pk"))
        missing = [code for code in codes if code not in found]
        if missing:
            self.add_error(name, _("Not found: %(codes)s.") % {"codes": ", ".join(missing[:10])})
        return [found[code] for code in codes if code in found]

    def record_ids(self) -> dict[str, list[int]]:
        return {
            "tickets": self._resolve("tickets", Ticket, "external_id"),
            "failures": self._resolve("failures", Failure, "external_id"),
        }

    def add_application_error(self, error) -> None:
        """A service's refusal: reasons on their fields, the message on top."""
        self.add_error(None, error.message)
        for name, reasons in (error.errors or {}).items():
            for reason in reasons if isinstance(reasons, list | tuple) else [reasons]:
                if name in self.fields:
                    self.add_error(name, str(reason))


class IssueForm(RecordsMixin, BootstrapMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=255)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.MANUAL)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial=Severity.MAJOR)
    owner = UserChoiceField(label=_("Owner"), queryset=_users(), required=False, empty_label=_("— me —"))
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.order_by("name"), required=False)
    product_line = forms.ModelChoiceField(
        label=_("Product line"), queryset=ProductLine.objects.order_by("code"), required=False
    )
    product_model = forms.ModelChoiceField(
        label=_("Product model"), queryset=ProductModel.objects.order_by("code"), required=False
    )
    batches = forms.CharField(
        label=_("Batches"), required=False, help_text=_("Batch codes, separated by commas or spaces.")
    )
    component = forms.ModelChoiceField(
        label=_("Component"), queryset=Component.objects.order_by("code"), required=False
    )
    supplier = forms.ModelChoiceField(label=_("Supplier"), queryset=Supplier.objects.order_by("code"), required=False)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.order_by("name"), required=False)
    failure_mode = forms.ModelChoiceField(
        label=_("Failure mode"), queryset=FailureMode.objects.order_by("code"), required=False
    )
    tickets = forms.CharField(
        label=_("Tickets"), required=False, help_text=_("Ticket numbers, separated by commas or spaces.")
    )
    failures = forms.CharField(
        label=_("Failures"), required=False, help_text=_("Failure ids, separated by commas or spaces.")
    )
    baseline_kpi = forms.ChoiceField(label=_("Baseline KPI"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kpis = sorted(kpi_registry().values(), key=lambda k: str(k.name))
        self.fields["baseline_kpi"].choices = [("", "—"), *((k.code, f"{k.name} ({k.code})") for k in kpis)]

    def batch_rows(self) -> list[Batch]:
        codes = split_codes(self.cleaned_data.get("batches", ""))
        found = {b.code: b for b in Batch.objects.filter(code__in=codes)}
        missing = [code for code in codes if code not in found]
        if missing:
            self.add_error("batches", _("Not found: %(codes)s.") % {"codes": ", ".join(missing[:10])})
        return [found[code] for code in codes if code in found]

    def service_kwargs(self) -> dict | None:
        """The issue_create arguments, or None when a code did not resolve."""
        data = self.cleaned_data
        batches = self.batch_rows()
        records = self.record_ids()
        if self.errors:
            return None
        return {
            "title": data["title"],
            "description": data["description"],
            "source": data["source"],
            "severity": data["severity"],
            "owner": data["owner"],
            "team": data["team"],
            "product_line": data["product_line"],
            "product_model": data["product_model"],
            "batches": batches,
            "component": data["component"],
            "supplier": data["supplier"],
            "region": data["region"],
            "failure_mode": data["failure_mode"],
            "baseline_kpi": data["baseline_kpi"],
            **records,
        }


class IssueEditForm(IssueForm):
    """The problem's editable fields (issue_update's): the create form without the source
    and the evidence (linked separately), prefilled from the issue."""

    def __init__(self, *args, issue, **kwargs):
        kwargs.setdefault("initial", self.initial_of(issue))
        super().__init__(*args, **kwargs)
        for name in ("source", "tickets", "failures"):
            del self.fields[name]
        self.fields["owner"].empty_label = _("— nobody —")
        self.issue = issue

    @staticmethod
    def initial_of(issue) -> dict:
        return {
            "title": issue.title,
            "description": issue.description,
            "severity": issue.severity,
            "owner": issue.owner_id,
            "team": issue.team_id,
            "product_line": issue.product_line_id,
            "product_model": issue.product_model_id,
            "batches": ", ".join(issue.batches.order_by("code").values_list("code", flat=True)),
            "component": issue.component_id,
            "supplier": issue.supplier_id,
            "region": issue.region_id,
            "failure_mode": issue.failure_mode_id,
            "baseline_kpi": issue.baseline_kpi,
        }

    def service_kwargs(self) -> dict | None:
        """The issue_update arguments, or None when a batch code did not resolve; the
        batches only when they change (the service logs them as a change otherwise)."""
        data = self.cleaned_data
        batches = self.batch_rows()
        if self.errors:
            return None
        kwargs = {
            name: data[name]
            for name in (
                "title",
                "description",
                "severity",
                "owner",
                "team",
                "product_line",
                "product_model",
                "component",
                "supplier",
                "region",
                "failure_mode",
                "baseline_kpi",
            )
        }
        current = set(self.issue.batches.values_list("pk", flat=True))
        if {batch.pk for batch in batches} != current:
            kwargs["batches"] = batches
        return kwargs


class RecordsForm(RecordsMixin, BootstrapMixin, forms.Form):
    """An issue from a selection of tickets and failures."""

    tickets = forms.CharField(label=_("Tickets"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    failures = forms.CharField(label=_("Failures"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    title = forms.CharField(label=_("Title"), max_length=255, required=False)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial=Severity.MAJOR)


class EvidenceForm(RecordsMixin, BootstrapMixin, forms.Form):
    tickets = forms.CharField(label=_("Tickets"), required=False)
    failures = forms.CharField(label=_("Failures"), required=False)


class BoardFilterForm(BootstrapMixin, forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), required=False, choices=[("", _("All")), *Severity.choices])
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    product_line = forms.ChoiceField(label=_("Product line"), required=False)
    mine = forms.BooleanField(label=_("Mine"), required=False)

    def __init__(self, *args, owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("All")), *((u.username, person_label(u)) for u in owners)]
        self.fields["product_line"].choices = [
            ("", _("All")),
            *ProductLine.objects.order_by("code").values_list("code", "name"),
        ]

    def values(self) -> dict:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "severity": data.get("severity") or None,
            "owner": data.get("owner") or None,
            "product_line": data.get("product_line") or None,
            "mine": bool(data.get("mine")),
        }


class CauseForm(BootstrapMixin, forms.Form):
    category = forms.CharField(label=_("Category"), max_length=32)
    description = forms.CharField(label=_("Cause"), widget=forms.Textarea(attrs={"rows": 2}))


class CauseVerifyForm(BootstrapMixin, forms.Form):
    evidence = forms.CharField(label=_("Evidence"), widget=forms.Textarea(attrs={"rows": 2}))
    failures = forms.CharField(label=_("Failures"), required=False)

    def failure_ids(self) -> list[int]:
        codes = split_codes(self.cleaned_data.get("failures", ""))
        found = dict(Failure.objects.filter(external_id__in=codes).values_list("external_id", "pk"))
        missing = [code for code in codes if code not in found]
        if missing:
            self.add_error("failures", _("Not found: %(codes)s.") % {"codes": ", ".join(missing[:10])})
        return [found[code] for code in codes if code in found]


class WhysForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for position in range(1, MAX_WHYS + 1):
            self.fields[f"why_{position}"] = forms.CharField(required=False, max_length=2000)

    def whys(self) -> list[str]:
        answers = [(self.cleaned_data.get(f"why_{p}") or "").strip() for p in range(1, MAX_WHYS + 1)]
        # Trailing blanks end the chain; a blank in the middle is the service's to refuse.
        while answers and not answers[-1]:
            answers.pop()
        return answers


class ActionForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ActionKind.choices, initial=ActionKind.CORRECTIVE)
    title = forms.CharField(label=_("Title"), max_length=255)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner = UserChoiceField(label=_("Owner"), queryset=_users())
    due_on = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))
    cause = forms.TypedChoiceField(label=_("Cause"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, causes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cause"].choices = [("", "—"), *((c.pk, c.description[:60]) for c in causes)]


class DueChangeForm(BootstrapMixin, forms.Form):
    due_on = forms.DateField(label=_("New due date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), max_length=2000)


class ActionStatusForm(BootstrapMixin, forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ActionStatus.choices)
    evidence = forms.CharField(label=_("Evidence"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    completed_on = forms.DateField(
        label=_("Completed on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class TransitionForm(forms.Form):
    state = forms.CharField(max_length=32)
    reason = forms.CharField(required=False, max_length=4000)
    override_reason = forms.CharField(required=False, max_length=4000)


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=4000)
