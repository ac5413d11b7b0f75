"""Improvement issues, causes and actions over the API. Thin: parse, call one selector
or service, render. Reading: whoever the selectors let see an issue (global readers,
owners, team members, action owners; out of scope: 404). Working an issue (moves,
analysis, actions): quality engineers, committee members, admins (403 otherwise); an
action's owner may set its status. Domain refusals: 400 / 409 with {"detail", "errors"}."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from catalog.api.pagination import choice_params

from .. import selectors, services
from ..models import Action, Cause, ImprovementIssue, Severity, State
from .serializers import (
    ImprovementActionCreateSerializer,
    ImprovementActionDueDateSerializer,
    ImprovementActionPatchSerializer,
    ImprovementActionSerializer,
    ImprovementActionStatusSerializer,
    ImprovementCauseCreateSerializer,
    ImprovementCausePatchSerializer,
    ImprovementCauseRecallSerializer,
    ImprovementCauseSerializer,
    ImprovementCauseVerifySerializer,
    ImprovementCauseWhysSerializer,
    ImprovementIssueCreateSerializer,
    ImprovementIssueDetailSerializer,
    ImprovementIssueEvidenceSerializer,
    ImprovementIssueFromAlertSerializer,
    ImprovementIssueFromRecordsSerializer,
    ImprovementIssuePatchSerializer,
    ImprovementIssueSerializer,
    ImprovementIssueTransitionSerializer,
    ImprovementReasonSerializer,
)

REFUSED = {
    400: OpenApiResponse(description="bad input: {detail, errors}"),
    404: OpenApiResponse(description="not found or out of scope"),
    409: OpenApiResponse(description="the step is refused in the current state"),
}


class ImprovementPermission(BasePermission):
    """Reading: readers of issues or owners of actions (the rows come from the selectors).
    Writing: the view's `owner_may` actions let an action's owner through to the object
    check; every other write needs the work permission."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not (user.has_perm(selectors.VIEW_PERM) or user.has_perm("improvements.view_action")):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        if getattr(view, "action", None) in getattr(view, "owner_may", ()):
            return True
        return selectors.issues_workable(user)


def _input(request, serializer_class, *, partial=False) -> dict:
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _bool(value) -> bool:
    return str(value or "").lower() in ("1", "true", "yes", "on")


class ImprovementIssueViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [ImprovementPermission]
    queryset = ImprovementIssue.objects.none()  # for the schema; rows come from the selectors
    filter_backends: list = []
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            params = self.request.query_params
            chosen = choice_params(self.request, {"state": State, "severity": Severity})
            state, severity = chosen["state"], chosen["severity"]
            return selectors.issue_list(
                user=self.request.user,
                state=state,
                severity=severity,
                owner=params.get("owner") or None,
                product_line=params.get("product_line") or None,
                q=(params.get("q") or "").strip()[:100] or None,
                mine=_bool(params.get("mine")),
            ).order_by("-created_at", "-id")
        return selectors.issues_annotated(selectors.issues_for_user(self.request.user)).select_related(
            "component", "supplier", "region", "failure_mode", "fishbone_set", "plan_approved_by"
        )

    def get_serializer_class(self):
        return ImprovementIssueSerializer if self.action == "list" else ImprovementIssueDetailSerializer

    def _detail(self, issue_id: int, code=status.HTTP_200_OK) -> Response:
        # Re-read through the annotations; a write by a worker never leaves their scope
        # (workers are global readers), so this cannot 404 after a successful write.
        issue = self.get_queryset().get(pk=issue_id)
        return Response(ImprovementIssueDetailSerializer(issue).data, status=code)

    @extend_schema(
        summary="Improvement issues the user sees",
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=State.values),
            OpenApiParameter("severity", OpenApiTypes.STR, enum=Severity.values),
            OpenApiParameter("owner", OpenApiTypes.STR, description="username"),
            OpenApiParameter("product_line", OpenApiTypes.STR, description="product line code"),
            OpenApiParameter("q", OpenApiTypes.STR, description="code, title or description contains"),
            OpenApiParameter("mine", OpenApiTypes.BOOL, description="owned by me or with an action of mine"),
        ],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Open an issue by hand (draft)",
        request=ImprovementIssueCreateSerializer,
        responses={201: ImprovementIssueDetailSerializer, **REFUSED},
    )
    def create(self, request, *args, **kwargs):
        issue = services.issue_create(actor=request.user, **_input(request, ImprovementIssueCreateSerializer))
        return self._detail(issue.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit the problem, its scope or baseline KPI",
        request=ImprovementIssuePatchSerializer,
        responses={200: ImprovementIssueDetailSerializer, **REFUSED},
    )
    def partial_update(self, request, *args, **kwargs):
        issue = self.get_object()
        data = dict(_input(request, ImprovementIssuePatchSerializer, partial=True))
        batches = data.pop("batches", None)
        services.issue_update(issue_id=issue.pk, actor=request.user, batches=batches, **data)
        return self._detail(issue.pk)

    @extend_schema(
        summary="Move the issue through the gate",
        request=ImprovementIssueTransitionSerializer,
        responses={200: ImprovementIssueDetailSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        issue = self.get_object()
        data = _input(request, ImprovementIssueTransitionSerializer)
        services.issue_transition(
            issue_id=issue.pk,
            to_state=data["state"],
            actor=request.user,
            reason=data["reason"],
            override_reason=data["override_reason"],
        )
        return self._detail(issue.pk)

    @extend_schema(
        summary="Reopen a closed, rejected or cancelled issue",
        request=ImprovementReasonSerializer,
        responses={200: ImprovementIssueDetailSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        issue = self.get_object()
        services.issue_reopen(
            issue_id=issue.pk, actor=request.user, reason=_input(request, ImprovementReasonSerializer)["reason"]
        )
        return self._detail(issue.pk)

    @extend_schema(
        summary="Link more evidence (record ids)",
        request=ImprovementIssueEvidenceSerializer,
        responses={200: ImprovementIssueDetailSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def evidence(self, request, pk=None):
        issue = self.get_object()
        services.issue_evidence_link(
            issue_id=issue.pk, actor=request.user, **_input(request, ImprovementIssueEvidenceSerializer)
        )
        return self._detail(issue.pk)

    @extend_schema(
        summary="Add a cause on a bone of the fishbone",
        request=ImprovementCauseCreateSerializer,
        responses={201: ImprovementCauseSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def causes(self, request, pk=None):
        issue = self.get_object()
        cause = services.cause_add(
            issue_id=issue.pk, actor=request.user, **_input(request, ImprovementCauseCreateSerializer)
        )
        return Response(ImprovementCauseSerializer(_cause_row(cause.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Open an issue from an alert (its member gives the scope)",
        request=ImprovementIssueFromAlertSerializer,
        responses={201: ImprovementIssueDetailSerializer, **REFUSED},
    )
    @action(detail=False, methods=["post"], url_path="from-alert")
    def from_alert(self, request):
        from quality.alert_access import alerts_queryset

        data = _input(request, ImprovementIssueFromAlertSerializer)
        if not alerts_queryset(user=request.user).filter(pk=data["alert"]).exists():
            raise serializers.ValidationError({"alert": ["not found"]})
        issue = services.issue_create_from_alert(alert_id=data["alert"], actor=request.user, title=data["title"])
        return self._detail(issue.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Open an issue from tickets and failures (ids)",
        request=ImprovementIssueFromRecordsSerializer,
        responses={201: ImprovementIssueDetailSerializer, **REFUSED},
    )
    @action(detail=False, methods=["post"], url_path="from-records")
    def from_records(self, request):
        data = _input(request, ImprovementIssueFromRecordsSerializer)
        issue = services.issue_create_from_records(
            actor=request.user,
            ticket_ids=data["tickets"],
            failure_ids=data["failures"],
            title=data["title"],
            severity=data["severity"],
        )
        return self._detail(issue.pk, status.HTTP_201_CREATED)


def _cause_row(pk: int) -> Cause:
    return Cause.objects.select_related("verified_by").prefetch_related("whys", "evidence_failures").get(pk=pk)


class CauseViewSet(viewsets.GenericViewSet):
    permission_classes = [ImprovementPermission]
    queryset = Cause.objects.none()
    serializer_class = ImprovementCauseSerializer
    filter_backends: list = []
    lookup_value_regex = "[^/]+"
    http_method_names = ["post", "put", "patch", "delete", "options"]

    def get_queryset(self):
        return Cause.objects.filter(issue__in=selectors.issues_for_user(self.request.user).values("pk"))

    def _cause(self, cause_id: int) -> Response:
        return Response(ImprovementCauseSerializer(_cause_row(cause_id)).data)

    @extend_schema(
        summary="Reword a cause or move it to another bone",
        request=ImprovementCausePatchSerializer,
        responses={200: ImprovementCauseSerializer, **REFUSED},
    )
    def partial_update(self, request, pk=None):
        cause = self.get_object()
        data = _input(request, ImprovementCausePatchSerializer, partial=True)
        services.cause_update(cause_id=cause.pk, actor=request.user, **data)
        return self._cause(cause.pk)

    @extend_schema(summary="Delete a cause", responses={204: None, **REFUSED})
    def destroy(self, request, pk=None):
        cause = self.get_object()
        services.cause_delete(cause_id=cause.pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Mark the cause verified with its evidence",
        request=ImprovementCauseVerifySerializer,
        responses={200: ImprovementCauseSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        cause = self.get_object()
        data = _input(request, ImprovementCauseVerifySerializer)
        services.cause_verify(
            cause_id=cause.pk, actor=request.user, evidence=data["evidence"], failure_ids=data["failure_ids"]
        )
        return self._cause(cause.pk)

    @extend_schema(
        summary="Withdraw the verification",
        request=ImprovementReasonSerializer,
        responses={200: ImprovementCauseSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def unverify(self, request, pk=None):
        cause = self.get_object()
        services.cause_unverify(
            cause_id=cause.pk, actor=request.user, reason=_input(request, ImprovementReasonSerializer)["reason"]
        )
        return self._cause(cause.pk)

    @extend_schema(
        summary="Replace the 5-why chain",
        request=ImprovementCauseWhysSerializer,
        responses={200: ImprovementCauseSerializer, **REFUSED},
    )
    @action(detail=True, methods=["put"])
    def whys(self, request, pk=None):
        cause = self.get_object()
        services.why_set(
            cause_id=cause.pk, actor=request.user, whys=_input(request, ImprovementCauseWhysSerializer)["whys"]
        )
        return self._cause(cause.pk)

    @extend_schema(
        summary="Launch a recall (draft) from a verified cause with the issue's batches",
        request=ImprovementCauseRecallSerializer,
        responses={201: OpenApiResponse(description="{code, url}"), **REFUSED},
    )
    @action(detail=True, methods=["post"])
    def recall(self, request, pk=None):
        cause = self.get_object()
        if not request.user.has_perm("quality.add_recall"):
            raise PermissionDenied()
        data = _input(request, ImprovementCauseRecallSerializer)
        recall = services.cause_recall_launch(cause_id=cause.pk, actor=request.user, **data)
        return Response({"code": recall.code, "url": f"/api/v1/recalls/{recall.code}/"}, status=status.HTTP_201_CREATED)


class ActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    permission_classes = [ImprovementPermission]
    queryset = Action.objects.none()
    serializer_class = ImprovementActionSerializer
    filter_backends: list = []
    lookup_value_regex = "[^/]+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    owner_may = ("status_set",)

    def get_queryset(self):
        params = self.request.query_params
        issue = params.get("issue")
        if issue is not None and not issue.isdigit():
            raise serializers.ValidationError({"issue": ["an issue id"]})
        return selectors.action_list(
            user=self.request.user,
            mine=_bool(params.get("mine")),
            overdue=_bool(params.get("overdue")),
            issue=int(issue) if issue else None,
        )

    def get_object(self):
        action_obj = super().get_object()
        writing = self.request.method not in ("GET", "HEAD", "OPTIONS")
        if writing and not selectors.action_editable_by(action_obj, self.request.user):
            raise PermissionDenied()
        return action_obj

    def _action(self, action_id: int, code=status.HTTP_200_OK) -> Response:
        return Response(
            ImprovementActionSerializer(Action.objects.select_related("issue", "owner").get(pk=action_id)).data,
            status=code,
        )

    @extend_schema(
        summary="Actions the user sees",
        parameters=[
            OpenApiParameter("mine", OpenApiTypes.BOOL),
            OpenApiParameter(
                "overdue", OpenApiTypes.BOOL, description="open or in progress, past the current due date"
            ),
            OpenApiParameter("issue", OpenApiTypes.INT),
        ],
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Add an action to an issue",
        request=ImprovementActionCreateSerializer,
        responses={201: ImprovementActionSerializer, **REFUSED},
    )
    def create(self, request, *args, **kwargs):
        data = dict(_input(request, ImprovementActionCreateSerializer))
        issue_id = data.pop("issue")
        if not selectors.issues_for_user(request.user).filter(pk=issue_id).exists():
            raise serializers.ValidationError({"issue": ["not found"]})
        cause_id = data.pop("cause")
        action_obj = services.action_create(issue_id=issue_id, actor=request.user, cause_id=cause_id, **data)
        return self._action(action_obj.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an action's title, description or owner",
        request=ImprovementActionPatchSerializer,
        responses={200: ImprovementActionSerializer, **REFUSED},
    )
    def partial_update(self, request, pk=None):
        action_obj = self.get_object()
        if not selectors.issues_workable(request.user):
            raise PermissionDenied()
        services.action_update(
            action_id=action_obj.pk,
            actor=request.user,
            **_input(request, ImprovementActionPatchSerializer, partial=True),
        )
        return self._action(action_obj.pk)

    @extend_schema(
        summary="Move the current due date (the original stays)",
        request=ImprovementActionDueDateSerializer,
        responses={200: ImprovementActionSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"], url_path="due-date")
    def due_date(self, request, pk=None):
        action_obj = self.get_object()
        services.action_due_change(
            action_id=action_obj.pk, actor=request.user, **_input(request, ImprovementActionDueDateSerializer)
        )
        return self._action(action_obj.pk)

    @extend_schema(
        summary="Set the status (done needs completion evidence)",
        request=ImprovementActionStatusSerializer,
        responses={200: ImprovementActionSerializer, **REFUSED},
    )
    @action(detail=True, methods=["post"], url_path="status")
    def status_set(self, request, pk=None):
        action_obj = self.get_object()
        services.action_status_set(
            action_id=action_obj.pk, actor=request.user, **_input(request, ImprovementActionStatusSerializer)
        )
        return self._action(action_obj.pk)
