"""Alerts, alert rules and silences over the API (issue 7). Reading: quality engineers,
committee members, managers, admins; agents and supervisors get a 403. Writing: the
model permission the view names (quality engineers, admins). Thin: the services in
quality.services.alerts validate (400 with the reasons by field, 409 for a move the
alert's status does not allow).

`GET /alerts/` answers the bare list of INTERFACES.md; it is cut into pages with
`page`/`page_size`, and the cut is signalled in headers only (`X-Total-Count`, and a
`Link` header with rel="next"/"prev"), so the body keeps its documented shape."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.pagination import PageSizePagination, choice_params, paginated
from tickets.models import Team

from .. import alert_selectors
from ..alert_access import (
    ALERT_CHANGE_PERM,
    RULE_ADD_PERM,
    RULE_CHANGE_PERM,
    SILENCE_ADD_PERM,
    SILENCE_CHANGE_PERM,
    alerts_queryset,
    alerts_readable,
    rules_readable,
    status_filter,
)
from ..models import (
    Alert,
    AlertAutoAction,
    AlertKind,
    AlertRule,
    AlertSchedule,
    AlertSeverity,
    AlertSilence,
    AlertStatus,
)
from ..services import alerts as alert_services

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 500
MAX_REPLAY_DAYS = 3 * 366


class AlertPermission(BasePermission):
    """Reading needs a global-read role with view_alert; writing the permission the view
    names for the method."""

    def has_permission(self, request, view):
        user = request.user
        readable = rules_readable if getattr(view, "rules_scope", False) else alerts_readable
        if not readable(user):
            return False
        if request.method in SAFE_METHODS:
            return True
        perm = getattr(view, "write_perms", {}).get(request.method)
        return bool(perm) and user.has_perm(perm)


# --- serializers (the documented shapes) -------------------------------------------------


class AlertSerializer(serializers.Serializer):
    """INTERFACES.md's fields first, then extras (never renamed)."""

    id = serializers.IntegerField()
    rule = serializers.CharField(help_text="the rule's code")
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    kpi = serializers.CharField(allow_blank=True)
    member = serializers.DictField(child=serializers.CharField(), help_text="{dimension: member}; {} unsplit")
    severity = serializers.ChoiceField(choices=AlertSeverity.choices)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    period_start = serializers.DateField(allow_null=True)
    value = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    lcl = serializers.FloatField(allow_null=True)
    ucl = serializers.FloatField(allow_null=True)
    first_fired_at = serializers.DateTimeField()
    rule_name = serializers.CharField()
    last_fired_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    assignee = serializers.CharField(allow_null=True, help_text="username")
    resolved_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(help_text="the alert's page")


def alert_json(alert: Alert) -> dict:
    """The selector's payload (also `evaluate_alerts --json`), plus the extras."""
    body = dict(alert_selectors.alert_payload(alert))
    body.setdefault("rule_name", alert.rule.name)
    body.setdefault("last_fired_at", _iso(alert.last_fired_at))
    body.setdefault("acknowledged_at", _iso(alert.acknowledged_at))
    body.setdefault("assignee", alert.assignee.get_username() if alert.assignee_id else None)
    body.setdefault("resolved_at", _iso(alert.resolved_at))
    body.setdefault("url", reverse("alerts:detail", args=[alert.pk]))
    return body


def _iso(value):
    return value.isoformat() if value is not None else None


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(max_length=150, allow_null=True, help_text="a username; null unassigns")

    def validate_assignee(self, value):
        if value in (None, ""):
            return None
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError("no active user with this username")
        return user


class AlertRuleSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    severity = serializers.ChoiceField(choices=AlertSeverity.choices)
    schedule = serializers.ChoiceField(choices=AlertSchedule.choices)
    auto_action = serializers.ChoiceField(choices=AlertAutoAction.choices, allow_blank=True)
    filters = serializers.DictField(child=serializers.CharField())
    params = serializers.DictField()
    recipient_users = serializers.SerializerMethodField()
    recipient_roles = serializers.ListField(child=serializers.CharField())
    recipient_teams = serializers.SerializerMethodField()
    channels = serializers.ListField(child=serializers.CharField())
    open_alerts = serializers.IntegerField(read_only=True, help_text="firing or acknowledged")

    class Meta:
        model = AlertRule
        fields = [
            "code",
            "name",
            "description",
            "kind",
            "kpi",
            "filters",
            "split_by",
            "grain",
            "params",
            "severity",
            "schedule",
            "recipient_users",
            "recipient_roles",
            "recipient_teams",
            "channels",
            "renotify_minutes",
            "resolve_after",
            "auto_action",
            "active",
            "created_at",
            "updated_at",
            "last_evaluated_at",
            "open_alerts",
        ]
        read_only_fields = fields

    def get_recipient_users(self, obj) -> list[str]:
        return [user.get_username() for user in obj.recipient_users.all()]

    def get_recipient_teams(self, obj) -> list[str]:
        return [team.name for team in obj.recipient_teams.all()]


class AlertRuleWriteSerializer(serializers.Serializer):
    """Types only; what the values mean (a known KPI, a dimension it has, the condition's
    settings for the kind) is the service's to judge."""

    code = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    kpi = serializers.CharField(required=False, allow_blank=True, max_length=64)
    filters = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    split_by = serializers.CharField(required=False, allow_blank=True, max_length=32)
    grain = serializers.CharField(required=False, max_length=8)
    params = serializers.DictField(required=False)
    severity = serializers.ChoiceField(choices=AlertSeverity.choices, required=False)
    schedule = serializers.ChoiceField(choices=AlertSchedule.choices, required=False)
    recipient_users = serializers.ListField(child=serializers.CharField(max_length=150), required=False)
    recipient_roles = serializers.ListField(child=serializers.CharField(max_length=32), required=False)
    recipient_teams = serializers.ListField(child=serializers.CharField(max_length=100), required=False)
    channels = serializers.ListField(child=serializers.CharField(max_length=16), required=False)
    renotify_minutes = serializers.IntegerField(min_value=0, required=False)
    resolve_after = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    auto_action = serializers.ChoiceField(choices=AlertAutoAction.choices, allow_blank=True, required=False)
    active = serializers.BooleanField(required=False)

    def validate_recipient_users(self, value):
        users = list(get_user_model().objects.filter(username__in=value, is_active=True))
        missing = sorted(set(value) - {user.get_username() for user in users})
        if missing:
            raise serializers.ValidationError(f"unknown users: {', '.join(missing)}")
        return users

    def validate_recipient_teams(self, value):
        teams = list(Team.objects.filter(name__in=value))
        missing = sorted(set(value) - {team.name for team in teams})
        if missing:
            raise serializers.ValidationError(f"unknown teams: {', '.join(missing)}")
        return teams


class SilenceSerializer(serializers.ModelSerializer):
    rule = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    member = serializers.DictField(child=serializers.CharField())
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    active = serializers.SerializerMethodField()

    class Meta:
        model = AlertSilence
        fields = [
            "id",
            "rule",
            "kpi",
            "member",
            "starts_at",
            "ends_at",
            "comment",
            "created_by",
            "created_at",
            "active",
        ]
        read_only_fields = fields

    def get_active(self, obj) -> bool:
        now = self.context.get("now") or dt.datetime.now(dt.UTC)
        return obj.starts_at <= now < obj.ends_at


class SilenceWriteSerializer(serializers.Serializer):
    rule = serializers.SlugRelatedField(
        slug_field="code", queryset=AlertRule.objects.all(), required=False, allow_null=True
    )
    kpi = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    member = serializers.DictField(child=serializers.CharField(max_length=200), required=False, default=dict)
    starts_at = serializers.DateTimeField(required=False, help_text="default: now")
    ends_at = serializers.DateTimeField()
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReplayRowSerializer(serializers.Serializer):
    """One period a rule would have fired for (or cleared, when asked for all)."""

    member = serializers.DictField(child=serializers.CharField())
    period_start = serializers.DateField(allow_null=True)
    decision = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    lcl = serializers.FloatField(allow_null=True)
    ucl = serializers.FloatField(allow_null=True)


