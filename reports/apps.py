from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """PDF quality reports and subscriptions. Registers its role permissions and the
    "Download PDF" action of the quality dashboards (quality may not import reports)."""

    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        from catalog.roles import register_role_permissions
        from quality.panels import dashboard_action_register

        from .panels import dashboard_pdf_action

        read = ["view_generatedreport"]
        generate = [*read, "add_generatedreport"]
        subscribe = [
            "view_reportsubscription",
            "add_reportsubscription",
            "change_reportsubscription",
            "delete_reportsubscription",
            "view_subscriptiondelivery",
        ]
        register_role_permissions(
            {
                # Everybody who reads dashboards may read (download) their own reports.
                "agent": read,
                "supervisor": read,
                "quality_engineer": generate,
                "committee_member": generate,
                "manager": [*generate, *subscribe],
            },
            app_label="reports",
        )
        dashboard_action_register(
            key="reports-pdf", template="reports/_dashboard_action.html", context=dashboard_pdf_action
        )
        from .builders.capa import capa_links_register  # R2: the issue and recall pages' PDF links

        capa_links_register()
