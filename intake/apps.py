from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    """Imports and exports (the standard template of DATA_CONTRACT.md)."""

    name = "intake"
    verbose_name = _("Data intake")

    def ready(self):
        from catalog.roles import register_role_permissions
        from quality.selectors import data_quality_provider_register

        from .selectors import data_quality_card

        # The KPI cards show the score of the records behind each KPI.
        data_quality_provider_register(data_quality_card)

        read = ["view_importrun", "view_importrowerror", "view_mappingprofile"]
        write = [*read, "add_importrun", "add_mappingprofile", "change_mappingprofile"]
        register_role_permissions(
            {"quality_engineer": write, "supervisor": read, "manager": read, "committee_member": read},
            app_label="intake",
        )
