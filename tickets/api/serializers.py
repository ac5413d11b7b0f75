"""Ticket API shapes. Input serializers only parse; the services decide."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Customer, Unit, User
from catalog.roles import user_has_global_read
from tickets.calendars import ClockCache
from tickets.models import OPEN_STATUSES, Channel, Priority, SlaPolicy, Status, Team, Ticket, TicketEvent, TicketType
from tickets.selectors import teams_for_user, ticket_sla_state


class TicketEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["id", "at", "actor", "kind", "from_value", "to_value", "comment", "public"]


class SlaTargetStateSerializer(serializers.Serializer):
    target = serializers.ChoiceField(choices=["response", "resolution"])
    state = serializers.ChoiceField(choices=["ok", "at_risk", "breached", "met", "paused", "none"])
    due_at = serializers.DateTimeField(allow_null=True)
    business_minutes_left = serializers.FloatField(
        allow_null=True, help_text="Negative when breached: the business minutes overdue."
    )
    met_at = serializers.DateTimeField(allow_null=True)
    met_late = serializers.BooleanField()
    paused_since = serializers.DateTimeField(allow_null=True)


class SlaBlockSerializer(serializers.Serializer):
    policy = serializers.CharField(allow_null=True)
    due_source = serializers.CharField(help_text="policy, import, or empty")
    paused_since = serializers.DateTimeField(allow_null=True)
    paused_minutes = serializers.IntegerField()
    response = SlaTargetStateSerializer()
    resolution = SlaTargetStateSerializer()


class TicketSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    region = serializers.CharField(source="customer.region.name", read_only=True)
    unit = serializers.CharField(source="unit.serial", default=None, read_only=True)
    product_model = serializers.CharField(source="unit.product_model.code", default=None, read_only=True)
    team = serializers.CharField(source="team.name", default=None, read_only=True)
    assignee = serializers.CharField(source="assignee.username", default=None, read_only=True)
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "external_id",
            "public_id",
            "customer",
            "customer_name",
            "region",
            "unit",
            "product_model",
            "type",
            "channel",
            "priority",
            "status",
            "subject",
            "description",
            "skill",
            "team",
            "assignee",
            "created_at",
            "assigned_at",
            "dispatch_method",
            "reassignments",
            "first_response_at",
            "response_due_at",
            "resolution_due_at",
            "resolved_at",
            "closed_at",
            "follow_up_at",
            "visits",
            "reopened_count",
            "version",
            "updated_at",
            "sla",
        ]
        read_only_fields = fields

    @extend_schema_field(SlaBlockSerializer)
    def get_sla(self, ticket) -> dict:
        # One policy map and one clock per calendar for the whole response, read only
        # when a ticket has an SLA (a list page costs the same queries as one ticket).
        name = calendar_id = None
        if ticket.sla_policy_id is not None:
            if "_sla_policies" not in self.context:
                rows = SlaPolicy.objects.values_list("pk", "name", "calendar_id")
                self.context["_sla_policies"] = {pk: (n, c) for pk, n, c in rows}
            name, calendar_id = self.context["_sla_policies"].get(ticket.sla_policy_id, (None, None))
        if calendar_id is None and ticket.team_id:
            calendar_id = ticket.team.calendar_id
        clock = None
        if ticket.status in OPEN_STATUSES and (ticket.response_due_at or ticket.resolution_due_at):
            clock = self.context.setdefault("_sla_clocks", ClockCache()).get(calendar_id)
        states = ticket_sla_state(ticket, clock=clock)
        keep = ("target", "state", "due_at", "business_minutes_left", "met_at", "met_late", "paused_since")
        return {
            "policy": name,
            "due_source": ticket.sla_due_source,
            "paused_since": ticket.sla_paused_at,
            "paused_minutes": ticket.sla_paused_minutes,
            **{target: {k: item[k] for k in keep} for target, item in states.items()},
        }


class TicketDetailSerializer(TicketSerializer):
    events = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "allowed_transitions", "events"]
        read_only_fields = fields

    def get_events(self, ticket) -> list[dict]:
        return TicketEventSerializer(ticket.events.select_related("actor"), many=True).data

    def get_allowed_transitions(self, ticket) -> list[str]:
        from tickets.services import allowed_transitions

        return allowed_transitions(ticket)


class NaturalKeyField(serializers.SlugRelatedField):
    """A related object named by its natural key. A value no row can hold (NUL, which
    PostgreSQL refuses in text) does not exist: a 400, not a DataError from the lookup."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\0"))
        return super().to_internal_value(data)


class ScopedTeamField(NaturalKeyField):
    """A team the requesting user may work for (tickets.selectors.teams_for_user); others do not exist."""

    def __init__(self, **kwargs):
        # The class-level queryset only names the model (for the schema); rows come from get_queryset.
        super().__init__(slug_field="name", queryset=Team.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return teams_for_user(request.user) if request is not None else Team.objects.none()


class TicketCreateSerializer(serializers.Serializer):
    customer = NaturalKeyField(slug_field="external_id", queryset=Customer.objects.all())
    unit = NaturalKeyField(slug_field="serial", queryset=Unit.objects.all(), required=False, allow_null=True)
    type = serializers.ChoiceField(choices=TicketType.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    subject = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    # Matched by the dispatch rules.
    skill = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    team = ScopedTeamField(required=False, allow_null=True)
    assignee = NaturalKeyField(
        slug_field="username", queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    # Uniqueness is the service's decision (it also covers two requests racing for one number).
    external_id = serializers.CharField(max_length=64, required=False)

    def validate(self, attrs):
        # Agents and supervisors see tickets through their teams: a ticket they create
        # without one would vanish from their view. Their only team is the default.
        request = self.context.get("request")
        if attrs.get("team") is None and request is not None and not user_has_global_read(request.user):
            teams = list(teams_for_user(request.user)[:2])
            if len(teams) != 1:
                raise serializers.ValidationError({"team": ["This field is required."]})
            attrs["team"] = teams[0]
        return attrs


class TicketTransitionSerializer(serializers.Serializer):
    # Every status parses (one enum in the schema); which moves are allowed is the service's call.
    status = serializers.ChoiceField(choices=Status.choices)
    version = serializers.IntegerField(min_value=1)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class TicketAssignSerializer(serializers.Serializer):
    assignee = NaturalKeyField(slug_field="username", queryset=User.objects.filter(is_active=True))
    team = ScopedTeamField(required=False, allow_null=True)
    version = serializers.IntegerField(min_value=1)


class TicketCommentSerializer(serializers.Serializer):
    body = serializers.CharField()
    public = serializers.BooleanField(default=False)
    version = serializers.IntegerField(min_value=1, required=False)
