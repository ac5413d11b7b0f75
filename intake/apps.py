from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    """Imports and exports (the standard template of DATA_CONTRACT.md)."""

    name = "intake"
    verbose_name = _("Data intake")
