"""Reliability analytics pages (/analysis/): thin shells. A scope form reads the query
string (so a view is a shareable URL); the charts and tables are drawn by
static/js/analysis.js from the analysis API (quality/api/analysis.py) with the same
parameters, so a number on a page is the API's number. Global-read roles only (the
analyses read whole unit populations, which are not team records)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from catalog.models import Batch, Component, ProductLine, ProductModel
from catalog.roles import user_has_global_read
from tickets.forms import BootstrapMixin

PAGES = (
    ("index", "bi-compass", gettext_lazy("Overview")),
    ("weibull", "bi-graph-up", gettext_lazy("Weibull")),
    ("nevada", "bi-grid-3x3", gettext_lazy("Nevada chart")),
    ("claims", "bi-activity", gettext_lazy("Claims per 1000")),
    ("forecast", "bi-calendar-range", gettext_lazy("Forecast")),
    ("pareto", "bi-bar-chart-steps", gettext_lazy("Pareto")),
)


class ScopeForm(BootstrapMixin, forms.Form):
    product_line = forms.ChoiceField(label=gettext_lazy("Product line"), required=False)
    product_model = forms.ChoiceField(label=gettext_lazy("Product model"), required=False)
    batch = forms.ChoiceField(label=gettext_lazy("Batch"), required=False)
    component = forms.ChoiceField(label=gettext_lazy("Component"), required=False)
    as_of = forms.DateField(label=gettext_lazy("As of"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        every = [("", _("All"))]
        self.fields["product_line"].choices = every + list(ProductLine.objects.values_list("code", "name"))
        self.fields["product_model"].choices = every + [
            (code, f"{code} · {name}") for code, name in ProductModel.objects.values_list("code", "name")
        ]
        self.fields["batch"].choices = every + [
            (code, f"{code} ({model})")
            for code, model in Batch.objects.order_by("product_model__code", "code").values_list(
                "code", "product_model__code"
            )
        ]
        self.fields["component"].choices = every + [
            (code, f"{code} · {name}") for code, name in Component.objects.values_list("code", "name")
        ]

    def params(self) -> dict[str, str]:
        """The cleaned scope as query parameters for the API (invalid values dropped)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        params = {k: v for k, v in data.items() if k != "as_of" and v}
        params["as_of"] = (data.get("as_of") or timezone.localdate()).isoformat()
        return params


def _labels() -> dict[str, str]:
    return {
        "loading": _("Loading…"),
        "error": _("The analysis could not be computed."),
        "noData": _("Not enough data in this scope."),
        "failures": _("Failures"),
        "suspensions": _("Suspensions"),
        "units": _("Units"),
        "method": _("Method"),
        "beta": _("β (shape)"),
        "eta": _("η (scale, months)"),
        "b10": _("B10 life (months)"),
        "bounds": _("90% bounds"),
        "medianRanks": _("Median ranks (Benard)"),
        "fitted": _("Fitted line"),
        "xAxis": _("ln(months in service)"),
        "yAxis": _("ln(−ln(1 − F))"),
        "unreliability": _("Unreliability F"),
        "batch": _("Batch"),
        "producedOn": _("Produced on"),
        "unitsSold": _("Units sold"),
        "per1000": _("Failures per 1000"),
        "standsOut": _("Stands out"),
        "standsOutHint": _("B10 bounds below those of the model's other batches"),
        "shapeDiffers": _("Shape differs"),
        "others": _("Other batches"),
        "wholeModel": _("Whole model"),
        "saleMonth": _("Sale month"),
        "productionMonth": _("Production month"),
        "mis": _("Months in service"),
        "total": _("Total"),
        "naive": _("Naive (claims ÷ units sold)"),
        "km": _("Kaplan-Meier (censored)"),
        "kmBand": _("Kaplan-Meier limits (95%)"),
        "claimsPer1000": _("Cumulative claims per 1000 units"),
        "months": _("Months"),
        "expected": _("Expected failures"),
        "nextMonths": _("Next %(n)s months"),
        "inService": _("Units in service"),
        "failureMode": _("Failure mode"),
        "share": _("Share %"),
        "cumulative": _("Cumulative %"),
        "partsCost": _("Parts cost"),
        "mle": _("MLE"),
        "rrx": _("RRX"),
        "rry": _("RRY"),
        "notFitted": _("not fitted"),
        "excluded": _("units left out (failure dated before the sale)"),
    }


def _page(request, name: str, *, extra: dict | None = None):
    if not user_has_global_read(request.user):
        raise PermissionDenied
    form = ScopeForm(request.GET or None)
    params = {**form.params(), **(extra or {})}
    api = {
        "weibull": reverse("analysis-scope-weibull"),
        "batches": reverse("analysis-batches"),
        "nevada": reverse("analysis-nevada"),
        "claims": reverse("analysis-claims"),
        "forecast": reverse("analysis-forecast"),
        "pareto": reverse("analysis-pareto"),
    }
    config = {"page": name, "params": params, "api": api, "labels": _labels(), "lang": request.LANGUAGE_CODE}
    query = urlencode(form.params())
    pages = [
        (key, icon, label, reverse(f"analysis:{key}") + (f"?{query}" if query else "")) for key, icon, label in PAGES
    ]
    context = {"form": form, "config": config, "pages": pages, "active": name, **(extra or {})}
    return render(request, f"quality/analysis/{name}.html", context)


@login_required
@require_GET
def index(request):
    return _page(request, "index")


@login_required
@require_GET
def weibull(request):
    return _page(request, "weibull")


@login_required
@require_GET
def nevada(request):
    basis = request.GET.get("basis") if request.GET.get("basis") in ("sale", "production") else "sale"
    count = request.GET.get("count") if request.GET.get("count") in ("all", "first") else "all"
    return _page(request, "nevada", extra={"basis": basis, "count": count})


@login_required
@require_GET
def claims(request):
    return _page(request, "claims")


@login_required
@require_GET
def forecast(request):
    return _page(request, "forecast")


@login_required
@require_GET
def pareto(request):
    return _page(request, "pareto")
