"""The database connection dropped during a KPI refresh: the task is retried and the
stored snapshots equal those of a clean run.

The full refresh runs in one transaction: it locks the state row, reads the marks and
then empties the cube. The test holds the cube table (ACCESS SHARE) so the refresh
waits at that point, terminates its session there (what a database restart or failover
does), and lets the retry through."""

import pytest

from intake.demo import demo_seed
from quality.models import KpiCube, KpiRefreshState, KpiSnapshot
from quality.services.kpi import kpi_snapshots_refresh
from quality.tasks import kpi_snapshots_refresh_task

from .harness import Gate, terminate_backend, wait_backend_gone, wait_backends_waiting, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CUBE = KpiCube._meta.db_table


def stored() -> tuple[list, list]:
    """Every snapshot and cube row, without ids and the time they were computed."""
    snapshots = sorted(
        KpiSnapshot.objects.values_list(
            "kpi", "grain", "period_start", "dimension", "member", "numerator", "denominator", "value",
            "provisional", "definition_version",
        )
    )  # fmt: skip
    cube = sorted(
        KpiCube.objects.values_list(
            "key", "span", "day", "dimension", "member", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "latest"
        )
    )
    return snapshots, cube


def test_a_refresh_whose_connection_is_terminated_is_retried_to_the_clean_result(pair_worker):
    demo_seed(scale="tiny", seed=7)
    kpi_snapshots_refresh(full=True)
    clean = stored()
    assert len(clean[0]) > 1000 and len(clean[1]) > 1000
    KpiSnapshot.objects.all().delete()
    KpiCube.objects.all().delete()
    KpiRefreshState.objects.all().delete()

    gate = Gate().lock_table(CUBE, "ACCESS SHARE")
    try:
        task_id = kpi_snapshots_refresh_task.apply_async(kwargs={"full": True}, queue=pair_worker.queue).id
        [first] = wait_backends_waiting(pair_worker.app_name)
        assert first["query"].startswith("TRUNCATE"), first
        terminate_backend(first["pid"])
        wait_backend_gone(first["pid"])
        pair_worker.wait_log(
            rf"kpi_snapshots_refresh_task\[{task_id}\] retry: Retry in \d+s: (Operational|Interface)Error"
        )
        # The retry gets a new connection and waits at the same point.
        [second] = wait_for(
            lambda: [b for b in wait_backends_waiting(pair_worker.app_name) if b["pid"] != first["pid"]],
            timeout=60,
            what="the retry to reach the cube",
        )
        assert second["query"].startswith("TRUNCATE"), second
        assert KpiSnapshot.objects.count() == 0  # nothing of the killed run was kept
    finally:
        gate.open()
        gate.close()
    pair_worker.succeeded(task_id, timeout=120)
    assert stored() == clean
    state = KpiRefreshState.objects.get()
    assert state.last_full_at is not None and state.covered_from is not None
