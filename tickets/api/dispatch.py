"""Dispatch configuration endpoints: thin; parse, call one selector or service, render.

/dispatch-rules/: supervisors and the global-read roles read, admins write.
/shifts/: the same readers (supervisors: their teams' shifts only; others are 404);
admins write any shift, supervisors the shifts of the teams they supervise."""

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.response import Response

from catalog.models import ProductLine, Region, User, region_key
from catalog.roles import ADMIN, SUPERVISOR, user_roles
from tickets import services, supervisor_selectors
from tickets.models import AgentShift, DispatchRule, Team, TicketType, Weekday

from .serializers import NaturalKeyField


def _is_admin(user) -> bool:
    return bool(user.is_staff or ADMIN in user_roles(user))


class RegionField(NaturalKeyField):
    """A region by any spelling of its name or an alias (as imports match them)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Region.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        key = region_key(data)
        region = Region.objects.filter(Q(key=key) | Q(aliases__key=key)).first()
        if region is None:
            self.fail("does_not_exist", slug_name="name", value=data)
        return region


class SupervisedTeamField(NaturalKeyField):
    """A team by name, among those the user may configure (admins: all)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Team.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None or _is_admin(request.user):
            return Team.objects.all()
        return supervisor_selectors.supervisor_teams(request.user)


class DispatchRuleSerializer(serializers.ModelSerializer):
    region = RegionField(required=False, allow_null=True, default=None)
    product_line = NaturalKeyField(
        slug_field="code", queryset=ProductLine.objects.all(), required=False, allow_null=True, default=None
    )
    ticket_type = serializers.ChoiceField(choices=TicketType.choices, allow_blank=True, required=False, default="")
    skill = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    team = SupervisedTeamField()

    class Meta:
        model = DispatchRule
        fields = ["id", "name", "position", "region", "product_line", "ticket_type", "skill", "team", "active"]
        read_only_fields = ["id"]


class ShiftSerializer(serializers.ModelSerializer):
    team = SupervisedTeamField()
    user = NaturalKeyField(slug_field="username", queryset=User.objects.filter(is_active=True))
    weekday = serializers.ChoiceField(choices=Weekday.choices, help_text="0 = Monday ... 6 = Sunday")

    class Meta:
        model = AgentShift
        fields = ["id", "team", "user", "weekday", "start", "end"]
        read_only_fields = ["id"]


class ReadForSupervisors(permissions.BasePermission):
    """Reading: supervisors and the global-read roles. Writing: admins, and when
    `supervisors_write` is set on the view, supervisors too (the queryset and the team
    field keep them to their own teams)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and supervisor_selectors.user_can_supervise(user)):
            return False
        if request.method in permissions.SAFE_METHODS or _is_admin(user):
            return True
        return getattr(view, "supervisors_write", False) and SUPERVISOR in user_roles(user)


class _ConfigViewSet(viewsets.ModelViewSet):
    permission_classes = [ReadForSupervisors]
    filter_backends: list = []
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    lookup_value_regex = "[^/]+"

    def _save(self, data: dict, pk=None):
        raise NotImplementedError

    def _delete(self, pk) -> None:
        raise NotImplementedError

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        obj = self._save(data.validated_data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        data = self.get_serializer(instance, data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        obj = self._save(data.validated_data, pk=instance.pk)
        return Response(self.get_serializer(obj).data)

    def destroy(self, request, *args, **kwargs):
        self._delete(self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["dispatch"])
class DispatchRuleViewSet(_ConfigViewSet):
    """Routing rules, tried by (position, id); the first whose non-blank criteria all
    match a new ticket gives its team."""

    serializer_class = DispatchRuleSerializer
    queryset = DispatchRule.objects.none()

    def get_queryset(self):
        return supervisor_selectors.dispatch_rule_list()

    def _save(self, data, pk=None):
        return services.dispatch_rule_save(rule_id=pk, **data)

    def _delete(self, pk):
        services.dispatch_rule_delete(rule_id=pk)


@extend_schema(tags=["dispatch"])
class ShiftViewSet(_ConfigViewSet):
    """Agent shifts per team and weekday, [start, end) in the team calendar's time zone.
    A team without any shift has every agent member on shift."""

    serializer_class = ShiftSerializer
    queryset = AgentShift.objects.none()
    supervisors_write = True

    def get_queryset(self):
        teams = supervisor_selectors.supervisor_teams(self.request.user)
        return supervisor_selectors.shift_list(teams=teams).order_by("team__name", "weekday", "start", "id")

    def _save(self, data, pk=None):
        return services.agent_shift_save(shift_id=pk, **data)

    def _delete(self, pk):
        services.agent_shift_delete(shift_id=pk)
