"""The KPI engine against METRICS.md: every catalogue KPI on a small hand-checked world
(tests/quality/kpi_fixtures.py), period boundaries, time zones, weeks across a year
end, empty denominators, (none) members, the failures_per_1000 component rule, the
provisional flag of repeat_failure_rate, the reference survey cases and usage errors."""

import datetime as dt
import json
from pathlib import Path

import pytest
import time_machine

from catalog.exceptions import ApplicationError
from quality.kpi.engine import KpiUsageError, kpi_compute
from quality.kpi.registry import kpi_lookup, kpi_registry
from tests.factories import CustomerFactory, RegionFactory, SurveyFactory
from tests.quality import kpi_fixtures
from tests.quality.kpi_fixtures import CATALOGUE_CODES, END, EXPECTED, FEB, JAN, START, C, L, R, assert_rows

# The shared fixtures (kpi_fixtures.py), under their own names for pytest.
kpi_settings = kpi_fixtures.kpi_settings
world = kpi_fixtures.world

LATER = L(2026, 6, 1)  # every repeat window of the fixture is closed by then
CASES = Path("/work/shared/reference/cases.json")


def compute(code, *, grain="month", start=START, end=END, by=(), filters=None, now=LATER, **kwargs):
    return kpi_compute(
        kpi=kpi_lookup(code), grain=grain, start=start, end=end, by=by, filters=filters, now=now, **kwargs
    )


# The catalogue itself


def test_every_catalogue_kpi_is_registered_and_checked_by_hand():
    registry = kpi_registry()
    assert set(CATALOGUE_CODES) <= set(registry)
    assert {code for code, _by in EXPECTED} == set(CATALOGUE_CODES)


# code: (unit, direction, kind, dims METRICS.md requires)
TICKET = {
    "region",
    "segment",
    "channel",
    "type",
    "priority",
    "team",
    "assignee",
    "product_line",
    "product_model",
    "batch",
}
UNIT = {"region", "segment", "product_line", "product_model", "batch"}
DEFINITIONS = {
    "csat": ("%", "up", "ratio", TICKET),
    "nps": ("points", "up", "ratio", TICKET),
    "complaint_rate": ("per_10k_customers", "down", "ratio", {"region", "segment"}),
    "first_failure_rate": ("%", "down", "ratio", UNIT),
    "failures_per_1000": ("per_1000_units", "down", "ratio", UNIT | {"component"}),
    "repeat_failure_rate": ("%", "down", "ratio", UNIT | {"component"}),
    "failure_response_hours": ("h", "down", "mean", TICKET),
    "first_response_hours": ("h", "down", "mean", TICKET),
    "resolution_hours": ("h", "down", "mean", TICKET),
    "first_time_fix_rate": ("%", "up", "ratio", TICKET),
    "sla_compliance": ("%", "up", "ratio", TICKET),
    "dispatch_accuracy": ("%", "up", "ratio", TICKET),
    "dispatch_minutes": ("min", "down", "mean", TICKET),
    "auto_dispatch_rate": ("%", "up", "ratio", TICKET),
    "repeat_ticket_rate": ("%", "down", "ratio", TICKET),
    "closure_rate": ("%", "up", "ratio", TICKET),
    "follow_up_rate": ("%", "up", "ratio", TICKET),
    "backlog": ("tickets", "down", "count", TICKET),
    "service_cost_per_ticket": ("currency", "down", "mean", TICKET),
    "recall_rate": ("%", "down", "ratio", {"product_line", "product_model"}),
    "recall_completion_rate": ("%", "up", "ratio", UNIT | {"recall"}),
    "preventive_coverage": ("%", "up", "ratio", {"region", "segment"}),
}


@pytest.mark.parametrize("code", CATALOGUE_CODES)
def test_definition_matches_metrics_md(code):
    kpi = kpi_lookup(code)
    unit, direction, kind, dims = DEFINITIONS[code]
    assert (kpi.unit, kpi.direction, kpi.kind) == (unit, direction, kind)
    assert dims <= set(kpi.dims)
    assert (kpi.denominator is None) == (kind == "count")


