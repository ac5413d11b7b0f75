from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Master data")

    def ready(self):
        from . import roles

        roles.register_role_permissions(
            {
                "agent": [
                    "view_customer",
                    "view_unit",
                    "view_productmodel",
                    "view_batch",
                    "view_region",
                    "view_productline",
                    "view_component",
                    "view_supplier",
                ],
                "supervisor": [
                    "view_customer",
                    "view_unit",
                    "view_productmodel",
                    "view_batch",
                    "view_region",
                    "view_productline",
                    "view_component",
                    "view_supplier",
                ],
                "quality_engineer": [
                    "view_customer",
                    "view_unit",
                    "view_productmodel",
                    "view_batch",
                    "view_region",
                    "view_productline",
                    "view_component",
                    "view_supplier",
                ],
                "committee_member": [
                    "view_customer",
                    "view_unit",
                    "view_productmodel",
                    "view_batch",
                    "view_region",
                    "view_productline",
                    "view_component",
                    "view_supplier",
                ],
                "manager": [
                    "view_customer",
                    "view_unit",
                    "view_productmodel",
                    "view_batch",
                    "view_region",
                    "view_productline",
                    "view_component",
                    "view_supplier",
                ],
            },
            app_label="catalog",
        )
        post_migrate.connect(roles.roles_sync_handler, dispatch_uid="catalog.roles_sync")
