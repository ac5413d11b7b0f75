from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImprovementsConfig(AppConfig):
    """Closed-loop improvement: problems, root cause, actions, committee reviews,
    verified effectiveness. Registers into quality (KPIs, alert hooks) and tickets."""

    name = "improvements"
    verbose_name = _("Improvement")

    def ready(self):
        from catalog.roles import register_role_permissions
        from quality.panels import alert_panel_register

        from .hooks import hooks_register
        from .kpis import improvement_kpis_register
        from .panels import alert_improvement_panel

        improvement_kpis_register()
        hooks_register()
        alert_panel_register(
            key="improvements", template="improvements/_alert_panel.html", context=alert_improvement_panel
        )
        read = [
            "view_improvementissue",
            "view_cause",
            "view_action",
            "view_reviewmeeting",
            "view_agendaitem",
            "view_verification",
            "view_fishboneset",
        ]
        work = [
            "add_improvementissue",
            "change_improvementissue",
            "add_cause",
            "change_cause",
            "delete_cause",
            "add_action",
            "change_action",
            "add_verification",
        ]
        meeting_read = ["view_reviewmeeting", "view_agendaitem"]
        meetings = ["add_reviewmeeting", "change_reviewmeeting", "add_agendaitem", "change_agendaitem"]
        register_role_permissions(
            {
                # Owners of actions (any staff) see their actions and the issues they belong to.
                "agent": ["view_action", "change_action"],
                # Supervisors follow their teams' issues; the committee's meetings are not theirs.
                "supervisor": [*(p for p in read if p not in meeting_read), "change_action"],
                "quality_engineer": [*read, *work, *meetings, "add_fishboneset", "change_fishboneset"],
                "committee_member": [*read, *work, *meetings],
                "manager": read,
            },
            app_label="improvements",
        )
