"""Snapshots serve only the KPIs whose history they hold: a KPI registered (or given a
new definition version) after the last full refresh is computed live until the next
full refresh stores its whole range."""

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from quality.kpi import registry
from quality.selectors import kpi_values
from quality.services import kpi_snapshots_refresh
from tests.factories import CustomerFactory, TicketFactory

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 3, 15, 12, tzinfo=SH)


@pytest.fixture
def late_kpi():
    """A copy of the complaint rate under a new code, registered by the test itself."""
    added = []

    def register(code="late_complaint_rate", version=1):
        kpi = dataclasses.replace(registry.kpi_lookup("complaint_rate"), code=code, version=version)
        registry.kpi_register(kpi)
        added.append(code)
        return kpi

    yield register
    for code in added:
        registry._REGISTRY.pop(code, None)


def source(kpi):
    return kpi_values(user=None, kpi=kpi, grain="month", start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 1))


def test_a_kpi_registered_after_the_full_refresh_is_live_until_the_next_full_one(db, late_kpi):
    customer = CustomerFactory(created_at=dt.datetime(2025, 1, 2, tzinfo=SH))
    TicketFactory(customer=customer, type="complaint", created_at=dt.datetime(2025, 2, 3, tzinfo=SH))
    kpi_snapshots_refresh(full=True, now=NOW)
    kpi = late_kpi()
    live = source(kpi)
    assert live["source"] == "live" and [r["numerator"] for r in live["rows"]] == [0, 1]
    kpi_snapshots_refresh(now=NOW + dt.timedelta(hours=1))  # incremental: still not its history
    assert source(kpi)["source"] == "live"
    kpi_snapshots_refresh(full=True, now=NOW + dt.timedelta(hours=2))
    stored = source(kpi)
    assert stored["source"] == "snapshot" and stored["rows"] == live["rows"]
    # A new definition version is live again until the next full refresh.
    newer = late_kpi(version=2)
    assert source(newer)["source"] == "live"
    assert source(registry.kpi_lookup("complaint_rate"))["source"] == "snapshot"


def test_a_state_from_before_the_kpi_list_keeps_serving_snapshots_until_a_full_run(db, late_kpi):
    from quality.models import KpiRefreshState

    CustomerFactory(created_at=dt.datetime(2025, 1, 2, tzinfo=SH))
    kpi_snapshots_refresh(full=True, now=NOW)
    state = KpiRefreshState.objects.get()
    del state.marks["kpis"]  # as an older version wrote it
    state.save(update_fields=["marks"])
    kpi_snapshots_refresh(now=NOW + dt.timedelta(hours=1))
    assert "kpis" not in KpiRefreshState.objects.get().marks
    assert source(registry.kpi_lookup("complaint_rate"))["source"] == "snapshot"
    kpi_snapshots_refresh(full=True, now=NOW + dt.timedelta(hours=2))
    assert KpiRefreshState.objects.get().marks["kpis"]["complaint_rate"] == 1
