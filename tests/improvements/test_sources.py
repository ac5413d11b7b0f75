"""Creating an issue from an alert (scope, evidence, baseline, idempotence) and from a
selection of tickets and failures (the scope the records agree on)."""

import datetime as dt

import pytest

from catalog.exceptions import ApplicationError
from improvements.models import ImprovementEvent, ImprovementIssue, Severity, Source, State
from improvements.services import issue_create_from_alert, issue_create_from_records, issue_transition
from quality.alert_selectors import alert_member_key
from quality.models import Alert, AlertRule
from tests.factories import (
    BatchFactory,
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    ProductModelFactory,
    TeamFactory,
    TicketFactory,
    UnitFactory,
)

from .conftest import T0, TZ

pytestmark = pytest.mark.django_db


def local(y, m, d, h=12):
    return dt.datetime(y, m, d, h, tzinfo=TZ)


@pytest.fixture
def scene():
    """Batch WM200-L15 (model WM200, line washer) with three failures in February
    2026, one in January, and one February failure of another batch of the model."""
    model = ProductModelFactory(code="WM200")
    batch = BatchFactory(code="WM200-L15", product_model=model)
    other = BatchFactory(code="WM200-L16", product_model=model)
    bearing = FailureModeFactory(code="MECH-BEARING")
    unit = UnitFactory(batch=batch)
    feb = [
        FailureFactory(unit=unit, failure_mode=bearing, occurred_at=local(2026, 2, 1, 0)),  # first local minute
        FailureFactory(unit=UnitFactory(batch=batch), failure_mode=bearing, occurred_at=local(2026, 2, 14)),
        FailureFactory(unit=UnitFactory(batch=batch), occurred_at=local(2026, 2, 28, 23)),
    ]
    jan = FailureFactory(unit=UnitFactory(batch=batch), failure_mode=bearing, occurred_at=local(2026, 1, 31, 23))
    march = FailureFactory(unit=UnitFactory(batch=batch), failure_mode=bearing, occurred_at=local(2026, 3, 1, 0))
    elsewhere = FailureFactory(unit=UnitFactory(batch=other), failure_mode=bearing, occurred_at=local(2026, 2, 10))
    rule = AlertRule.objects.create(
        code="batch-failures",
        name="Failures per 1000 by batch",
        kind="anomaly",
        kpi="failures_per_1000",
        split_by="batch",
        grain="month",
        severity="critical",
    )
    member = {"batch": "WM200-L15"}
    alert = Alert.objects.create(
        rule=rule,
        member=member,
        member_key=alert_member_key(member),
        severity="critical",
        period_start=dt.date(2026, 2, 1),
        value=12.5,
        first_fired_at=local(2026, 3, 2, 9),
        last_fired_at=local(2026, 3, 2, 9),
    )
    return {
        "model": model,
        "batch": batch,
        "alert": alert,
        "feb": feb,
        "outside": [jan, march, elsewhere],
    }


def test_issue_from_a_batch_alert(scene, engineer):
    issue = issue_create_from_alert(alert_id=scene["alert"].pk, actor=engineer, at=T0)
    assert issue.title == "Failures per 1000 by batch: WM200-L15"
    assert (issue.source, issue.severity, issue.state) == (Source.ALERT, Severity.CRITICAL, State.DRAFT)
    assert list(issue.batches.all()) == [scene["batch"]]
    assert issue.product_model == scene["model"]
    assert issue.product_line.code == "washer"
    assert (issue.component, issue.failure_mode, issue.region) == (None, None, None)
    assert list(issue.alerts.all()) == [scene["alert"]]
    assert sorted(issue.failures.values_list("pk", flat=True)) == sorted(f.pk for f in scene["feb"])
    assert (issue.baseline_kpi, issue.baseline_filters, issue.baseline_value) == (
        "failures_per_1000",
        {"batch": "WM200-L15"},
        12.5,
    )
    assert (issue.baseline_start, issue.baseline_end) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    # The earliest evidence: the first failure of February.
    assert issue.detected_at == local(2026, 2, 1, 0)
    assert issue.owner == engineer


def test_second_call_returns_the_same_issue_and_writes_nothing(scene, engineer):
    first = issue_create_from_alert(alert_id=scene["alert"].pk, actor=engineer, at=T0)
    events = ImprovementEvent.objects.count()
    second = issue_create_from_alert(alert_id=scene["alert"].pk, actor=None, at=T0 + dt.timedelta(hours=1))
    assert second.pk == first.pk
    assert ImprovementIssue.objects.count() == 1
    assert ImprovementEvent.objects.count() == events