# Values on the hand-checked world


@pytest.mark.parametrize(("code", "by"), list(EXPECTED), ids=[f"{c}-{'-'.join(b) or 'total'}" for c, b in EXPECTED])
def test_value_by_hand(world, code, by):
    assert_rows(compute(code, by=by), EXPECTED[(code, by)])


def _whole_catalogue():
    for (code, by), expected in EXPECTED.items():
        assert_rows(compute(code, by=by), expected)


def test_whole_catalogue_by_hand(world):
    _whole_catalogue()


@pytest.mark.postgres
def test_whole_catalogue_by_hand_on_postgres(world):
    """The same hand values on PostgreSQL (CI runs the suite on both databases)."""
    _whole_catalogue()


# Periods, boundaries and time zones


def test_day_grain_puts_a_utc_evening_on_the_next_local_day(world):
    # S3 answered at 2026-01-31T16:30Z = 2026-02-01 00:30 in Shanghai.
    rows = compute("csat", grain="day", start=dt.date(2026, 1, 31), end=dt.date(2026, 2, 2))
    assert_rows(rows, [R("2026-02-01", 100.0, 1, 1)])


def test_day_grain_stock_denominator_cut_at_each_day(world):
    # T3 (UTC Jan 31 16:30) is a complaint of Feb 1. Customers before Feb 1 00:00: C1-C3;
    # before Feb 2 00:00: + C4 (created exactly Feb 1 00:00).
    rows = compute("complaint_rate", grain="day", start=dt.date(2026, 1, 31), end=dt.date(2026, 2, 2))
    assert_rows(rows, [R("2026-01-31", 0.0, 0, 3), R("2026-02-01", 2500.0, 1, 4)])


def test_periods_follow_the_configured_zone(world, settings):
    settings.KPI_TIME_ZONE = "UTC"
    # In UTC, T3 (Jan 31 16:30Z) is a January complaint and C4 (Jan 31 16:00Z) a January
    # customer; T8 (Feb 10 02:00Z) is February and C5 (Feb 28 16:00Z) a February customer.
    assert_rows(compute("complaint_rate"), [R(JAN, 2500.0, 1, 4), R(FEB, 2000.0, 1, 5)])


def test_week_across_the_year_end(world):
    # ISO week of 2025-12-29 .. 2026-01-04: T13 (Dec 31 23:59, 4 h) and T1 (Jan 1, 2 h);
    # week of 2026-01-05: T5 (6 h). T6 has no response.
    rows = compute("first_response_hours", grain="week", start=dt.date(2025, 12, 29), end=dt.date(2026, 1, 12))
    assert_rows(rows, [R("2025-12-29", 3.0, 6.0, 2), R("2026-01-05", 6.0, 6.0, 1)])


def test_range_starting_mid_week_cuts_the_first_row_but_keeps_its_label(world):
    # The first row covers [2026-01-01, 2026-01-05): T1 only; T13 (Dec 31) is cut off.
    rows = compute("first_response_hours", grain="week", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 12))
    assert_rows(rows, [R("2025-12-29", 2.0, 2.0, 1), R("2026-01-05", 6.0, 6.0, 1)])


def test_cut_rows_end_where_the_range_ends(world):
    # [2026-01-01, 2026-01-10): the second week is cut at Jan 10 00:00, so T5 (resolved
    # exactly then) falls outside; backlog at Jan 10 00:00 counts T5, T6, T13.
    rows = compute("resolution_hours", grain="week", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 10))
    assert_rows(rows, [R("2025-12-29", 180.0, 360.0, 2)])  # T1 48 h, T12 312 h
    rows = compute("backlog", grain="week", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 10))
    # End of the first row Jan 5 00:00: T13 (T5 is created exactly then).
    assert_rows(rows, [C("2025-12-29", 1), C("2026-01-05", 3)])


def test_quarter_and_year_grains(world):
    # The range is cut at Mar 1: one quarter row and one year row, both labelled at the boundary.
    assert_rows(compute("first_response_hours", grain="quarter"), [R("2026-01-01", 19 / 6, 19.0, 6)])
    assert_rows(compute("backlog", grain="year"), [C("2026-01-01", 5)])


