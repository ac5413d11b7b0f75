"""Reports over the API: request a report (202, generated in Celery), read the archive
(scoped: one's own; managers and admins all), download a finished PDF (409 before),
and manage one's subscriptions with their delivery log. Thin: parse, call one service
or selector, render."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from catalog.api.pagination import PageSizePagination
from catalog.api.permissions import RoleModelPermissions
from catalog.exceptions import ConflictError

from .. import selectors, services
from ..views import report_download_name
from .serializers import (
    GeneratedReportSerializer,
    ReportRequestSerializer,
    ReportSubscriptionSerializer,
    SubscriptionDeliverySerializer,
)

REFUSED = {
    400: OpenApiResponse(description="bad input: {detail, errors}"),
    404: OpenApiResponse(description="not found or out of scope"),
}


class ReportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    permission_classes = [RoleModelPermissions]
    serializer_class = GeneratedReportSerializer
    pagination_class = PageSizePagination
    filter_backends: list = []

    def get_queryset(self):
        return selectors.report_list(user=self.request.user)

    @extend_schema(
        summary="Request a report",
        request=ReportRequestSerializer,
        responses={202: GeneratedReportSerializer, **REFUSED},
    )
    def create(self, request, *args, **kwargs):
        body = ReportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = services.report_request(user=request.user, **body.validated_data)
        return Response(GeneratedReportSerializer(report).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Download the PDF of a finished report",
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            404: REFUSED[404],
            409: OpenApiResponse(description="the report is not done (queued, running or failed)"),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        report = self.get_object()
        if not selectors.report_downloadable(report):
            raise ConflictError("The report is not ready.", errors={"status": [f"the report is {report.status}"]})
        try:
            handle = report.file.open("rb")
        except (FileNotFoundError, OSError):
            raise NotFound("The report file is missing.") from None
        return FileResponse(
            handle, as_attachment=True, filename=report_download_name(report), content_type="application/pdf"
        )


class ReportSubscriptionViewSet(viewsets.ModelViewSet):
    """One's own subscriptions (weekly, monthly or cron), each with its beat task."""

    permission_classes = [RoleModelPermissions]
    serializer_class = ReportSubscriptionSerializer
    pagination_class = PageSizePagination
    filter_backends: list = []
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.subscriptions_for_user(self.request.user)

    def _save(self, serializer, subscription=None):
        data = serializer.validated_data
        if subscription is not None:
            # A partial update keeps what it does not name.
            current = ReportSubscriptionSerializer(subscription).data
            data = {
                **{k: current[k] for k in serializer.fields if k in current and not serializer.fields[k].read_only},
                **data,
            }
        saved = services.subscription_save(
            owner=self.request.user,
            subscription=subscription,
            name=data.get("name", ""),
            kind=data.get("kind", "quality"),
            schedule=data.get("schedule", ""),
            cron=data.get("cron", ""),
            scope=data.get("scope") or {},
            language=data.get("language", "en"),
            recipients=data.get("recipients") or [],
            skip_if_empty=data.get("skip_if_empty", True),
            active=data.get("active", True),
        )
        return saved

    @extend_schema(responses={201: ReportSubscriptionSerializer, **REFUSED})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = self._save(serializer)
        return Response(ReportSubscriptionSerializer(saved).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ReportSubscriptionSerializer, **REFUSED})
    def update(self, request, *args, **kwargs):
        subscription = self.get_object()
        serializer = self.get_serializer(subscription, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        saved = self._save(serializer, subscription)
        return Response(ReportSubscriptionSerializer(saved).data)

    def perform_destroy(self, instance):
        services.subscription_delete(subscription=instance)

    @extend_schema(
        summary="The delivery log of a subscription", responses={200: SubscriptionDeliverySerializer(many=True)}
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        subscription = self.get_object()
        page = self.paginate_queryset(selectors.subscription_deliveries(subscription, limit=None))
        return self.get_paginated_response(SubscriptionDeliverySerializer(page, many=True).data)
