"""Detection quality of the default rules on the demo generator's data (seed_demo
--scale small --seed 42 --as-of 2026-11-24), replayed period by period over history
(alert_rule_replay: as of every period end, only the records before it).

- batch-failure-anomaly (failures per 1000 units by batch, weekly; each batch's last
  52 weeks against the pooled rate of the other batches of its product model,
  Poisson): flags the planted WM200-L15 within 60 days of the first failure of the
  planted defect, i.e. the first MECH-BEARING failure at least the defect's onset
  (3.5 months) after the unit's sale. The lot's earlier bearing failures are
  ordinary ones (the generator's base rate and infant mortality; the lot's bearings
  are all second source, so they carry its component too). False alarms on the
  clean batches: every weekly "fire" decision counts, <= 1 per 100 batch-months.
- response-time-rise (first_response_hours by team, weekly; the last two weeks
  against the other teams together): "East Service" fires within 4 weeks of
  degraded_from and nothing fires for another team or before the change.
- Evaluated as of the seed's as-of, the open alerts are exactly the planted problems:
  WM200-L15 and East Service (no process rule fires on this data: the small demo's
  SLA breaches stay under 10 a team-week and no ticket waits for the customer more
  than 40 business hours)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from intake.demo import demo_seed, planted_for
from quality.models import Alert, AlertRule, Failure
from quality.services.alerts import alert_rule_replay, alert_rules_evaluate

AS_OF = dt.date(2026, 11, 24)
SEED = 42
WEEKS_PER_MONTH = 52 / 12
MONTH_DAYS = 30.4375  # the generator's month


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
    ):
        demo_seed(scale="small", seed=SEED, as_of=AS_OF, log=lambda _m: None)
    yield planted_for(as_of=AS_OF)
    with django_db_blocker.unblock():
        from django.core.management import call_command

        call_command("flush", interactive=False, verbosity=0)


def first_defect_failure(demo) -> dt.date:
    onset_days = int(demo["defect_onset_months"] * MONTH_DAYS)
    failures = Failure.objects.filter(
        unit__batch__code=demo["defective_batch"], failure_mode__code=demo["defective_failure_mode"]
    ).order_by("occurred_at")
    return next(
        f.occurred_at.date()
        for f in failures.select_related("unit")
        if (f.occurred_at.date() - f.unit.sold_on).days >= onset_days
    )


@pytest.mark.django_db
def test_batch_failure_rule_flags_the_defective_batch_and_few_clean_ones(demo):
    rule = AlertRule.objects.get(code="batch-failure-anomaly")
    assert rule.params["compare"] == "members" and rule.params["group_by"] == "product_model"
    rows = alert_rule_replay(rule=rule, start=demo["data_from"], end=AS_OF)
    batch = demo["defective_batch"]
    flagged = sorted(
        dt.date.fromisoformat(r["as_of"]) for r in rows if r["decision"] == "fire" and r["member"]["batch"] == batch
    )
    assert flagged, "the defective batch was never flagged"
    delay = (flagged[0] - first_defect_failure(demo)).days
    assert 0 <= delay <= 60, delay
    # It keeps firing while the lot stays worse than its siblings: the last replayed
    # week still fires.
    assert flagged[-1] == max(dt.date.fromisoformat(r["as_of"]) for r in rows)
    clean = [r for r in rows if r["member"]["batch"] != batch and r["decision"] in ("fire", "clear")]
    false_alarms = sum(1 for r in clean if r["decision"] == "fire")
    batch_months = len(clean) / WEEKS_PER_MONTH
    assert batch_months > 1000  # the test is about a real history, not a handful of batches
    assert false_alarms / batch_months * 100 <= 1.0, (false_alarms, batch_months)


@pytest.mark.django_db
def test_response_time_rule_flags_the_degraded_team_within_four_weeks(demo):
    rule = AlertRule.objects.get(code="response-time-rise")
    degraded_from = demo["degraded_from"]
    rows = alert_rule_replay(rule=rule, start=degraded_from - dt.timedelta(days=180), end=AS_OF)
    team = demo["degraded_team"]
    fires = [r for r in rows if r["decision"] == "fire"]
    flagged = sorted(
        dt.date.fromisoformat(r["as_of"])
        for r in fires
        if r["member"]["team"] == team and dt.date.fromisoformat(r["period_start"]) >= degraded_from
    )
    assert flagged and (flagged[0] - degraded_from).days <= 28, flagged[:3]
    assert flagged[-1] == max(dt.date.fromisoformat(r["as_of"]) for r in rows)  # still firing
    others = [
        r for r in fires if r["member"]["team"] != team or dt.date.fromisoformat(r["period_start"]) < degraded_from
    ]
    assert others == []


@pytest.mark.django_db
def test_open_alerts_as_of_the_seed_day_are_the_planted_problems(demo):
    now = dt.datetime.combine(AS_OF, dt.time(10), tzinfo=ZoneInfo("Asia/Shanghai"))
    alert_rules_evaluate(as_of=AS_OF, now=now)
    open_alerts = {(a.rule.code, tuple(a.member.items())) for a in Alert.objects.filter(status="firing")}
    assert open_alerts == {
        ("batch-failure-anomaly", (("batch", demo["defective_batch"]),)),
        ("response-time-rise", (("team", demo["degraded_team"]),)),
    }
