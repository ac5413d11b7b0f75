"""The default alert rule set (one per seed category); missing codes only."""

from django.db import migrations


def install(apps, schema_editor):
    from quality.services.alerts import alert_rules_install_defaults

    alert_rules_install_defaults(rule_model=apps.get_model("quality", "AlertRule"))


class Migration(migrations.Migration):
    dependencies = [("quality", "0005_alerts")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
