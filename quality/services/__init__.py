"""Every write of the quality app, one module per concern; import from here."""

from .kpi import kpi_snapshots_refresh, kpi_target_set, metric_definition_deactivate, metric_definition_save

__all__ = ["kpi_snapshots_refresh", "kpi_target_set", "metric_definition_deactivate", "metric_definition_save"]
