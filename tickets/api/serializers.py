"""Ticket API shapes. Input serializers only parse; the services decide."""

from rest_framework import serializers

from catalog.models import Customer, Unit, User
from tickets.models import Channel, Priority, Status, Team, Ticket, TicketEvent, TicketType


class TicketEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["id", "at", "actor", "kind", "from_value", "to_value", "comment", "public"]


class TicketSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    region = serializers.CharField(source="customer.region.name", read_only=True)
    unit = serializers.CharField(source="unit.serial", default=None, read_only=True)
    product_model = serializers.CharField(source="unit.product_model.code", default=None, read_only=True)
    team = serializers.CharField(source="team.name", default=None, read_only=True)
    assignee = serializers.CharField(source="assignee.username", default=None, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id", "external_id", "public_id", "customer", "customer_name", "region", "unit", "product_model",
            "type", "channel", "priority", "status", "subject", "description", "team", "assignee",
            "created_at", "assigned_at", "dispatch_method", "reassignments", "first_response_at",
            "response_due_at", "resolution_due_at", "resolved_at", "closed_at", "follow_up_at", "visits",
            "reopened_count", "version", "updated_at",
        ]
        read_only_fields = fields


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


class TicketCreateSerializer(serializers.Serializer):
    customer = serializers.SlugRelatedField(slug_field="external_id", queryset=Customer.objects.all())
    unit = serializers.SlugRelatedField(slug_field="serial", queryset=Unit.objects.all(), required=False,
                                        allow_null=True)
    type = serializers.ChoiceField(choices=TicketType.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    subject = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.SlugRelatedField(slug_field="name", queryset=Team.objects.all(), required=False,
                                        allow_null=True)
    assignee = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True),
                                            required=False, allow_null=True)
    external_id = serializers.CharField(max_length=64, required=False)

    def validate_external_id(self, value):
        if Ticket.objects.filter(external_id=value).exists():
            raise serializers.ValidationError("a ticket with this number already exists")
        return value


class TicketTransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s for s in Status.choices if s[0] != Status.NEW])
    version = serializers.IntegerField(min_value=1)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class TicketAssignSerializer(serializers.Serializer):
    assignee = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
    team = serializers.SlugRelatedField(slug_field="name", queryset=Team.objects.all(), required=False,
                                        allow_null=True)
    version = serializers.IntegerField(min_value=1)


class TicketCommentSerializer(serializers.Serializer):
    body = serializers.CharField()
    public = serializers.BooleanField(default=False)
    version = serializers.IntegerField(min_value=1, required=False)
