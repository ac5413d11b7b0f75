"""Notification and webhook endpoints: thin; parse, call one selector or service, render.

Everyone signed in reads and marks their own notifications (anyone else's is a 404);
webhooks and their delivery logs are for admins (is_staff or the admin role)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.roles import ADMIN, user_roles
from tickets import selectors, services
from tickets.models import Notification, Webhook, WebhookDelivery


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "payload", "urgent", "deliver_after", "read_at", "created_at"]
        read_only_fields = fields


class WebhookSerializer(serializers.ModelSerializer):
    # The secret signs the payloads; it is set, never shown again.
    secret = serializers.CharField(write_only=True, min_length=16, max_length=128)
    kinds = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "secret", "kinds", "active", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "kind",
            "dedupe_key",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class IsAdminRole(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or ADMIN in user_roles(user)))


_UNREAD = OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread notifications (`1` or `true`).")


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The signed-in user's delivered notifications, newest first."""

    serializer_class = NotificationSerializer
    permission_classes = [permissions.IsAuthenticated]
    filter_backends: list = []
    queryset = Notification.objects.none()  # for the schema; rows come from the selector
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").lower() in {"1", "true", "yes"}
        return selectors.notifications_for_user(user=self.request.user, unread_only=unread)

    @extend_schema(parameters=[_UNREAD])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = selectors.notification_get_for_user(user=request.user, pk=pk)
        notification = services.notification_mark_read(user=request.user, notification_id=notification.pk)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        request=None,
        responses={200: inline_serializer("NotificationsReadAll", fields={"marked": serializers.IntegerField()})},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})


class WebhookViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Outbound webhooks (admins only). Payloads are signed with the secret:
    `X-Aftersales-Signature: sha256=<HMAC-SHA256 of the body>`."""

    serializer_class = WebhookSerializer
    permission_classes = [IsAdminRole]
    filter_backends: list = []
    queryset = Webhook.objects.none()

    def get_queryset(self):
        return selectors.webhook_list()

    def create(self, request, *args, **kwargs):
        data = WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        webhook = services.webhook_create(**data.validated_data)
        return Response(WebhookSerializer(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: WebhookDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        webhook = self.get_object()
        page = self.paginate_queryset(selectors.webhook_deliveries(webhook=webhook))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
