"""SLA configuration endpoints: /sla-policies/ and /calendars/ (with their windows and
days). Staff roles read, admins (is_staff or the admin role) write. Thin: parse, call
one service, render."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.response import Response

from catalog.models import ProductLine, Region
from catalog.roles import ADMIN, user_roles
from tickets.models import BusinessCalendar, CalendarDay, CalendarDayKind, SlaPolicy, Weekday, WorkingWindow
from tickets.services import sla as sla_services

from .serializers import NaturalKeyField


class ReadStaffWriteAdmin(permissions.BasePermission):
    """Reading: any user with a role (or staff). Writing: is_staff or the admin role."""

    def has_permission(self, request, view):
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if request.method in permissions.SAFE_METHODS:
            return bool(user.is_staff or user_roles(user))
        return bool(user.is_staff or ADMIN in user_roles(user))


class SlaPolicySerializer(serializers.ModelSerializer):
    product_line = NaturalKeyField(
        slug_field="code", queryset=ProductLine.objects.all(), required=False, allow_null=True, default=None
    )
    region = NaturalKeyField(
        slug_field="name", queryset=Region.objects.all(), required=False, allow_null=True, default=None
    )
    calendar = NaturalKeyField(
        slug_field="name", queryset=BusinessCalendar.objects.all(), required=False, allow_null=True, default=None
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "priority",
            "ticket_type",
            "segment",
            "product_line",
            "region",
            "response_minutes",
            "resolution_minutes",
            "calendar",
            "active",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {"response_minutes": {"min_value": 1}, "resolution_minutes": {"min_value": 1}}


class WorkingWindowSerializer(serializers.ModelSerializer):
    weekday = serializers.ChoiceField(choices=Weekday.choices, help_text="0 = Monday ... 6 = Sunday")

    class Meta:
        model = WorkingWindow
        fields = ["weekday", "start", "end"]


class CalendarDaySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=CalendarDayKind.choices)
    works_like = serializers.ChoiceField(choices=Weekday.choices, required=False, default=Weekday.MONDAY)

    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name", "works_like", "source"]
        read_only_fields = ["source"]


class BusinessCalendarSerializer(serializers.ModelSerializer):
    windows = WorkingWindowSerializer(many=True, required=False)
    days = CalendarDaySerializer(many=True, required=False)
    # Becoming the default takes the flag from the former default (the service).
    is_default = serializers.BooleanField(required=False, default=False)

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "time_zone", "holiday_country", "is_default", "windows", "days"]
        read_only_fields = ["id"]
        validators = []  # the one-default constraint is the service's business


class SlaPolicyViewSet(viewsets.ModelViewSet):
    permission_classes = [ReadStaffWriteAdmin]
    serializer_class = SlaPolicySerializer
    queryset = SlaPolicy.objects.select_related("product_line", "region", "calendar").order_by("name", "id")
    filterset_fields = ["priority", "ticket_type", "segment", "active"]
    ordering_fields = ["name", "id"]
    ordering = ["name", "id"]
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer):
        serializer.instance = sla_services.sla_policy_save(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = sla_services.sla_policy_save(policy=serializer.instance, data=serializer.validated_data)


class BusinessCalendarViewSet(viewsets.ModelViewSet):
    permission_classes = [ReadStaffWriteAdmin]
    serializer_class = BusinessCalendarSerializer
    queryset = BusinessCalendar.objects.prefetch_related(
        Prefetch("windows", queryset=WorkingWindow.objects.order_by("weekday", "start")),
        Prefetch("days", queryset=CalendarDay.objects.order_by("date")),
    ).order_by("name")
    filterset_fields = ["is_default"]
    ordering_fields = ["name", "id"]
    ordering = ["name"]
    lookup_value_regex = "[0-9]+"

    def _save(self, serializer, calendar=None):
        data = dict(serializer.validated_data)
        windows, days = data.pop("windows", None), data.pop("days", None)
        return sla_services.business_calendar_save(calendar=calendar, data=data, windows=windows, days=days)

    def perform_create(self, serializer):
        serializer.instance = self._save(serializer)

    def perform_update(self, serializer):
        serializer.instance = self._save(serializer, serializer.instance)

    @extend_schema(responses={200: BusinessCalendarSerializer})
    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        # Re-read: the nested rows were replaced after the prefetch.
        calendar = self.get_queryset().get(pk=response.data["id"])
        return Response(self.get_serializer(calendar).data, status=status.HTTP_200_OK)
