from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = _("Quality")

    def ready(self):
        from catalog.roles import register_role_permissions
        from tickets.panels import ticket_panel_register

        from .kpi.catalogue import catalogue_register
        from .kpi.registry import kpi_provider_register
        from .metrics import metric_kpis
        from .recall_views import recall_ticket_panel
        from .trace_views import failures_panel_context as failures_panel

        catalogue_register()
        ticket_panel_register(key="failures", template="quality/trace/_failures_panel.html", context=failures_panel)
        ticket_panel_register(key="recall", template="quality/recalls/_ticket_panel.html", context=recall_ticket_panel)
        kpi_provider_register(metric_kpis)  # self-service metrics, kept in the database

        read = ["view_failuremode", "view_failure", "view_recall", "view_recallunit", "view_metricdefinition"]
        metric_write = ["add_metricdefinition", "change_metricdefinition"]
        register_role_permissions(
            {
                "agent": [*read, "add_failure", "change_failure", "delete_failure"],
                "supervisor": [*read, "add_failure", "change_failure", "delete_failure"],
                "quality_engineer": [
                    *read,
                    "add_failure",
                    "change_failure",
                    "delete_failure",
                    "add_recall",
                    "change_recall",
                    "add_recallunit",
                    "change_recallunit",
                    "add_failuremode",
                    "change_failuremode",
                    *metric_write,
                ],
                "committee_member": read,
                "manager": [*read, *metric_write],
            },
            app_label="quality",
        )
