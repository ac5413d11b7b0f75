"""Ticket endpoints: thin; parse, call one selector or service, render."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.api.filters import IsoDateTimeFilter
from catalog.api.views import ExportMixin
from tickets import selectors, services
from tickets.models import Channel, Priority, Status, Ticket, TicketType

from .serializers import (
    TicketAssignSerializer,
    TicketCommentSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TicketTransitionSerializer,
)


class TicketFilter(django_filters.FilterSet):
    # distinct=False: these are columns of the ticket row, no join repeats a ticket; the
    # default DISTINCT made PostgreSQL sort every matching row on all columns (issue 10's
    # load test: the open queue 53 -> 1 ms of query at 1,000,000 tickets).
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    type = django_filters.MultipleChoiceFilter(choices=TicketType.choices, distinct=False)
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices, distinct=False)
    team = django_filters.CharFilter(field_name="team__name")
    assignee = django_filters.CharFilter(field_name="assignee__username")
    customer = django_filters.CharFilter(field_name="customer__external_id")
    unit = django_filters.CharFilter(field_name="unit__serial")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", label="search")

    class Meta:
        model = Ticket
        fields = ["status", "priority", "type", "channel", "team", "assignee", "customer", "unit"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(external_id__icontains=value) | Q(subject__icontains=value) | Q(customer__name__icontains=value)
        )


class TicketViewSet(
    ExportMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    filterset_class = TicketFilter
    # GET /api/v1/tickets/export/: the list's scope, filters and ordering.
    export_columns = selectors.TICKET_EXPORT_COLUMNS
    export_filename = "tickets"
    ordering_fields = ["created_at", "priority", "status", "resolution_due_at", "updated_at"]
    ordering = ["-created_at", "-id"]
    queryset = Ticket.objects.none()  # for the schema and permissions; rows come from the selector
    # Any segment reaches the view, so "1.5" or "abc" is the API's JSON 404, not the site's HTML one.
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.ticket_list(user=self.request.user)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return TicketDetailSerializer
        if self.action == "create":
            return TicketCreateSerializer
        return TicketSerializer

    def _detail(self, ticket, code=status.HTTP_200_OK):
        # The ticket as the service left it. Not re-read through the user's scope: a change
        # may take it out of that scope (another team), and a write must not answer 404.
        return Response(TicketDetailSerializer(ticket, context=self.get_serializer_context()).data, status=code)

    def _input(self, serializer_class):
        data = serializer_class(data=self.request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return data.validated_data

    @extend_schema(request=TicketCreateSerializer, responses={201: TicketDetailSerializer})
    def create(self, request, *args, **kwargs):
        ticket = services.ticket_create(actor=request.user, **self._input(TicketCreateSerializer))
        return self._detail(ticket, status.HTTP_201_CREATED)

    @extend_schema(request=TicketTransitionSerializer, responses={200: TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        ticket = self.get_object()
        data = self._input(TicketTransitionSerializer)
        ticket = services.ticket_transition(
            ticket_id=ticket.pk,
            to_status=data["status"],
            actor=request.user,
            expected_version=data["version"],
            comment=data["comment"],
        )
        return self._detail(ticket)

    @extend_schema(request=TicketAssignSerializer, responses={200: TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        ticket = self.get_object()
        data = self._input(TicketAssignSerializer)
        ticket = services.ticket_assign(
            ticket_id=ticket.pk,
            assignee=data["assignee"],
            team=data.get("team"),
            actor=request.user,
            expected_version=data["version"],
        )
        return self._detail(ticket)

    @extend_schema(request=TicketCommentSerializer, responses={201: TicketDetailSerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        ticket = self.get_object()
        data = self._input(TicketCommentSerializer)
        ticket = services.ticket_comment(
            ticket_id=ticket.pk,
            actor=request.user,
            body=data["body"],
            public=data["public"],
            expected_version=data.get("version"),
        )
        return self._detail(ticket, status.HTTP_201_CREATED)
