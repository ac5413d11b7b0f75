from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Master data")

    def ready(self):
        from . import roles

        # Master data is read by every staff role; it is written through intake and the admin.
        read = [
            "view_customer",
            "view_unit",
            "view_productmodel",
            "view_batch",
            "view_region",
            "view_productline",
            "view_component",
            "view_supplier",
        ]
        roles.register_role_permissions(
            {
                role: read
                for role in (
                    roles.AGENT,
                    roles.SUPERVISOR,
                    roles.QUALITY_ENGINEER,
                    roles.COMMITTEE_MEMBER,
                    roles.MANAGER,
                )
            },
            app_label="catalog",
        )
        # Agents register a new caller while logging the ticket.
        roles.register_role_permissions(
            {roles.AGENT: ["add_customer"], roles.SUPERVISOR: ["add_customer"]}, app_label="catalog"
        )
        post_migrate.connect(roles.roles_sync_handler, dispatch_uid="catalog.roles_sync")
