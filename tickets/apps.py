from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Service operation")

    def ready(self):
        from catalog.roles import register_role_permissions

        read = ["view_ticket", "view_ticketevent", "view_team", "view_survey"]
        work = [*read, "add_ticket", "change_ticket", "add_ticketevent"]
        register_role_permissions(
            {
                "agent": work,
                "supervisor": [*work, "change_team"],
                "quality_engineer": read,
                "committee_member": read,
                "manager": read,
            },
            app_label="tickets",
        )
