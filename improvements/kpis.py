"""The improvement KPIs, registered into quality's KPI registry (METRICS.md):
improvement_closure_days, improvement_review_cycles, action_on_time_rate and the
per-phase durations. (Helper H2 implements this module.)"""


def improvement_kpis_register() -> None:
    pass
