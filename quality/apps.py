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
        # Alerts (issue 7): engineers work alerts and manage rules and silences; managers and
        # committee members read; supervisors read the process alerts of their teams.
        alert_read = ["view_alert", "view_alertevent", "view_alertevaluation", "view_alertrule", "view_alertsilence"]
        alert_work = ["change_alert", "add_alertrule", "change_alertrule", "add_alertsilence", "change_alertsilence"]
        register_role_permissions(
            {
                "agent": [*read, "add_failure", "change_failure", "delete_failure"],
                "supervisor": [*read, "add_failure", "change_failure", "delete_failure", "view_alert"],
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
                    *alert_read,
                    *alert_work,
                ],
                "committee_member": [*read, *alert_read],
                "manager": [*read, *metric_write, *alert_read],
            },
            app_label="quality",
        )
