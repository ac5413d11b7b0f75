"""Reliability analyses over the API (INTERFACES.md): Weibull and Kaplan-Meier on
posted lifetimes, control charts on a posted series, and the scoped analyses of the
data (Weibull per scope, batch comparison, Nevada, claims per 1000, forecast, Pareto)
that the /analysis/ pages draw.

Posted fits need any staff role; the scoped analyses read whole unit populations, which
are not team records, so they are for the global-read roles (quality engineers,
committee members, managers, admins). Every refusal is a 400 {"detail", "errors"}."""

from __future__ import annotations

import datetime as dt
import math

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.exceptions import ApplicationError
from catalog.roles import user_has_global_read, user_roles

from .. import selectors
from ..analysis import reports
from ..analysis.control import CHARTS, EWMA_LIMITS, MAX_POINTS, chart_compute
from ..analysis.survival import kaplan_meier
from ..analysis.weibull import MAX_LIFETIMES, METHODS, weibull_fit


class HasStaffRole(BasePermission):
    def has_permission(self, request, view):
        return bool(user_roles(request.user))


class HasGlobalRead(BasePermission):
    def has_permission(self, request, view):
        return user_has_global_read(request.user)


def _refuse(field: str, message: str):
    raise ApplicationError(message, errors={field: [message]})


def _times(data: dict, field: str, *, required: bool) -> list[float]:
    if field not in data:
        if required:
            _refuse(field, _("This field is required."))
        return []
    raw = data[field]
    if not isinstance(raw, list):
        _refuse(field, _("Expected a list of numbers."))
    if len(raw) > MAX_LIFETIMES:
        _refuse(field, _("At most %(n)d times.") % {"n": MAX_LIFETIMES})
    values = []
    for i, item in enumerate(raw):
        # bool is an int in Python; a JSON true is not a time.
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            _refuse(field, _("Item %(i)d is not a number.") % {"i": i})
        value = float(item) if isinstance(item, float) or abs(item) < 1e300 else math.inf
        if not math.isfinite(value) or value <= 0:
            _refuse(field, _("Item %(i)d must be a finite number greater than 0.") % {"i": i})
        values.append(value)
    return values


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise ApplicationError(
            _("Expected a JSON object."), errors={"non_field_errors": [_("Expected a JSON object.")]}
        )
    return data


def _lifetimes(request) -> tuple[list[float], list[float]]:
    data = _body(request)
    failures = _times(data, "failures", required=True)
    suspensions = _times(data, "suspensions", required=False)
    if not failures:
        _refuse("failures", _("At least one failure time is needed."))
    return failures, suspensions


_TIMES = serializers.ListField(child=serializers.FloatField(min_value=0), help_text="times > 0, any unit")
WeibullRequest = inline_serializer(
    "WeibullRequest",
    {
        "failures": _TIMES,
        "suspensions": serializers.ListField(child=serializers.FloatField(), required=False),
        "method": serializers.ChoiceField(choices=list(METHODS), required=False, default="mle"),
    },
)
KaplanMeierRequest = inline_serializer(
    "KaplanMeierRequest",
    {"failures": _TIMES, "suspensions": serializers.ListField(child=serializers.FloatField(), required=False)},
)


