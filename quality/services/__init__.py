"""Every write of the quality app, one module per concern; import from here."""

from .alerts import (
    alert_acknowledge,
    alert_assign,
    alert_evaluations_purge,
    alert_resolve,
    alert_rule_replay,
    alert_rule_save,
    alert_rules_evaluate,
    alert_rules_install_defaults,
    alert_silence_create,
    alert_silence_expire,
)
from .failures import failure_delete, failure_record, failure_repeats_mark, failure_update
from .kpi import (
    kpi_change_marks_register,
    kpi_snapshots_refresh,
    kpi_target_set,
    metric_definition_deactivate,
    metric_definition_save,
)
from .recalls import (
    recall_create,
    recall_transition,
    recall_unit_remedy_ticket,
    recall_unit_set_status,
    recall_units_compute,
    recall_units_notify,
    recall_units_remedied_sync,
    recall_update,
)

__all__ = [
    "alert_acknowledge",
    "alert_assign",
    "alert_evaluations_purge",
    "alert_resolve",
    "alert_rule_replay",
    "alert_rule_save",
    "alert_rules_evaluate",
    "alert_rules_install_defaults",
    "alert_silence_create",
    "alert_silence_expire",
    "failure_delete",
    "failure_record",
    "failure_repeats_mark",
    "failure_update",
    "kpi_change_marks_register",
    "kpi_snapshots_refresh",
    "kpi_target_set",
    "metric_definition_deactivate",
    "metric_definition_save",
    "recall_create",
    "recall_transition",
    "recall_unit_remedy_ticket",
    "recall_unit_set_status",
    "recall_units_compute",
    "recall_units_notify",
    "recall_units_remedied_sync",
    "recall_update",
]
