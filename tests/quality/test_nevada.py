"""Nevada charts: the reference conversion, and the database grouping on a fixture."""

import datetime as dt
import json
from pathlib import Path

import pytest
from django.utils import timezone

from quality import selectors
from quality.analysis import reports
from quality.analysis.nevada import month_index, month_label, nevada_lifetimes
from quality.analysis.scope import AnalysisScope
from tests.factories import BatchFactory, FailureFactory, ProductModelFactory, UnitFactory

CASES = [c for c in json.loads(Path("/work/shared/reference/cases.json").read_text())["weibull"] if "nevada" in c]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_failures_and_suspensions_by_mis(case):
    failures, suspensions = nevada_lifetimes(**case["nevada"])
    assert {str(k): v for k, v in failures.items()} == case["expected"]["failures_at_mis"]
    assert {str(k): v for k, v in suspensions.items()} == case["expected"]["suspensions_at_mis"]


def test_month_index_round_trip():
    assert month_index("2010-09") - month_index("2010-06") == 3
    assert month_label(month_index("2024-12")) == "2024-12"


def _at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def fleet(db):
    model = ProductModelFactory(code="NV1")
    batch = BatchFactory(code="NV1-A", product_model=model, produced_on=dt.date(2025, 1, 10))
    jan = [UnitFactory(batch=batch, sold_on=dt.date(2025, 1, 20)) for _ in range(3)]
    feb = [UnitFactory(batch=batch, sold_on=dt.date(2025, 2, 5)) for _ in range(2)]
    UnitFactory(batch=batch, sold_on=None, customer=None)  # stock: not in the chart
    FailureFactory(unit=jan[0], occurred_at=_at(dt.date(2025, 1, 25)))  # MIS 0
    FailureFactory(unit=jan[0], occurred_at=_at(dt.date(2025, 3, 2)))  # MIS 2, a second failure
    FailureFactory(unit=jan[1], occurred_at=_at(dt.date(2025, 3, 30)))  # MIS 2
    FailureFactory(unit=feb[0], occurred_at=_at(dt.date(2025, 3, 1)))  # MIS 1
    FailureFactory(unit=feb[1], occurred_at=_at(dt.date(2025, 5, 1)))  # after the as-of date
    return model


def test_nevada_grid_from_the_database(fleet):
    body = reports.nevada_chart(scope=AnalysisScope(product_model="NV1"), as_of=dt.date(2025, 4, 15))
    rows = {r["month"]: r for r in body["rows"]}
    assert rows["2025-01"]["units"] == 3 and rows["2025-02"]["units"] == 2
    assert rows["2025-01"]["cells"] == {"0": 1, "2": 2}
    assert rows["2025-02"]["cells"] == {"1": 1}
    assert rows["2025-01"]["max_mis"] == 3 and rows["2025-02"]["max_mis"] == 2
    assert body["totals"] == {"0": 1, "1": 1, "2": 2, "3": 0}
    assert body["failures"] == 4 and body["units"] == 5


def test_nevada_first_failures_and_production_basis(fleet):
    first = reports.nevada_chart(scope=AnalysisScope(product_model="NV1"), as_of=dt.date(2025, 4, 15), count="first")
    assert {r["month"]: r["cells"] for r in first["rows"]} == {"2025-01": {"0": 1, "2": 1}, "2025-02": {"1": 1}}
    prod = reports.nevada_chart(
        scope=AnalysisScope(product_model="NV1"), as_of=dt.date(2025, 4, 15), basis="production"
    )
    # All five sold units were produced in January 2025.
    assert [(r["month"], r["units"]) for r in prod["rows"]] == [("2025-01", 5)]
    assert prod["rows"][0]["cells"] == {"0": 1, "2": 3}


def test_nevada_grid_is_grouped_in_the_database(fleet, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        selectors.analysis_nevada_counts(scope=AnalysisScope(product_model="NV1"), as_of=dt.date(2025, 4, 15))