# Empty denominators and omitted rows


def test_no_records_no_rows(world):
    span = {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 3, 1)}
    for code in ("csat", "complaint_rate", "backlog", "first_failure_rate", "recall_completion_rate"):
        assert compute(code, **span) == [], code


def test_a_denominator_alone_keeps_the_row_with_value_zero(world):
    # July 2025: customers C1, C2 exist; no complaint -> 0, not omitted.
    rows = compute("complaint_rate", start=dt.date(2025, 7, 1), end=dt.date(2025, 8, 1))
    assert_rows(rows, [R("2025-07-01", 0.0, 0, 2)])


def test_numerator_without_denominator_gives_value_none(world):
    # F5 fails on U6, a unit with no sale date: counted, but there is no unit of R1.
    rows = compute("failures_per_1000", by=("product_model",), filters={"product_model": "R1"})
    assert_rows(rows, [R(JAN, None, 1, 0, product_model="R1")])


def test_none_member_can_be_filtered(world):
    rows = compute("resolution_hours", filters={"product_model": "(none)"})
    assert_rows(rows, [R(JAN, 2.0, 2.0, 1), R(FEB, 31 / 3, 31.0, 3)])
    rows = compute("first_failure_rate", filters={"region": "(none)"})
    assert_rows(rows, [R(JAN, 100.0, 1, 1), R(FEB, 0.0, 0, 1)])


# Dimension rules


def test_failures_per_1000_component_filters_only_the_numerator(world):
    # P1 failures: F1 (Jan, M1), F2 (Feb, M1), F8 and F9 (Feb, M2). The denominator is
    # every unit of the product model, whatever its components.
    rows = compute("failures_per_1000", by=("product_model",), filters={"component": "P1"})
    assert_rows(
        rows,
        [
            R(JAN, 250.0, 1, 4, product_model="M1"),
            R(FEB, 250.0, 1, 4, product_model="M1"),
            R(FEB, 2000.0, 2, 1, product_model="M2"),
        ],
    )


def test_a_recall_filter_keeps_each_pair_once(world):
    # RC1's pairs: U1, U2, U3, U7 (U3 is also in RC2, which must not count here).
    assert_rows(compute("recall_completion_rate", filters={"recall": "RC1"}), [R(JAN, 25.0, 1, 4), R(FEB, 50.0, 2, 4)])
    # RC2 opened exactly at the end of January: no January pair.
    rows = compute("recall_completion_rate", by=("region",), filters={"recall": "RC2"})
    assert_rows(rows, [R(FEB, 100.0, 1, 1, region="(none)")])


def test_survey_region_is_the_surveys_own_customer(world):
    # S2 is C2's (West) answer about C1's (East) ticket T1.
    rows = compute("nps", filters={"region": "West"})
    assert_rows(rows, [R(JAN, -100.0, -1, 1)])


def test_service_cost_follows_the_labour_rate(world, settings):
    settings.LABOR_RATE = 50
    # Jan: F5 100 + 50 x 1.5, F7 20.5 + 50 x 0.25 = 208; Feb: F3 0 + 50 x 2.
    assert_rows(compute("service_cost_per_ticket"), [R(JAN, 52.0, 208.0, 4), R(FEB, 25.0, 100.0, 4)])


# repeat_failure_rate: the window and the provisional flag


def test_repeat_failure_rows_are_provisional_while_a_window_is_open(world):
    now = L(2026, 3, 4)
    # Jan: latest repair Jan 21 12:00, window closed Feb 20. Feb: F9 repaired Feb 5 09:00,
    # open until Mar 7 09:00. By component, Feb (none) holds only F3 (closed Mar 3 10:00).
    assert_rows(compute("repeat_failure_rate", now=now), [R(JAN, 100 / 3, 1, 3), R(FEB, 50.0, 2, 4, True)])
    rows = compute("repeat_failure_rate", by=("component",), now=now)
    assert_rows(
        rows,
        [
            R(JAN, 50.0, 1, 2, component="P1"),
            R(JAN, 0.0, 0, 1, component="P2"),
            R(FEB, 100.0, 1, 1, component="(none)"),
            R(FEB, 100 / 3, 1, 3, True, component="P1"),
        ],
    )


