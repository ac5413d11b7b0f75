from rest_framework.routers import SimpleRouter

from .dispatch import DispatchRuleViewSet, ShiftViewSet
from .notifications import NotificationViewSet, WebhookViewSet
from .sla import BusinessCalendarViewSet, SlaPolicyViewSet
from .views import TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("dispatch-rules", DispatchRuleViewSet, basename="dispatch-rule")
router.register("shifts", ShiftViewSet, basename="shift")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("calendars", BusinessCalendarViewSet, basename="calendar")
urlpatterns = router.urls
