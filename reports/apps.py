from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """PDF quality reports and subscriptions."""

    name = "reports"
    verbose_name = _("Reports")