def test_repeat_failure_provisional_uses_the_clock(world):
    with time_machine.travel(L(2026, 3, 7, 8, 59), tick=False):
        rows = compute("repeat_failure_rate", now=None)
    assert [r["provisional"] for r in rows] == [False, True]
    with time_machine.travel(L(2026, 3, 7, 9, 1), tick=False):
        rows = compute("repeat_failure_rate", now=None)
    assert [r["provisional"] for r in rows] == [False, False]


def test_repeat_failure_window_is_a_setting(world, settings):
    settings.REPEAT_FAILURE_WINDOW_DAYS = 1
    # With a one-day window no failure recurs in time; Feb's window closed Feb 6 09:00.
    rows = compute("repeat_failure_rate", now=L(2026, 3, 4))
    assert_rows(rows, [R(JAN, 0.0, 0, 3), R(FEB, 0.0, 0, 4)])


# The reference cases (/work/shared/reference/cases.json)


def _survey_case(case_id):
    return next(c for c in json.loads(CASES.read_text())["survey_kpis"] if c["id"] == case_id)


def _expand(spec: str) -> list[int]:
    scores = []
    for part in spec.split(","):
        count, score = part.strip().split("x")
        scores += [int(score)] * int(count)
    return scores


@pytest.mark.parametrize("case_id", ["nps-raw", "csat-intercom"])
def test_reference_survey_cases(kpi_settings, case_id):
    case = _survey_case(case_id)
    customer = CustomerFactory(region=RegionFactory(name="East"), created_at=L(2024, 1, 1))
    when = L(2026, 5, 10, 12)
    if "nps_scores" in case:
        code, key, scores = "nps", "nps", case["nps_scores"]
        for score in scores:
            SurveyFactory(customer=customer, responded_at=when, csat=None, nps=score)
        expected = case["expected"]["nps"]
    else:
        code, key, scores = "csat", "csat", _expand(case["csat_scores"])
        for score in scores:
            SurveyFactory(customer=customer, responded_at=when, csat=score, nps=None)
        expected = case["expected"]["csat_percent"]
    assert key in ("nps", "csat")
    rows = compute(code, start=dt.date(2026, 5, 1), end=dt.date(2026, 6, 1))
    assert len(rows) == 1
    assert rows[0]["value"] == pytest.approx(expected, rel=1e-9)
    assert rows[0]["denominator"] == len(scores)


# Usage errors


@pytest.mark.parametrize(
    ("code", "kwargs", "field"),
    [
        ("complaint_rate", {"by": ("channel",)}, "by"),
        ("csat", {"by": ("component",)}, "by"),
        ("recall_rate", {"by": ("region",)}, "by"),
        ("csat", {"by": ("region", "region")}, "by"),
        ("first_failure_rate", {"filters": {"team": "Team A"}}, "filters"),
        ("csat", {"grain": "fortnight"}, "grain"),
        ("csat", {"start": END, "end": START}, "end"),
        ("csat", {"start": START, "end": START}, "end"),
        ("csat", {"start": dt.date(1, 1, 1)}, "start"),
        ("csat", {"end": dt.date(9999, 12, 31)}, "end"),
    ],
)
def test_usage_errors(kpi_settings, code, kwargs, field):
    with pytest.raises(KpiUsageError) as caught:
        compute(code, **kwargs)
    assert isinstance(caught.value, ApplicationError)
    assert field in caught.value.errors
    assert caught.value.errors[field] and all(isinstance(m, str) and m for m in caught.value.errors[field])
    assert caught.value.message


def test_unsupported_dimension_message_names_the_supported_ones(kpi_settings):
    with pytest.raises(KpiUsageError) as caught:
        compute("complaint_rate", by=("channel",))
    message = caught.value.errors["by"][0]
    assert "channel" in message and "region" in message and "segment" in message