def test_a_closed_issue_does_not_block_a_new_one(scene, engineer):
    first = issue_create_from_alert(alert_id=scene["alert"].pk, actor=engineer, at=T0)
    issue_transition(issue_id=first.pk, to_state=State.REJECTED, actor=engineer, reason="noise")
    second = issue_create_from_alert(alert_id=scene["alert"].pk, actor=engineer, at=T0 + dt.timedelta(hours=1))
    assert second.pk != first.pk
    assert second.code.endswith("-0002")


def test_window_of_a_members_comparison(scene, engineer):
    alert = scene["alert"]
    alert.detail = {"window_periods": 2}
    alert.save(update_fields=["detail"])
    issue = issue_create_from_alert(alert_id=alert.pk, actor=engineer, title="Bearing batch", at=T0)
    assert issue.title == "Bearing batch"
    assert issue.failures.count() == 4  # January's joins February's three
    assert (issue.baseline_start, issue.baseline_end) == (dt.date(2026, 1, 1), dt.date(2026, 3, 1))


def test_component_and_team_members(engineer):
    component = ComponentFactory(code="WB-BRG-02")
    team = TeamFactory(name="East Service")
    rule = AlertRule.objects.create(code="r", name="Rule", kind="process", params={"check": "stuck"}, grain="week")
    for n, member in enumerate(({"component": "WB-BRG-02"}, {"team": "East Service"})):
        alert = Alert.objects.create(
            rule=rule, member=member, member_key=f"k{n}", severity="info", period_start=dt.date(2026, 2, 23)
        )
        issue = issue_create_from_alert(alert_id=alert.pk, actor=engineer, at=T0)
        assert issue.severity == Severity.MINOR
        assert issue.baseline_kpi == "" and issue.baseline_value is None
        if "component" in member:
            assert (issue.component, issue.supplier) == (component, component.supplier)
        else:
            assert issue.team == team


def test_unknown_alert(engineer):
    with pytest.raises(ApplicationError):
        issue_create_from_alert(alert_id=424242, actor=engineer)
    assert not ImprovementIssue.objects.exists()


# --- from records ---------------------------------------------------------------------------


def test_records_agreeing_fill_the_scope(scene, engineer):
    bearing, component = scene["feb"][0].failure_mode, ComponentFactory(code="WB-BRG-02")
    failures = scene["feb"][:2]
    for failure in failures:
        failure.component = component
        failure.save(update_fields=["component"])
    ticket = TicketFactory(unit=UnitFactory(batch=scene["batch"]), created_at=local(2026, 1, 20))
    issue = issue_create_from_records(
        actor=engineer, ticket_ids=[ticket.pk], failure_ids=[f.pk for f in failures], at=T0
    )
    assert issue.source == Source.TICKET_CLUSTER
    assert (issue.product_model, issue.product_line.code) == (scene["model"], "washer")
    assert list(issue.batches.all()) == [scene["batch"]]
    assert (issue.failure_mode, issue.component, issue.supplier) == (bearing, component, component.supplier)
    assert issue.title == "MECH-BEARING, WM200: 3 record(s)"
    assert list(issue.tickets.all()) == [ticket]
    assert issue.detected_at == local(2026, 1, 20)


def test_records_disagreeing_leave_the_scope_open(scene, engineer):
    # Two batches of one model; two failure modes.
    failures = [scene["feb"][0], scene["feb"][2], scene["outside"][2]]
    issue = issue_create_from_records(actor=engineer, failure_ids=[f.pk for f in failures], title="Mixed", at=T0)
    assert issue.product_model == scene["model"]
    assert issue.batches.count() == 0
    assert issue.failure_mode is None and issue.component is None


def test_a_ticket_on_another_model_drops_the_model(scene, engineer):
    ticket = TicketFactory(unit=UnitFactory(batch=BatchFactory(code="AC500-L01")))
    issue = issue_create_from_records(
        actor=engineer, ticket_ids=[ticket.pk], failure_ids=[scene["feb"][0].pk], title="x", at=T0
    )
    assert issue.product_model is None and issue.batches.count() == 0


def test_records_required_and_must_exist(engineer):
    with pytest.raises(ApplicationError) as info:
        issue_create_from_records(actor=engineer)
    assert set(info.value.errors) == {"records"}
    with pytest.raises(ApplicationError) as info:
        issue_create_from_records(actor=engineer, failure_ids=[99999], title="x")
    assert set(info.value.errors) == {"failures"}
    assert not ImprovementIssue.objects.exists()
