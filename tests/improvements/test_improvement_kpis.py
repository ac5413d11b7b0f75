"""The improvement KPIs by hand on a fixture (METRICS.md, "Continuous improvement")."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from improvements.models import Action, AgendaItem, ImprovementIssue, ReviewMeeting, State
from quality.kpi.engine import kpi_compute, kpi_records
from quality.kpi.periods import Period
from quality.kpi.registry import kpi_lookup, kpi_registry
from tests.conftest import api_for
from tests.factories import ProductLineFactory, ProductModelFactory, UserFactory

SH = ZoneInfo("Asia/Shanghai")
FEB = (dt.date(2025, 2, 1), dt.date(2025, 3, 1))


def t(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def issue(code, *, detected, closed=None, severity="major", model=None, **days):
    return ImprovementIssue.objects.create(
        code=code,
        title=code,
        severity=severity,
        state=State.CLOSED if closed else State.ROOT_CAUSE,
        detected_at=detected,
        closed_at=closed,
        product_model=model,
        product_line=model.product_line if model else None,
        **days,
    )


@pytest.fixture
def fixture(db):
    washer = ProductLineFactory(code="washer")
    dryer = ProductLineFactory(code="dryer", name="Dryer")
    wm = ProductModelFactory(code="WM1", product_line=washer)
    dm = ProductModelFactory(code="DM1", product_line=dryer)
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    # Closed exactly at the period start (in P): 31 days.
    i1 = issue("I1", detected=t(2025, 1, 1), closed=t(2025, 2, 1), severity="critical", model=wm, root_cause_days=3.0)
    # 25.5 days.
    i2 = issue("I2", detected=t(2025, 1, 15, 12), closed=t(2025, 2, 10), model=dm, root_cause_days=5.0)
    # Closed exactly at the period end: not in P.
    i3 = issue("I3", detected=t(2025, 1, 1), closed=t(2025, 3, 1), model=wm, root_cause_days=100.0)
    issue("I4", detected=t(2025, 1, 1), model=wm)  # open
    m1 = ReviewMeeting.objects.create(title="R1", held_on=dt.date(2025, 1, 20))
    m2 = ReviewMeeting.objects.create(title="R2", held_on=dt.date(2025, 1, 27))
    m3 = ReviewMeeting.objects.create(title="R3", held_on=dt.date(2025, 2, 3))
    decided = {"decision": "more_analysis", "decided_at": t(2025, 1, 20)}
    # I1: two decided items in one meeting count once, plus another meeting: 2 reviews.
    AgendaItem.objects.create(meeting=m1, kind="new_problem", issue=i1, **decided)
    AgendaItem.objects.create(meeting=m1, kind="plan_approval", issue=i1, **decided)
    AgendaItem.objects.create(meeting=m2, kind="other", issue=i1, **decided)
    # I2: an undecided item does not count: 1 review.
    AgendaItem.objects.create(meeting=m2, kind="other", issue=i2, **decided)
    AgendaItem.objects.create(meeting=m3, kind="other", issue=i2)
    AgendaItem.objects.create(meeting=m3, kind="other", issue=i3, **decided)

    def action(title, owner, due, done=None, on=i1, moved=None):
        return Action.objects.create(
            issue=on,
            kind="corrective",
            title=title,
            owner=owner,
            due_on=due,
            current_due_on=moved or due,
            status="done" if done else "open",
            completed_on=done,
        )

    a1 = action("A1", alice, dt.date(2025, 2, 1), done=dt.date(2025, 2, 1))  # on time, at the start of P
    # Late against the ORIGINAL due date, though the current one moved past the completion.
    action("A2", alice, dt.date(2025, 2, 10), done=dt.date(2025, 2, 11), moved=dt.date(2025, 2, 15))
    action("A3", bob, dt.date(2025, 2, 28), on=i2)  # not done
    action("A4", bob, dt.date(2025, 3, 1), done=dt.date(2025, 2, 1))  # due after P
    action("A5", bob, dt.date(2025, 1, 31), done=dt.date(2025, 1, 30))  # due before P
    return {"issues": (i1, i2, i3), "a1": a1}


def rows(code, *, by=(), start=FEB[0], end=FEB[1], grain="month"):
    return kpi_compute(kpi=kpi_lookup(code), grain=grain, start=start, end=end, by=by)


def test_closure_days_by_hand(fixture):
    [row] = rows("improvement_closure_days")
    assert row["denominator"] == 2
    assert row["numerator"] == pytest.approx(31 + 25.5)
    assert row["value"] == pytest.approx(28.25)
    by_severity = {r["severity"]: r["value"] for r in rows("improvement_closure_days", by=("severity",))}
    assert by_severity == {"critical": pytest.approx(31), "major": pytest.approx(25.5)}
    by_line = {r["product_line"]: r["value"] for r in rows("improvement_closure_days", by=("product_line",))}
    assert by_line == {"dryer": pytest.approx(25.5), "washer": pytest.approx(31)}
    [march] = rows("improvement_closure_days", start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 1))
    assert march["value"] == pytest.approx(59)  # I3, closed at the start of March


def test_review_cycles_by_hand(fixture):
    [row] = rows("improvement_review_cycles")
    assert (row["numerator"], row["denominator"]) == (3, 2)  # I1: 2 meetings, I2: 1
    assert row["value"] == pytest.approx(1.5)
    by_model = {r["product_model"]: r["value"] for r in rows("improvement_review_cycles", by=("product_model",))}
    assert by_model == {"WM1": pytest.approx(2), "DM1": pytest.approx(1)}


def test_action_on_time_rate_by_hand(fixture):
    [row] = rows("action_on_time_rate")
    assert (row["numerator"], row["denominator"]) == (1, 3)
    assert row["value"] == pytest.approx(100 / 3)
    by_owner = {r["owner"]: r["value"] for r in rows("action_on_time_rate", by=("owner",))}
    assert by_owner == {"alice": pytest.approx(50), "bob": pytest.approx(0)}
    by_line = {
        r["product_line"]: (r["numerator"], r["denominator"]) for r in rows("action_on_time_rate", by=("product_line",))
    }
    assert by_line == {"washer": (1, 2), "dryer": (0, 1)}


def test_phase_durations(fixture):
    [row] = rows("improvement_root_cause_days")
    assert row["value"] == pytest.approx(4.0)
    phases = [code for code in kpi_registry() if code.startswith("improvement_") and code.endswith("_days")]
    assert len(phases) == 8  # closure days and the seven phases
    assert kpi_lookup("improvement_root_cause_days").name_en == "Days in root cause"
    assert kpi_lookup("improvement_root_cause_days").name_zh == "根本原因分析时长"


def test_an_empty_period_has_no_value(fixture):
    for code in ("improvement_closure_days", "improvement_review_cycles", "action_on_time_rate"):
        assert rows(code, start=dt.date(2025, 5, 1), end=dt.date(2025, 6, 1)) == []


def test_drill_through_returns_exactly_the_counted_records(fixture):
    i1, i2, _i3 = fixture["issues"]
    period = Period(FEB[0], *FEB)
    model, fields, qs = kpi_records(
        kpi=kpi_lookup("improvement_closure_days"), side="denominator", period=period, filters={}
    )
    assert model == "improvements.ImprovementIssue"
    assert [r["pk"] for r in qs] == [i1.pk, i2.pk]
    _model, _fields, on_time = kpi_records(
        kpi=kpi_lookup("action_on_time_rate"), side="numerator", period=period, filters={}
    )
    assert [r["pk"] for r in on_time] == [fixture["a1"].pk]
    _model, _fields, due = kpi_records(
        kpi=kpi_lookup("action_on_time_rate"), side="denominator", period=period, filters={"owner": "bob"}
    )
    assert [r["title"] for r in due] == ["A3"]


def test_the_snapshots_store_the_engine_values(fixture):
    """The scheduled refresh (compute_kpis) stores the improvement KPIs too, and the
    stored rows are the engine's."""
    from quality.selectors import kpi_values
    from quality.services import kpi_snapshots_refresh
    from tests.factories import CustomerFactory

    CustomerFactory(created_at=t(2025, 1, 1))  # the refresh starts at the first record it watches
    kpi_snapshots_refresh(full=True, now=t(2025, 3, 15))
    for code, dims in (
        ("improvement_closure_days", ("severity", "product_line")),
        ("improvement_review_cycles", ("product_model",)),
        ("action_on_time_rate", ("owner", "product_line")),
        ("improvement_verification_days", ()),
    ):
        for by in [(), *((d,) for d in dims)]:
            stored = kpi_values(
                user=None,
                kpi=kpi_lookup(code),
                grain="month",
                start=dt.date(2025, 1, 1),
                end=dt.date(2025, 3, 1),
                by=by,
            )
            assert stored["source"] == "snapshot", (code, by)
            live = rows(code, by=by, start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 1))
            keep = ("period_start", *by, "value", "numerator", "denominator")
            assert [{k: r[k] for k in keep} for r in stored["rows"]] == [{k: r[k] for k in keep} for r in live]
    [feb] = [r for r in stored_rows("improvement_review_cycles") if r["period_start"] == "2025-02-01"]
    assert feb["value"] == pytest.approx(1.5)


def stored_rows(code):
    from quality.selectors import kpi_values

    return kpi_values(
        user=None, kpi=kpi_lookup(code), grain="month", start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 1)
    )["rows"]


def test_catalogue_and_records_api(fixture):
    manager = UserFactory(username="boss", roles=["manager"])
    client = api_for(manager)
    codes = {k["code"]: k for k in client.get("/api/v1/kpis/").json()}
    assert codes["improvement_closure_days"]["unit"] == "days"
    assert codes["action_on_time_rate"]["direction"] == "up"
    assert codes["improvement_review_cycles"]["target"] == 3
    body = client.get(
        "/api/v1/kpis/improvement_review_cycles/values/?grain=month&start=2025-02-01&end=2025-03-01"
    ).json()
    assert body["rows"][0]["value"] == pytest.approx(1.5)
    records = client.get("/api/v1/kpis/improvement_closure_days/records/?grain=month&period_start=2025-02-01").json()
    assert sorted(r["ref"] for r in records["results"]) == ["I1", "I2"]
    assert records["model"] == "improvements.ImprovementIssue"