class ReplaySerializer(serializers.Serializer):
    rule = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    rows = ReplayRowSerializer(many=True)


# --- helpers -----------------------------------------------------------------------------


def _choice_list(params, name: str, allowed) -> list[str]:
    """A comma-separated filter; any unknown value is a 400 naming the choices."""
    raw = params.get(name) or ""
    values = [v for v in (part.strip() for part in raw.split(",")) if v]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise serializers.ValidationError({name: [f"one of {', '.join(allowed)}"]})
    return values


def _date_param(params, name: str) -> dt.date:
    raw = params.get(name) or ""
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise serializers.ValidationError({name: ["a date, YYYY-MM-DD"]}) from None


def _alert(alert_id: int, user) -> Alert:
    alert = alerts_queryset(user=user).filter(pk=alert_id).first()
    if alert is None:
        raise Http404("No such alert.")
    return alert


def _rule(code: str) -> AlertRule:
    rule = _rules().filter(code=code).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


def _rules():
    open_q = Q(alerts__status__in=[AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED])
    return AlertRule.objects.annotate(open_alerts=Count("alerts", filter=open_q)).prefetch_related(
        "recipient_users", "recipient_teams"
    )


class HeaderPagination(PageSizePagination):
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE

    def headers(self) -> dict:
        links = []
        if self.get_next_link():
            links.append(f'<{self.get_next_link()}>; rel="next"')
        if self.get_previous_link():
            links.append(f'<{self.get_previous_link()}>; rel="prev"')
        headers = {"X-Total-Count": str(self.page.paginator.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return headers


# --- alerts ------------------------------------------------------------------------------

_LIST_PARAMS = [
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        description="comma-separated: firing, acknowledged, resolved; `open` = firing,acknowledged (the "
        "default); `all` = every status",
    ),
    OpenApiParameter("severity", OpenApiTypes.STR, description="comma-separated: info, warning, critical"),
    OpenApiParameter("kind", OpenApiTypes.STR, description="comma-separated: threshold, trend, anomaly, process"),
    OpenApiParameter("rule", OpenApiTypes.STR, description="a rule's code"),
    OpenApiParameter("kpi", OpenApiTypes.STR, description="a KPI or metric code"),
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter(
        "page_size", OpenApiTypes.INT, description=f"default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}"
    ),
]


class AlertListView(APIView):
    permission_classes = [AlertPermission]

    @extend_schema(
        summary="Alerts (critical first, then the latest firing); a bare list, pages signalled in headers",
        parameters=_LIST_PARAMS,
        responses=AlertSerializer(many=True),
    )
    def get(self, request):
        params = request.query_params
        raw_status = (params.get("status") or "open").strip()
        statuses = status_filter(raw_status)
        if statuses is None:
            raise serializers.ValidationError({"status": [f"open, all or one of {', '.join(AlertStatus.values)}"]})
        alerts = alerts_queryset(
            user=request.user,
            statuses=statuses,
            severities=_choice_list(params, "severity", AlertSeverity.values),
            kinds=_choice_list(params, "kind", AlertKind.values),
            rule=(params.get("rule") or "").strip(),
            kpi=(params.get("kpi") or "").strip(),
        )
        paginator = HeaderPagination()
        page = paginator.paginate_queryset(alerts, request, view=self)
        return Response([alert_json(alert) for alert in page], headers=paginator.headers())


class _AlertActionView(APIView):
    permission_classes = [AlertPermission]
    write_perms = {"POST": ALERT_CHANGE_PERM}
    body_class = CommentSerializer

    def act(self, request, alert: Alert, data: dict) -> None:
        raise NotImplementedError

    def post(self, request, pk: int):
        alert = _alert(pk, request.user)
        body = self.body_class(data=request.data)
        body.is_valid(raise_exception=True)
        self.act(request, alert, body.validated_data)
        return Response(alert_json(_alert(pk, request.user)))


_ACTION_RESPONSES = {
    200: AlertSerializer,
    400: OpenApiResponse(description="a field is refused"),
    409: OpenApiResponse(description="not allowed from the alert's status"),
}


class AlertAcknowledgeView(_AlertActionView):
    @extend_schema(summary="Acknowledge a firing alert", request=CommentSerializer, responses=_ACTION_RESPONSES)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, alert, data):
        alert_services.alert_acknowledge(alert_id=alert.pk, actor=request.user, comment=data["comment"])


