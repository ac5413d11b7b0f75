"""Effectiveness verification through the KPI engine, with window sums by hand."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from scipy import stats as sps

from catalog.exceptions import ApplicationError, ConflictError
from improvements.models import ImprovementEvent, ImprovementIssue, State, Verification
from improvements.services import issue_create, verification_run
from improvements.services.verification import RATE_DAYS, verification_test_for
from quality.kpi.registry import kpi_lookup
from tests.factories import (
    BatchFactory,
    CustomerFactory,
    FailureFactory,
    FailureModeFactory,
    ProductModelFactory,
    RegionFactory,
    SurveyFactory,
    UnitFactory,
    UserFactory,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 6, 1, 9, tzinfo=SH)
BEFORE = (dt.date(2025, 3, 1), dt.date(2025, 3, 11))  # 10 days
AFTER = (dt.date(2025, 4, 1), dt.date(2025, 4, 11))  # 10 days


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=SH)


@pytest.fixture
def engineer(db):
    return UserFactory(username="qe", roles=["quality_engineer"])


@pytest.fixture
def plant(db):
    """Batch B-BAD: 20 units sold before the windows, 5 more sold on 6 March; batch
    B-OK (the control) 10 units. Exposure of B-BAD: before 20 x 10 + 5 x 5 = 225
    unit-days (a unit sold on 6 March is in service from that day on), after 25 x 10 = 250."""
    model = ProductModelFactory(code="WM1")
    bad = BatchFactory(code="B-BAD", product_model=model)
    ok = BatchFactory(code="B-OK", product_model=model)
    mode = FailureModeFactory(code="BEARING")
    early = [UnitFactory(batch=bad, sold_on=dt.date(2025, 1, 10)) for _ in range(20)]
    late = [UnitFactory(batch=bad, sold_on=dt.date(2025, 3, 6)) for _ in range(5)]
    control = [UnitFactory(batch=ok, sold_on=dt.date(2025, 1, 10)) for _ in range(10)]
    return {"model": model, "bad": bad, "ok": ok, "mode": mode, "units": early + late, "control": control}


def fail(units, day: dt.date, count: int, mode):
    for i in range(count):
        FailureFactory(unit=units[i % len(units)], failure_mode=mode, occurred_at=at(day))


def make_issue(engineer, plant, *, state=State.IMPLEMENTATION) -> ImprovementIssue:
    issue = issue_create(
        title="Bearing wear",
        actor=engineer,
        product_model=plant["model"],
        batches=[plant["bad"]],
        failure_mode=plant["mode"],
        baseline_kpi="failures_per_1000",
        baseline_filters={"batch": "B-BAD"},
        at=NOW - dt.timedelta(days=60),
    )
    ImprovementIssue.objects.filter(pk=issue.pk).update(state=state, state_entered_at=NOW - dt.timedelta(days=1))
    return issue


def run(issue, engineer, **overrides):
    kwargs = dict(
        issue_id=issue.pk,
        actor=engineer,
        kpi="failures_per_1000",
        filters={"batch": "B-BAD"},
        before_start=BEFORE[0],
        before_end=BEFORE[1],
        after_start=AFTER[0],
        after_end=AFTER[1],
        at=NOW,
    )
    kwargs.update(overrides)
    return verification_run(**kwargs)


def test_window_sums_and_an_effective_verdict(engineer, plant):
    units = plant["units"]
    fail(units, dt.date(2025, 3, 2), 18, plant["mode"])
    fail(units, dt.date(2025, 3, 10), 12, plant["mode"])  # the last day of the before window
    fail(units, dt.date(2025, 3, 11), 7, plant["mode"])  # between the windows: not counted
    fail(units, dt.date(2025, 4, 5), 3, plant["mode"])
    fail(plant["control"], dt.date(2025, 4, 5), 9, plant["mode"])  # another batch: out of scope
    issue = make_issue(engineer, plant)

    v = run(issue, engineer, comment="first check")

    assert v.test == "poisson_rate_ratio"
    assert (v.before_numerator, v.before_denominator) == (30, 225)
    assert (v.after_numerator, v.after_denominator) == (3, 250)
    assert v.before_value == pytest.approx(1000 * 30 / 225 * RATE_DAYS)
    assert v.after_value == pytest.approx(1000 * 3 / 250 * RATE_DAYS)
    assert v.effect == pytest.approx((3 / 250) / (30 / 225))  # 0.09
    assert v.relative_change == pytest.approx((3 / 250) / (30 / 225) - 1)
    assert v.p_value == pytest.approx(sps.binom.cdf(3, 33, 250 / 475))
    assert v.ci_low < v.effect < v.ci_high
    assert v.verdict == "effective"
    event = issue.events.get(kind="verification")
    assert (event.from_value, event.to_value, event.comment) == ("failures_per_1000", "effective", "first check")
    issue.refresh_from_db()
    assert issue.state == State.IMPLEMENTATION  # an early check moves nothing


def test_no_change_in_verification_loops_back_to_root_cause(engineer, plant):
    units = plant["units"]
    fail(units, dt.date(2025, 3, 3), 10, plant["mode"])
    fail(units, dt.date(2025, 4, 3), 11, plant["mode"])  # 10/225 before, 11/250 after: the same rate
    issue = make_issue(engineer, plant, state=State.VERIFICATION)

    v = run(issue, engineer)

    assert v.verdict == "not_effective"
    issue.refresh_from_db()
    assert issue.state == State.ROOT_CAUSE
    assert issue.loop_count == 1
    assert list(issue.events.order_by("id").values_list("kind", flat=True))[-2:] == ["verification", "not_effective"]


def test_a_partial_result_in_verification_stays(engineer, plant):
    # A real but small sample: 6 -> 3 failures halves the rate (large) but p is about 0.2.
    fail(plant["units"], dt.date(2025, 3, 3), 6, plant["mode"])
    fail(plant["units"], dt.date(2025, 4, 3), 3, plant["mode"])
    issue = make_issue(engineer, plant, state=State.VERIFICATION)
    v = run(issue, engineer)
    assert v.p_value == pytest.approx(sps.binom.cdf(3, 9, 250 / 475))
    assert v.verdict == "partial"
    issue.refresh_from_db()
    assert issue.state == State.VERIFICATION and issue.loop_count == 0


def test_control_group_takes_out_a_common_drop(engineer, plant):
    """Treated 30 -> 15, control 20 -> 10 over the same windows: both halved, the fix
    itself did nothing."""
    fail(plant["units"], dt.date(2025, 3, 3), 30, plant["mode"])
    fail(plant["units"], dt.date(2025, 4, 3), 15, plant["mode"])
    fail(plant["control"], dt.date(2025, 3, 3), 20, plant["mode"])
    fail(plant["control"], dt.date(2025, 4, 3), 10, plant["mode"])
    issue = make_issue(engineer, plant)
    v = run(issue, engineer, control_filters={"batch": "B-OK"})
    assert v.control["before_denominator"] == 100 and v.control["after_denominator"] == 100
    assert v.control["before_numerator"] == 20 and v.control["after_numerator"] == 10
    treated_ratio = (15 / 250) / (30 / 225)
    assert v.effect == pytest.approx(treated_ratio / 0.5)
    assert v.verdict == "not_effective"


def test_two_proportion_on_a_percentage_kpi(engineer, plant):
    east = RegionFactory(name="East")
    customer = CustomerFactory(region=east)
    for i in range(10):
        SurveyFactory(customer=customer, responded_at=at(dt.date(2025, 3, 2)), csat=5 if i < 5 else 2)
    for i in range(20):
        SurveyFactory(customer=customer, responded_at=at(dt.date(2025, 4, 2)), csat=5 if i < 18 else 1)
    SurveyFactory(responded_at=at(dt.date(2025, 4, 2)), csat=1)  # another region
    issue = make_issue(engineer, plant)
    v = run(issue, engineer, kpi="csat", filters={"region": "East"}, min_effect=0.3)
    assert v.test == "two_proportion"
    assert (v.before_numerator, v.before_denominator, v.after_numerator, v.after_denominator) == (5, 10, 18, 20)
    assert v.before_value == pytest.approx(50) and v.after_value == pytest.approx(90)
    assert v.effect == pytest.approx(40)  # percentage points
    assert v.relative_change == pytest.approx(0.8)
    assert v.verdict == "effective"


def test_which_kpis_are_testable():
    expected = {
        "failures_per_1000": "poisson_rate_ratio",
        "first_failure_rate": "poisson_rate_ratio",
        "complaint_rate": "poisson_rate_ratio",
        "first_time_fix_rate": "two_proportion",
        "csat": "two_proportion",
        "action_on_time_rate": "two_proportion",
        "nps": None,
        "first_response_hours": None,
        "improvement_closure_days": None,
        "backlog": None,
        "recall_completion_rate": None,
    }
    assert {code: verification_test_for(kpi_lookup(code)) for code in expected} == expected


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kpi": "first_response_hours"}, "kpi"),
        ({"kpi": "no_such_kpi"}, "kpi"),
        ({"after_start": dt.date(2025, 3, 5)}, "after_start"),  # overlaps the before window
        ({"before_end": BEFORE[0]}, "before_end"),  # empty
        ({"after_end": dt.date(2025, 6, 3)}, "after_end"),  # NOW is 1 June: the 3rd is not over
        ({"filters": {"assignee": "someone"}}, "filters"),  # not a dimension of the KPI
        ({"control_filters": {"team": "A"}}, "control_filters"),
        ({"alpha": 2}, "alpha"),
        ({"before_start": "March"}, "before_start"),
    ],
)
def test_usage_errors_write_nothing(engineer, plant, overrides, field):
    fail(plant["units"], dt.date(2025, 3, 3), 5, plant["mode"])
    issue = make_issue(engineer, plant, state=State.VERIFICATION)
    events = ImprovementEvent.objects.count()
    with pytest.raises(ApplicationError) as caught:
        run(issue, engineer, **overrides)
    assert field in caught.value.errors
    assert Verification.objects.count() == 0
    assert ImprovementEvent.objects.count() == events
    issue.refresh_from_db()
    assert issue.state == State.VERIFICATION


def test_a_closed_issue_is_not_verified(engineer, plant):
    issue = make_issue(engineer, plant, state=State.CLOSED)
    with pytest.raises(ConflictError):
        run(issue, engineer)
    assert Verification.objects.count() == 0


# The issue page's form and the API


@pytest.fixture
def effective_data(plant):
    fail(plant["units"], dt.date(2025, 3, 2), 30, plant["mode"])
    fail(plant["units"], dt.date(2025, 4, 5), 3, plant["mode"])


def form_data(**overrides):
    data = {
        "kpi": "failures_per_1000",
        "filters": "batch=B-BAD",
        "before_start": "2025-03-01",
        "before_end": "2025-03-11",
        "after_start": "2025-04-01",
        "after_end": "2025-04-11",
        "alpha": "0.05",
        "min_effect": "20",
        "control_filters": "",
    }
    data.update(overrides)
    return data


def test_the_page_form_runs_a_verification(engineer, plant, effective_data):
    from django.contrib.messages import get_messages
    from django.test import Client

    issue = make_issue(engineer, plant, state=State.VERIFICATION)
    client = Client()
    client.force_login(engineer)
    response = client.post(f"/improvements/issues/{issue.pk}/verifications/", form_data())
    assert response.status_code == 302
    assert response["Location"] == f"/improvements/issues/{issue.pk}/#verifications"
    v = Verification.objects.get()
    assert (v.min_effect, v.filters, v.control_filters) == (0.2, {"batch": "B-BAD"}, None)
    assert v.verdict == "effective"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Verification done: Effective."]
    page = client.get(f"/improvements/issues/{issue.pk}/").content.decode()
    assert f'data-verification="{v.pk}"' in page and 'data-verdict="effective"' in page
    assert 'name="kpi"' in page and 'value="failures_per_1000"' in page
    assert 'value="first_response_hours"' not in page  # a mean KPI is not offered


def test_the_page_form_shows_a_refusal_and_writes_nothing(engineer, plant):
    from django.contrib.messages import get_messages
    from django.test import Client

    issue = make_issue(engineer, plant)
    client = Client()
    client.force_login(engineer)
    response = client.post(f"/improvements/issues/{issue.pk}/verifications/", form_data(after_start="2025-03-05"))
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "The after window must start" in message
    response = client.post(f"/improvements/issues/{issue.pk}/verifications/", form_data(filters="batch"))
    assert "dimension=member" in [str(m) for m in get_messages(response.wsgi_request)][-1]
    assert Verification.objects.count() == 0


def test_the_page_form_needs_the_permission(engineer, plant):
    from django.test import Client

    issue = make_issue(engineer, plant)
    manager = UserFactory(username="boss", roles=["manager"])  # reads, does not verify
    client = Client()
    client.force_login(manager)
    assert client.post(f"/improvements/issues/{issue.pk}/verifications/", form_data()).status_code == 403
    assert Verification.objects.count() == 0


def test_api_runs_and_lists(engineer, plant, effective_data):
    from tests.conftest import api_for

    issue = make_issue(engineer, plant)
    client = api_for(engineer)
    url = f"/api/v1/improvement-issues/{issue.pk}/verifications/"
    body = {
        "kpi": "failures_per_1000",
        "filters": {"batch": "B-BAD"},
        "before_start": "2025-03-01",
        "before_end": "2025-03-11",
        "after_start": "2025-04-01",
        "after_end": "2025-04-11",
    }
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["verdict"] == "effective" and data["before_denominator"] == 225 and data["issue"] == issue.code
    assert [row["id"] for row in client.get(url).json()] == [data["id"]]

    bad = client.post(url, {**body, "kpi": "first_response_hours", "filters": {"nope": "x"}}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"kpi", "filters"} and bad.json()["detail"]
    missing = client.post(url, {"kpi": "failures_per_1000"}, format="json")
    assert missing.status_code == 400 and "before_start" in missing.json()["errors"]
    assert Verification.objects.count() == 1

    outsider = api_for(UserFactory(username="agent_x", roles=["agent"]))
    assert outsider.post(url, body, format="json").status_code == 404


def test_the_forms_default_windows(engineer, plant):
    from improvements.verification_views import default_windows

    issue = make_issue(engineer, plant)  # detected 60 days before NOW, no baseline window
    today = dt.date(2025, 6, 1)
    assert default_windows(issue, today=today) == {
        "before_start": dt.date(2025, 1, 2),
        "before_end": dt.date(2025, 4, 2),
        "after_start": dt.date(2025, 4, 2),  # not before the before window's end
        "after_end": dt.date(2025, 6, 2),
    }
    issue.baseline_start, issue.baseline_end = dt.date(2024, 10, 1), dt.date(2024, 11, 1)
    assert default_windows(issue, today=today) == {
        "before_start": dt.date(2024, 10, 1),
        "before_end": dt.date(2024, 11, 1),
        "after_start": dt.date(2025, 3, 4),  # the last 90 days
        "after_end": dt.date(2025, 6, 2),
    }
