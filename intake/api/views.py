"""Bulk import endpoints and the import history: thin; parse, call one service or
selector, render. The import runs synchronously (at most MAX_ROWS rows per call)."""

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from intake import selectors, services
from intake.models import ENTITY_CHOICES, ENTITY_ORDER, ImportMode, ImportRun, ImportSource, ImportStatus

from .serializers import (
    DETAIL_ERRORS,
    MAX_ROWS,
    DataQualityQuerySerializer,
    DataQualityReportSerializer,
    ImportQuerySerializer,
    ImportRejectedSerializer,
    ImportResultSerializer,
    ImportRowsSerializer,
    ImportRunDetailSerializer,
    ImportRunSerializer,
)

# A JSON body this large cannot be 10,000 rows of the template; refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024 * 1024

ROWS_SCHEMA = {
    "type": "array",
    "maxItems": MAX_ROWS,
    "minItems": 1,
    "items": {
        "type": "object",
        "additionalProperties": {
            "nullable": True,
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}],
        },
        "description": "One row: the entity's template columns (DATA_CONTRACT.md) -> cell value.",
    },
}


class ImportRunFilter(django_filters.FilterSet):
    entity = django_filters.ChoiceFilter(choices=ENTITY_CHOICES)
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices)
    source = django_filters.ChoiceFilter(choices=ImportSource.choices)

    class Meta:
        model = ImportRun
        fields = ["entity", "status", "source", "dry_run"]


class ImportRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The import history (every source: command, upload page, API), newest first."""

    serializer_class = ImportRunSerializer
    filterset_class = ImportRunFilter
    ordering_fields = ["started_at", "rows", "rejected"]
    queryset = ImportRun.objects.none()  # for the schema and permissions; rows come from the selector
    lookup_value_regex = "[0-9]+"  # an entity name in the same place is the bulk import (POST)

    def get_queryset(self):
        return selectors.import_run_list()

    @extend_schema(summary="Import history", responses={200: ImportRunSerializer(many=True)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One import run with its rejected rows",
        description=f"The first {DETAIL_ERRORS:,} rejected rows are listed; error_count says how many there are.",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: ImportRunDetailSerializer},
    )
    def retrieve(self, request, *args, **kwargs):
        run = self.get_object()
        context = {**self.get_serializer_context(), "errors": selectors.import_run_errors(run=run)}
        return Response(ImportRunDetailSerializer(run, context=context).data)


class ImportEntityView(APIView):
    """POST /imports/{entity}/: import a JSON array of rows of one entity."""

    queryset = ImportRun.objects.none()  # RoleModelPermissions: POST needs intake.add_importrun

    @extend_schema(
        operation_id="v1_imports_create",
        summary="Import rows of one entity",
        description=(
            "The body is a JSON array of at most 10,000 objects with the entity's template columns "
            "(DATA_CONTRACT.md). strict: one bad row rejects the call and nothing is written (400); "
            "lenient: good rows are written, bad rows reported (201). dry_run checks and writes nothing (200)."
        ),
        parameters=[
            OpenApiParameter("entity", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(ENTITY_ORDER)),
            OpenApiParameter("mode", OpenApiTypes.STR, enum=ImportMode.values, default=ImportMode.STRICT),
            OpenApiParameter("dry_run", OpenApiTypes.BOOL, default=False),
        ],
        request={"application/json": ROWS_SCHEMA},
        responses={
            201: OpenApiResponse(ImportResultSerializer, description="Written (lenient: possibly with rejected rows)."),
            200: OpenApiResponse(ImportResultSerializer, description="Dry run: checked, nothing written."),
            400: OpenApiResponse(
                ImportRejectedSerializer, description="Strict mode rejected the rows (or the input is malformed)."
            ),
            404: OpenApiResponse(description="Unknown entity."),
        },
    )
    def post(self, request, entity):
        if entity not in ENTITY_ORDER:
            raise NotFound(
                _("Unknown entity “%(entity)s”; one of: %(all)s.") % {"entity": entity, "all": ", ".join(ENTITY_ORDER)}
            )
        query = ImportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
            raise ValidationError(
                {
                    "rows": [
                        _("The request body is too large; send at most %(max)s rows per request.")
                        % {"max": f"{MAX_ROWS:,}"}
                    ]
                }
            )
        rows = ImportRowsSerializer(data={"rows": request.data})
        rows.is_valid(raise_exception=True)

        run = services.import_records(
            entity=entity,
            records=rows.validated_data["rows"],
            mode=query.validated_data["mode"],
            user=request.user,
            dry_run=query.validated_data["dry_run"],
            source=ImportSource.API,
        )
        summary = {**services.import_run_summary(run), "id": run.pk}
        rejected = run.status in (ImportStatus.REJECTED, ImportStatus.FAILED) or (
            run.mode == ImportMode.STRICT and run.rejected
        )
        if rejected:
            return Response(_rejection(run, summary), status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_200_OK if run.dry_run else status.HTTP_201_CREATED
        return Response(ImportResultSerializer(summary).data, status=code)


def _rejection(run: ImportRun, summary: dict) -> dict:
    """The API's error shape ({"detail", "errors": {column: [reasons]}}) plus the summary."""
    errors: dict[str, list[str]] = {}
    for error in summary["errors"][:DETAIL_ERRORS]:
        reason = error["reason"]
        if error["row"]:
            reason = _("row %(row)s: %(reason)s") % {"row": error["row"], "reason": reason}
        errors.setdefault(error["column"] or "non_field_errors", []).append(reason)
    if run.status == ImportStatus.FAILED:
        detail = _("The import failed; nothing was written.")
    elif run.dry_run:
        detail = _("Strict mode would reject these rows: %(count)s rejected.") % {"count": run.rejected}
    else:
        detail = _("Strict mode rejected the rows: %(count)s rejected, nothing was written.") % {"count": run.rejected}
    return {"detail": detail, "errors": errors, "summary": ImportResultSerializer(summary).data}


class DataQualityView(APIView):
    """GET /data-quality/: the data-quality report (intake.selectors.data_quality_report)."""

    queryset = ImportRun.objects.none()  # RoleModelPermissions: GET needs intake.view_importrun

    @extend_schema(
        operation_id="v1_data_quality_retrieve",
        summary="Data-quality report",
        description=(
            "Per entity: completeness of every contract column, validity and broken references of the "
            "window's imports per source, duplicate keys, freshness per source, rows written per day and "
            "a 0..100 score (50 % optional-column completeness + 30 % (100 - rejection rate) + 20 % "
            "freshness); plus probable duplicate customers."
        ),
        parameters=[
            OpenApiParameter("entity", OpenApiTypes.STR, enum=list(ENTITY_ORDER), description="Blank: every entity."),
            OpenApiParameter("window_days", OpenApiTypes.INT, default=30, description="1..366 days, today included."),
        ],
        responses={200: DataQualityReportSerializer},
    )
    def get(self, request):
        query = DataQualityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = selectors.data_quality_report(
            window_days=query.validated_data["window_days"], entity=query.validated_data.get("entity") or None
        )
        return Response(DataQualityReportSerializer(report).data)
