"""The KPI endpoints of INTERFACES.md: catalogue, values, drill-through records, and
the overview the dashboards draw. Thin: parse the query, call one selector."""

import datetime as dt

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination
from catalog.api.views import ExportNegotiation
from catalog.exports import export_response
from catalog.throttles import ExportThrottle

from .. import selectors
from ..kpi.engine import KpiUsageError
from ..kpi.periods import GRAINS
from ..kpi.registry import DIMENSIONS, RECORD_LINKS, Kpi
from .serializers import KpiSerializer

_DIM_PARAMS = [
    OpenApiParameter(dim, OpenApiTypes.STR, description=f"keep only this member of {dim} ('(none)': no value)")
    for dim in DIMENSIONS
]
_RANGE_PARAMS = [
    OpenApiParameter("grain", OpenApiTypes.STR, enum=list(GRAINS), required=True),
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="first day (local)"),
    OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="exclusive"),
]


def _date(params, name: str, *, required: bool = True) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        if not required:
            return None
        message = _("%(name)s is required (YYYY-MM-DD).") % {"name": name}
        raise KpiUsageError(message, errors={name: [message]})
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        message = _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw[:40]}
        raise KpiUsageError(message, errors={name: [message]}) from None


def _grain(params) -> str:
    grain = (params.get("grain") or "").strip()
    if grain not in GRAINS:
        message = _("grain must be one of %(grains)s.") % {"grains": ", ".join(GRAINS)}
        raise KpiUsageError(message, errors={"grain": [message]})
    return grain


def _filters(params) -> dict[str, str]:
    return {dim: params[dim] for dim in DIMENSIONS if params.get(dim) not in (None, "")}


def _by(params) -> list[str]:
    return [d.strip() for d in (params.get("by") or "").split(",") if d.strip()]


class KpiCatalogueView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="The KPI catalogue (指标口径)", responses=KpiSerializer(many=True))
    def get(self, request):
        kpis = selectors.kpi_catalogue(user=request.user)
        return Response(KpiSerializer(kpis, many=True).data)


class KpiDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="One KPI definition", responses=KpiSerializer)
    def get(self, request, code: str):
        return Response(KpiSerializer(selectors.kpi_get(user=request.user, code=code)).data)


class KpiValuesView(APIView):
    permission_classes = [IsAuthenticated]

    def values(self, request, code: str) -> tuple[Kpi, dict]:
        kpi = selectors.kpi_get(user=request.user, code=code)
        params = request.query_params
        return kpi, selectors.kpi_values(
            user=request.user,
            kpi=kpi,
            grain=_grain(params),
            start=_date(params, "start"),
            end=_date(params, "end"),
            by=_by(params),
            filters=_filters(params),
        )

    @extend_schema(
        summary="Values of one KPI (the body of `kpi --json`)",
        parameters=[
            *_RANGE_PARAMS,
            OpenApiParameter("by", OpenApiTypes.STR, description="dimensions, comma-separated"),
            *_DIM_PARAMS,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, code: str):
        return Response(self.values(request, code)[1])


class KpiValuesExportView(KpiValuesView):
    content_negotiation_class = ExportNegotiation
    throttle_classes = [ExportThrottle]

    @extend_schema(
        summary="Values of one KPI as CSV or XLSX",
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "xlsx"], required=True),
            *_RANGE_PARAMS,
            OpenApiParameter("by", OpenApiTypes.STR),
            *_DIM_PARAMS,
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            429: OpenApiResponse(description="more exports than EXPORT_RATE allows; see Retry-After"),
        },
    )
    def get(self, request, code: str):
        kpi, body = self.values(request, code)
        by = body["by"]
        headers = ["period_start", *by, "value", "numerator", "denominator", "target", "status", "provisional"]
        rows = ([row.get(h) for h in headers] for row in body["rows"])
        filename = f"{kpi.code}_{body['grain']}_{body['start']}_{body['end']}"
        fmt = request.query_params.get("format", "")
        return export_response(filename=filename, fmt=fmt, headers=headers, rows=rows)


class KpiRecordsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Drill-through: the records behind one value",
        parameters=[
            OpenApiParameter("grain", OpenApiTypes.STR, enum=list(GRAINS), required=True),
            OpenApiParameter("period_start", OpenApiTypes.DATE, required=True),
            OpenApiParameter("side", OpenApiTypes.STR, enum=["numerator", "denominator"]),
            OpenApiParameter("start", OpenApiTypes.DATE, description="cut the period (the request's range)"),
            OpenApiParameter("end", OpenApiTypes.DATE),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
            *_DIM_PARAMS,
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, code: str):
        kpi = selectors.kpi_get(user=request.user, code=code)
        params = request.query_params
        side = params.get("side") or ("numerator" if kpi.denominator is None else "denominator")
        model, fields, qs = selectors.kpi_record_page(
            user=request.user,
            kpi=kpi,
            side=side,
            grain=_grain(params),
            period_start=_date(params, "period_start"),
            start=_date(params, "start", required=False),
            end=_date(params, "end", required=False),
            filters=_filters(params),
        )
        paginator = PageSizePagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        link = RECORD_LINKS.get(model)
        results = []
        for row in page:
            record = {name: row[path] for name, path in fields.items()}
            record["url"] = link(record) if link else None
            results.append(record)
        response = paginator.get_paginated_response(results)
        response.data.update({"model": model, "side": side, "fields": list(fields)})
        return response


class KpiOverviewView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Overview cards: every KPI's last period, the change and a sparkline",
        parameters=[*_RANGE_PARAMS, *_DIM_PARAMS],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        return Response(
            selectors.kpi_overview(
                user=request.user,
                grain=_grain(params),
                start=_date(params, "start"),
                end=_date(params, "end"),
                filters=_filters(params),
            )
        )
