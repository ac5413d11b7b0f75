from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImprovementsConfig(AppConfig):
    """Closed-loop improvement (its models arrive with the improvement issue)."""

    name = "improvements"
    verbose_name = _("Improvement")