class WeibullView(APIView):
    permission_classes = [IsAuthenticated, HasStaffRole]

    @extend_schema(
        summary="Weibull 2-parameter fit with suspensions (MLE, RRX, RRY with Benard's ranks)",
        request=WeibullRequest,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        failures, suspensions = _lifetimes(request)
        method = _body(request).get("method", "mle")
        if not isinstance(method, str) or method not in METHODS:
            _refuse("method", _("method must be one of %(methods)s.") % {"methods": ", ".join(METHODS)})
        fit = weibull_fit(failures=failures, suspensions=suspensions, method=method)
        return Response(fit.as_dict())


class KaplanMeierView(APIView):
    permission_classes = [IsAuthenticated, HasStaffRole]

    @extend_schema(
        summary="Kaplan-Meier survival with Greenwood 95 % limits",
        request=KaplanMeierRequest,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        failures, suspensions = _lifetimes(request)
        if len(failures) + len(suspensions) > MAX_LIFETIMES:
            _refuse("failures", _("At most %(n)d times in all.") % {"n": MAX_LIFETIMES})
        return Response({"points": kaplan_meier(failures=failures, suspensions=suspensions)})


ControlChartRequest = inline_serializer(
    "ControlChartRequest",
    {
        "chart": serializers.ChoiceField(choices=list(CHARTS)),
        "values": serializers.ListField(child=serializers.FloatField(), help_text=f"at most {MAX_POINTS} points"),
        "sizes": serializers.ListField(
            child=serializers.FloatField(min_value=0),
            required=False,
            help_text="subgroup sizes / exposures; needed by p, np, u, laney_p, laney_u, poisson",
        ),
        "params": serializers.DictField(
            required=False,
            help_text=(
                "L (limit width in sigmas, default 3); ewma: lambda, L, target, sigma, limits ("
                + " or ".join(EWMA_LIMITS)
                + "); cusum: k, h, target, sigma; poisson: rate, alpha, min_count"
            ),
        ),
    },
)


class ControlChartView(APIView):
    permission_classes = [IsAuthenticated, HasStaffRole]

    @extend_schema(
        summary="Control chart (p, np, c, u, XmR, EWMA, CUSUM, Laney p'/u', Poisson exceedance) of a posted series",
        request=ControlChartRequest,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request):
        data = _body(request)
        return Response(
            chart_compute(
                data.get("chart"), data.get("values"), sizes=data.get("sizes"), params=data.get("params"), strict=True
            )
        )


# Scoped analyses of the data

_SCOPE_PARAMS = [
    OpenApiParameter("product_line", OpenApiTypes.STR, description="product line code"),
    OpenApiParameter("product_model", OpenApiTypes.STR, description="product model code"),
    OpenApiParameter("batch", OpenApiTypes.STR, description="batch code"),
    OpenApiParameter("component", OpenApiTypes.STR, description="component code (its failures only)"),
    OpenApiParameter("as_of", OpenApiTypes.DATE, description="data as of the end of this day (default today)"),
]


def _date(params, name: str, *, default: dt.date | None = None) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        _refuse(name, _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw[:40]})
    if not 1900 <= value.year <= 2999:
        _refuse(name, _("The date must lie between 1900 and 2999."))
    return value


def _choice(params, name: str, choices: tuple[str, ...]) -> str:
    value = (params.get(name) or choices[0]).strip()
    if value not in choices:
        _refuse(name, _("%(name)s must be one of %(choices)s.") % {"name": name, "choices": ", ".join(choices)})
    return value


def _scope(params):
    return selectors.analysis_scope(
        product_line=params.get("product_line", ""),
        product_model=params.get("product_model", ""),
        batch=params.get("batch", ""),
        component=params.get("component", ""),
    )


def _as_of(params) -> dt.date:
    return _date(params, "as_of", default=timezone.localdate())


class _ScopedView(APIView):
    permission_classes = [IsAuthenticated, HasGlobalRead]


class ScopeWeibullView(_ScopedView):
    @extend_schema(
        summary="Weibull fits (MLE with bounds, RRX, RRY) of a scope's lifetimes in months",
        parameters=_SCOPE_PARAMS,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(reports.scope_weibull(scope=_scope(params), as_of=_as_of(params)))


class ScopeKaplanMeierView(_ScopedView):
    @extend_schema(
        summary="Kaplan-Meier of a scope's lifetimes", parameters=_SCOPE_PARAMS, responses=OpenApiTypes.OBJECT
    )
    def get(self, request):
        params = request.query_params
        return Response(reports.scope_kaplan_meier(scope=_scope(params), as_of=_as_of(params)))


class BatchComparisonView(_ScopedView):
    @extend_schema(
        summary="Weibull fit of each batch of a product model against its other batches",
        parameters=[
            OpenApiParameter("product_model", OpenApiTypes.STR, required=True),
            OpenApiParameter("as_of", OpenApiTypes.DATE),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        scope = _scope({"product_model": params.get("product_model", "")})
        if not scope.product_model:
            _refuse("product_model", _("Choose a product model."))
        return Response(reports.batch_comparison(product_model=scope.product_model, as_of=_as_of(params)))


class NevadaView(_ScopedView):
    @extend_schema(
        summary="Nevada chart: failures by sale (or production) month and months in service",
        parameters=[
            *_SCOPE_PARAMS,
            OpenApiParameter("basis", OpenApiTypes.STR, enum=["sale", "production"]),
            OpenApiParameter("count", OpenApiTypes.STR, enum=["all", "first"], description="all failures or first"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(
            reports.nevada_chart(
                scope=_scope(params),
                as_of=_as_of(params),
                basis=_choice(params, "basis", ("sale", "production")),
                count=_choice(params, "count", ("all", "first")),
            )
        )


class ClaimsView(_ScopedView):
    @extend_schema(
        summary="Cumulative claims per 1000 units by months in service: naive and Kaplan-Meier",
        parameters=_SCOPE_PARAMS,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(reports.claims_curve(scope=_scope(params), as_of=_as_of(params)))


class ForecastView(_ScopedView):
    @extend_schema(
        summary="Expected failures in the next 3, 6, 12 months among the units in service",
        parameters=_SCOPE_PARAMS,
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(reports.failure_forecast(scope=_scope(params), as_of=_as_of(params)))


class ParetoView(_ScopedView):
    @extend_schema(
        summary="Pareto of failure modes of a scope",
        parameters=[
            *_SCOPE_PARAMS,
            OpenApiParameter("start", OpenApiTypes.DATE, description="failures from this day"),
            OpenApiParameter("end", OpenApiTypes.DATE, description="exclusive"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(
            reports.failure_pareto(
                scope=_scope(params),
                as_of=_as_of(params),
                start=_date(params, "start"),
                end=_date(params, "end"),
            )
        )


urlpatterns = [
    path("analysis/weibull/", WeibullView.as_view(), name="analysis-weibull"),
    path("analysis/kaplan-meier/", KaplanMeierView.as_view(), name="analysis-kaplan-meier"),
    path("analysis/control-chart/", ControlChartView.as_view(), name="analysis-control-chart"),
    path("analysis/scope/weibull/", ScopeWeibullView.as_view(), name="analysis-scope-weibull"),
    path("analysis/scope/kaplan-meier/", ScopeKaplanMeierView.as_view(), name="analysis-scope-kaplan-meier"),
    path("analysis/scope/batches/", BatchComparisonView.as_view(), name="analysis-batches"),
    path("analysis/scope/nevada/", NevadaView.as_view(), name="analysis-nevada"),
    path("analysis/scope/claims/", ClaimsView.as_view(), name="analysis-claims"),
    path("analysis/scope/forecast/", ForecastView.as_view(), name="analysis-forecast"),
    path("analysis/scope/pareto/", ParetoView.as_view(), name="analysis-pareto"),
]