class AlertAssignView(_AlertActionView):
    body_class = AssignSerializer

    @extend_schema(summary="Assign an open alert to a person", request=AssignSerializer, responses=_ACTION_RESPONSES)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, alert, data):
        alert_services.alert_assign(alert_id=alert.pk, assignee=data["assignee"], actor=request.user)


class AlertResolveView(_AlertActionView):
    @extend_schema(summary="Resolve an open alert by hand", request=CommentSerializer, responses=_ACTION_RESPONSES)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, alert, data):
        alert_services.alert_resolve(alert_id=alert.pk, actor=request.user, comment=data["comment"])


# --- rules -------------------------------------------------------------------------------


def _rule_fields(data: dict) -> dict:
    return dict(data)


class AlertRuleListView(APIView):
    permission_classes = [AlertPermission]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)
    rules_scope = True
    write_perms = {"POST": RULE_ADD_PERM}

    @extend_schema(
        summary="Alert rules",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=AlertKind.values),
            OpenApiParameter("active", OpenApiTypes.BOOL),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=AlertRuleSerializer(many=True),
    )
    def get(self, request):
        rules = _rules().order_by("code")
        kind = choice_params(request, {"kind": AlertKind})["kind"]
        if kind:
            rules = rules.filter(kind=kind)
        active = (request.query_params.get("active") or "").lower()
        if active:
            if active not in ("true", "false", "1", "0"):
                raise serializers.ValidationError({"active": ["true or false"]})
            rules = rules.filter(active=active in ("true", "1"))
        return paginated(request, self, rules, AlertRuleSerializer)

    @extend_schema(
        summary="Create an alert rule",
        request=AlertRuleWriteSerializer,
        responses={201: AlertRuleSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def post(self, request):
        body = AlertRuleWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = alert_services.alert_rule_save(actor=request.user, rule=None, **_rule_fields(body.validated_data))
        return Response(AlertRuleSerializer(_rule(rule.code)).data, status=201)


class AlertRuleDetailView(APIView):
    permission_classes = [AlertPermission]
    rules_scope = True
    write_perms = {"PUT": RULE_CHANGE_PERM, "PATCH": RULE_CHANGE_PERM}

    @extend_schema(summary="One alert rule", responses=AlertRuleSerializer)
    def get(self, request, code: str):
        return Response(AlertRuleSerializer(_rule(code)).data)

    def _save(self, request, code: str, *, partial: bool):
        rule = _rule(code)
        body = AlertRuleWriteSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        fields = _rule_fields(body.validated_data)
        if fields.get("code", rule.code) != rule.code:
            raise serializers.ValidationError({"code": ["the code of a rule cannot change"]})
        fields.pop("code", None)
        alert_services.alert_rule_save(actor=request.user, rule=rule, **fields)
        return Response(AlertRuleSerializer(_rule(code)).data)

    @extend_schema(
        summary="Replace an alert rule",
        request=AlertRuleWriteSerializer,
        responses={200: AlertRuleSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def put(self, request, code: str):
        return self._save(request, code, partial=False)

    @extend_schema(
        summary="Change some fields of an alert rule",
        request=AlertRuleWriteSerializer,
        responses={200: AlertRuleSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def patch(self, request, code: str):
        return self._save(request, code, partial=True)


class AlertRuleReplayView(APIView):
    permission_classes = [AlertPermission]
    rules_scope = True

    @extend_schema(
        summary="Backtest: when the rule would have fired between two dates (nothing is written or sent)",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="exclusive"),
        ],
        responses={200: ReplaySerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def get(self, request, code: str):
        rule = _rule(code)
        start, end = _date_param(request.query_params, "start"), _date_param(request.query_params, "end")
        if end <= start:
            raise serializers.ValidationError({"end": ["after the start"]})
        if (end - start).days > MAX_REPLAY_DAYS:
            raise serializers.ValidationError({"end": [f"at most {MAX_REPLAY_DAYS} days after the start"]})
        rows = alert_services.alert_rule_replay(rule=rule, start=start, end=end)
        return Response({"rule": rule.code, "start": start.isoformat(), "end": end.isoformat(), "rows": rows})


# --- silences ----------------------------------------------------------------------------


class SilenceListView(APIView):
    permission_classes = [AlertPermission]
    pagination_class = PageSizePagination  # documents the page envelope (drf-spectacular)
    rules_scope = True
    write_perms = {"POST": SILENCE_ADD_PERM}

    @extend_schema(
        summary="Silences (latest first)",
        parameters=[
            OpenApiParameter("active", OpenApiTypes.BOOL, description="only those in force now"),
            OpenApiParameter("page", OpenApiTypes.INT),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses=SilenceSerializer(many=True),
    )
    def get(self, request):
        now = dt.datetime.now(dt.UTC)
        silences = AlertSilence.objects.select_related("rule", "created_by").order_by("-starts_at", "-id")
        active = (request.query_params.get("active") or "").lower()
        if active in ("true", "1"):
            silences = silences.filter(starts_at__lte=now, ends_at__gt=now)
        elif active in ("false", "0"):
            silences = silences.exclude(starts_at__lte=now, ends_at__gt=now)
        elif active:
            raise serializers.ValidationError({"active": ["true or false"]})
        return paginated(request, self, silences, SilenceSerializer, context={"now": now})

    @extend_schema(
        summary="Silence notifications of matching alerts for a time window",
        request=SilenceWriteSerializer,
        responses={201: SilenceSerializer, 400: OpenApiResponse(description="a field is refused")},
    )
    def post(self, request):
        body = SilenceWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        silence = alert_services.alert_silence_create(
            actor=request.user,
            rule=data.get("rule"),
            kpi=data["kpi"],
            member=data["member"],
            starts_at=data.get("starts_at") or dt.datetime.now(dt.UTC),
            ends_at=data["ends_at"],
            comment=data["comment"],
        )
        return Response(SilenceSerializer(silence).data, status=201)


class SilenceExpireView(APIView):
    permission_classes = [AlertPermission]
    rules_scope = True
    write_perms = {"POST": SILENCE_CHANGE_PERM}

    @extend_schema(summary="End a silence now", request=None, responses={200: SilenceSerializer})
    def post(self, request, pk: int):
        silence = AlertSilence.objects.filter(pk=pk).first()
        if silence is None:
            raise Http404("No such silence.")
        silence = alert_services.alert_silence_expire(silence_id=silence.pk, actor=request.user)
        return Response(SilenceSerializer(silence).data)


urlpatterns = [
    path("alerts/", AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>/acknowledge/", AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
    path("alerts/<int:pk>/assign/", AlertAssignView.as_view(), name="alert-assign"),
    path("alerts/<int:pk>/resolve/", AlertResolveView.as_view(), name="alert-resolve"),
    path("alert-rules/", AlertRuleListView.as_view(), name="alert-rule-list"),
    path("alert-rules/<slug:code>/", AlertRuleDetailView.as_view(), name="alert-rule-detail"),
    path("alert-rules/<slug:code>/replay/", AlertRuleReplayView.as_view(), name="alert-rule-replay"),
    path("alert-silences/", SilenceListView.as_view(), name="alert-silence-list"),
    path("alert-silences/<int:pk>/expire/", SilenceExpireView.as_view(), name="alert-silence-expire"),
]
