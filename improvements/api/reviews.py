"""Committee reviews over the API (/api/v1/review-meetings/..., /api/v1/agenda-items/...).
Reading: committee members, quality engineers, managers, admins (others 403).
Preparing (create, build the agenda, add an item): committee members, quality
engineers, admins; deciding: committee members and admins. Thin: the services validate
(400 with the reasons by field, 409 for a step the state does not allow)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.urls import path
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination, choice_params, paginated

from .. import review_selectors as selectors
from .. import services
from ..minutes_pdf import meeting_minutes_pdf
from ..models import AgendaItem, AgendaKind, Decision, MeetingStatus, ReviewMeeting
from ..services.issues import is_committee
from ..services.reviews import can_prepare


class ReviewPermission(BasePermission):
    """Reading needs a global-read role; writing what the view asks (`write_check`)."""

    def has_permission(self, request, view):
        user = request.user
        if not selectors.meetings_readable(user):
            return False
        if request.method in SAFE_METHODS:
            return True
        return getattr(view, "write_check", can_prepare)(user)


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.username


class MeetingSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=MeetingStatus.choices)
    chair = UserBriefSerializer(allow_null=True)
    attendees = UserBriefSerializer(many=True)
    item_count = serializers.IntegerField(read_only=True)
    decided_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ReviewMeeting
        fields = [
            "id",
            "title",
            "held_on",
            "location",
            "status",
            "chair",
            "attendees",
            "minutes",
            "item_count",
            "decided_count",
            "created_at",
        ]
        read_only_fields = fields


class AgendaItemSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=AgendaKind.choices)
    decision = serializers.ChoiceField(choices=[("", "—"), *Decision.choices])
    issue = inline_serializer(
        "AgendaIssue",
        {
            "id": serializers.IntegerField(),
            "code": serializers.CharField(),
            "title": serializers.CharField(),
            "state": serializers.CharField(),
        },
        allow_null=True,
    )
    action = inline_serializer(
        "AgendaAction",
        {
            "id": serializers.IntegerField(),
            "title": serializers.CharField(),
            "current_due_on": serializers.DateField(),
            "status": serializers.CharField(),
        },
        allow_null=True,
    )
    alert = inline_serializer(
        "AgendaAlert",
        {
            "id": serializers.IntegerField(),
            "rule": serializers.CharField(source="rule.code"),
            "severity": serializers.CharField(),
            "status": serializers.CharField(),
            "member": serializers.DictField(),
        },
        allow_null=True,
    )
    decided_by = UserBriefSerializer(allow_null=True)

    class Meta:
        model = AgendaItem
        fields = [
            "id",
            "position",
            "kind",
            "issue",
            "action",
            "alert",
            "decision",
            "minutes",
            "decided_at",
            "decided_by",
        ]
        read_only_fields = fields


class MeetingDetailSerializer(MeetingSerializer):
    items = serializers.SerializerMethodField()

    class Meta(MeetingSerializer.Meta):
        fields = [*MeetingSerializer.Meta.fields, "items"]
        read_only_fields = fields

    def get_items(self, obj) -> list[dict]:
        return AgendaItemSerializer(selectors.meeting_items(obj), many=True).data


class MeetingWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    held_on = serializers.DateField()
    location = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    chair = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.all(), allow_null=True, default=None)
    attendees = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), many=True, required=False, default=list
    )


class ItemAddSerializer(serializers.Serializer):
    issue = serializers.IntegerField(help_text="improvement issue id")
    kind = serializers.ChoiceField(choices=AgendaKind.choices, default=AgendaKind.OTHER)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    minutes = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="the reason when closing without an effective verification, or reopening",
    )


def _detail(pk: int) -> dict:
    meeting = selectors.meeting_list().prefetch_related("attendees").filter(pk=pk).first()
    if meeting is None:
        selectors.meeting_get(pk=pk)  # raises the 404
    return MeetingDetailSerializer(meeting).data


class MeetingListView(APIView):
    permission_classes = [ReviewPermission]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)

    @extend_schema(
        summary="Review meetings, newest first",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=MeetingStatus.values),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=MeetingSerializer(many=True),
    )
    def get(self, request):
        status = choice_params(request, {"status": MeetingStatus})["status"]
        meetings = selectors.meeting_list(status=status).prefetch_related("attendees")
        return paginated(request, self, meetings, MeetingSerializer)

    @extend_schema(
        summary="Plan a review meeting",
        request=MeetingWriteSerializer,
        responses={201: MeetingDetailSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def post(self, request):
        body = MeetingWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        meeting = services.meeting_create(actor=request.user, **body.validated_data)
        return Response(_detail(meeting.pk), status=201)


class MeetingDetailView(APIView):
    permission_classes = [ReviewPermission]

    @extend_schema(summary="One review meeting with its agenda items", responses=MeetingDetailSerializer)
    def get(self, request, pk: int):
        return Response(_detail(pk))


class MeetingAgendaView(APIView):
    permission_classes = [ReviewPermission]

    @extend_schema(
        summary="Build the automatic agenda (idempotent: adds only what is not on it yet)",
        request=None,
        responses={
            200: inline_serializer("AgendaBuilt", {"added": serializers.IntegerField()}),
            409: OpenApiResponse(description="the meeting has been held"),
        },
    )
    def post(self, request, pk: int):
        meeting = selectors.meeting_get(pk=pk)
        added = services.meeting_agenda_build(meeting_id=meeting.pk, actor=request.user)
        return Response({"added": added})


class MeetingItemsView(APIView):
    permission_classes = [ReviewPermission]

    @extend_schema(
        summary="Add an improvement issue to the agenda",
        request=ItemAddSerializer,
        responses={
            201: AgendaItemSerializer,
            400: OpenApiResponse(description="a field is refused"),
            409: OpenApiResponse(description="already on the agenda, or the meeting has been held"),
        },
    )
    def post(self, request, pk: int):
        meeting = selectors.meeting_get(pk=pk)
        body = ItemAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.agenda_item_add(
            meeting_id=meeting.pk,
            actor=request.user,
            issue_id=body.validated_data["issue"],
            kind=body.validated_data["kind"],
        )
        return Response(AgendaItemSerializer(selectors.meeting_items(meeting).get(pk=item.pk)).data, status=201)


class AgendaItemDecisionView(APIView):
    permission_classes = [ReviewPermission]
    write_check = staticmethod(is_committee)

    @extend_schema(
        summary="Decide an agenda item; the decision is applied to its issue through the gate",
        request=DecisionSerializer,
        responses={
            200: AgendaItemSerializer,
            400: OpenApiResponse(description="a field is refused"),
            409: OpenApiResponse(description="already decided, or the decision does not fit the issue's state"),
        },
    )
    def post(self, request, pk: int):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = services.agenda_item_decide(item_id=pk, actor=request.user, **body.validated_data)
        return Response(AgendaItemSerializer(selectors.meeting_items(item.meeting).get(pk=item.pk)).data)


class MeetingMinutesPdfView(APIView):
    permission_classes = [ReviewPermission]

    @extend_schema(
        summary="The meeting's minutes as PDF",
        parameters=[OpenApiParameter("lang", OpenApiTypes.STR, enum=[code for code, _name in settings.LANGUAGES])],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk: int):
        meeting = selectors.meeting_get(pk=pk)
        language = request.query_params.get("lang") or translation.get_language() or settings.LANGUAGE_CODE
        if language not in dict(settings.LANGUAGES):
            raise serializers.ValidationError({"lang": [f"one of {', '.join(dict(settings.LANGUAGES))}"]})
        response = HttpResponse(meeting_minutes_pdf(meeting, language=language), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="minutes-{meeting.held_on:%Y-%m-%d}-{meeting.pk}.pdf"'
        return response


urlpatterns = [
    path("review-meetings/", MeetingListView.as_view(), name="review-meeting-list"),
    path("review-meetings/<int:pk>/", MeetingDetailView.as_view(), name="review-meeting-detail"),
    path("review-meetings/<int:pk>/agenda/", MeetingAgendaView.as_view(), name="review-meeting-agenda"),
    path("review-meetings/<int:pk>/items/", MeetingItemsView.as_view(), name="review-meeting-items"),
    path("review-meetings/<int:pk>/minutes.pdf", MeetingMinutesPdfView.as_view(), name="review-meeting-minutes"),
    path("agenda-items/<int:pk>/decision/", AgendaItemDecisionView.as_view(), name="agenda-item-decision"),
]
