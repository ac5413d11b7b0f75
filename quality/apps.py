from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = _("Quality")

    def ready(self):
        from catalog.roles import register_role_permissions

        read = ["view_failuremode", "view_failure", "view_recall", "view_recallunit"]
        register_role_permissions(
            {
                "agent": [*read, "add_failure", "change_failure"],
                "supervisor": [*read, "add_failure", "change_failure"],
                "quality_engineer": [
                    *read,
                    "add_failure",
                    "change_failure",
                    "add_recall",
                    "change_recall",
                    "add_recallunit",
                    "change_recallunit",
                    "add_failuremode",
                    "change_failuremode",
                ],
                "committee_member": read,
                "manager": read,
            },
            app_label="quality",
        )
