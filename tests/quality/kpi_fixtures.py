"""One small, hand-checked world for the KPI tests, and its expected values.

Every expectation below is computed by hand from METRICS.md (the reasoning is in the
comments next to each number), never by the engine. The range is the two months
[2026-01-01, 2026-03-01) in Asia/Shanghai, so P1 = January and P2 = February.

Boundary records on purpose:
- exactly on a period start (2026-01-01 00:00 local, 2026-02-01 00:00 local): counted;
- exactly on the range end (2026-03-01 00:00 local): not counted;
- timestamps given in UTC: 2026-01-31T16:30Z is 2026-02-01 00:30 in Shanghai (February);
- units and tickets without the dimension value (member "(none)").
"""

import datetime as dt
import math
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings

from catalog.models import Customer, ProductLine, ProductModel
from quality.models import Recall, RecallUnit
from tests.factories import (
    BatchFactory,
    ComponentFactory,
    FailureFactory,
    FailureModeFactory,
    RegionFactory,
    SurveyFactory,
    TeamFactory,
    TicketFactory,
    UnitFactory,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC
START = dt.date(2026, 1, 1)
END = dt.date(2026, 3, 1)
JAN = "2026-01-01"
FEB = "2026-02-01"

# The catalogue of METRICS.md (the improvement KPIs belong to another app).
CATALOGUE_CODES = [
    "csat",
    "nps",
    "complaint_rate",
    "first_failure_rate",
    "failures_per_1000",
    "repeat_failure_rate",
    "failure_response_hours",
    "first_response_hours",
    "resolution_hours",
    "first_time_fix_rate",
    "sla_compliance",
    "dispatch_accuracy",
    "dispatch_minutes",
    "auto_dispatch_rate",
    "repeat_ticket_rate",
    "closure_rate",
    "follow_up_rate",
    "backlog",
    "service_cost_per_ticket",
    "recall_rate",
    "recall_completion_rate",
    "preventive_coverage",
]


def L(y, m, d, h=0, mi=0, s=0) -> dt.datetime:  # noqa: N802 - local (Shanghai) time
    return dt.datetime(y, m, d, h, mi, s, tzinfo=SH)


def Z(y, m, d, h=0, mi=0, s=0) -> dt.datetime:  # noqa: N802 - UTC time
    return dt.datetime(y, m, d, h, mi, s, tzinfo=UTC)


@pytest.fixture
def kpi_settings(settings):
    settings.KPI_TIME_ZONE = "Asia/Shanghai"
    settings.REPEAT_FAILURE_WINDOW_DAYS = 30
    settings.LABOR_RATE = 100
    settings.KPI_NEAR_BAND = 0.05
    return settings


def _ticket(name, **kw):
    defaults = dict(
        external_id=name,
        subject=name,
        unit=None,
        channel="phone",
        priority="normal",
        assignee=None,
        dispatch_method="",
    )
    defaults.update(kw)
    return TicketFactory(**defaults)


def build_world(team_a, agent) -> SimpleNamespace:
    """The records; see the module docstring and EXPECTED."""
    assert django_settings.KPI_TIME_ZONE == "Asia/Shanghai"
    w = SimpleNamespace(team_a=team_a, agent=agent)
    w.team_b = TeamFactory(name="Team B")
    east = RegionFactory(name="East")
    west = RegionFactory(name="West")

    def customer(code, region, segment, created_at):
        return Customer.objects.create(
            external_id=code, name=f"Customer {code}", region=region, segment=segment, created_at=created_at
        )

    # Customers: C3 is created exactly at 2026-01-01 00:00 local (given in UTC);
    # C4 exactly at the end of January (counts from February); C5 at the range end.
    w.c1 = customer("C1", east, "consumer", L(2025, 6, 1))
    w.c2 = customer("C2", west, "business", L(2025, 6, 1))
    w.c3 = customer("C3", east, "vip", Z(2025, 12, 31, 16, 0))
    w.c4 = customer("C4", west, "consumer", L(2026, 2, 1))
    w.c5 = customer("C5", east, "consumer", L(2026, 3, 1))

    washer = ProductLine.objects.create(code="washer", name="Washer")
    router = ProductLine.objects.create(code="router", name="Router")
    m1 = ProductModel.objects.create(code="M1", name="Model 1", product_line=washer)
    m2 = ProductModel.objects.create(code="M2", name="Model 2", product_line=washer)
    r1 = ProductModel.objects.create(code="R1", name="Router 1", product_line=router)

    # Batches: B2 produced exactly on the range start, B4 exactly on its end.
    w.b1 = BatchFactory(code="B1", product_model=m1, produced_on=dt.date(2025, 12, 15))
    w.b2 = BatchFactory(code="B2", product_model=m1, produced_on=dt.date(2026, 1, 1))
    w.b5 = BatchFactory(code="B5", product_model=m2, produced_on=dt.date(2026, 1, 20))
    w.b3 = BatchFactory(code="B3", product_model=m2, produced_on=dt.date(2026, 2, 28))
    w.b4 = BatchFactory(code="B4", product_model=r1, produced_on=dt.date(2026, 3, 1))

    def unit(serial, batch, model, customer, sold_on):
        return UnitFactory(serial=serial, batch=batch, product_model=model, customer=customer, sold_on=sold_on)

    w.u1 = unit("U1", w.b1, m1, w.c1, dt.date(2025, 12, 20))
    w.u2 = unit("U2", w.b1, m1, w.c2, dt.date(2026, 1, 1))  # sold on the range start
    w.u3 = unit("U3", w.b2, m1, None, dt.date(2026, 1, 15))  # sold, but no customer: region (none)
    w.u4 = unit("U4", w.b5, m2, w.c1, dt.date(2026, 2, 1))  # counts from February
    w.u5 = unit("U5", w.b3, m2, w.c2, dt.date(2026, 3, 1))  # sold on the range end: never counted
    w.u6 = unit("U6", None, r1, None, None)  # no sale date: in no denominator
    w.u7 = unit("U7", w.b1, m1, w.c2, dt.date(2025, 11, 1))

    ta, tb, ag = team_a, w.team_b, agent
    # Tickets (local times unless Z). Columns are spelled out per ticket.
    w.t0 = _ticket(
        "T0", customer=w.c1, type="repair", team=tb, created_at=L(2025, 6, 1, 9),
        first_response_at=L(2025, 6, 1, 10), resolved_at=L(2025, 6, 2, 9), closed_at=L(2025, 6, 3, 9),
    )  # fmt: skip
    w.t1 = _ticket(
        "T1", customer=w.c1, unit=w.u1, type="repair", channel="phone", priority="urgent", team=ta, assignee=ag,
        created_at=L(2026, 1, 1), assigned_at=L(2026, 1, 1, 0, 30), dispatch_method="auto", reassignments=0,
        first_response_at=L(2026, 1, 1, 2), response_due_at=L(2026, 1, 1, 4),
        resolved_at=L(2026, 1, 3), resolution_due_at=L(2026, 1, 4), closed_at=L(2026, 1, 4),
        follow_up_at=L(2026, 1, 6), visits=1, reopened_count=0,
    )  # fmt: skip
    w.t2 = _ticket(
        "T2", customer=w.c2, unit=w.u2, type="repair", channel="web", team=tb,
        created_at=L(2026, 1, 15, 10), assigned_at=L(2026, 1, 15, 12), dispatch_method="manual", reassignments=1,
        first_response_at=L(2026, 1, 15, 16), response_due_at=L(2026, 1, 15, 14),
        resolved_at=L(2026, 2, 1), resolution_due_at=L(2026, 2, 10), follow_up_at=L(2026, 2, 4, 0, 1), visits=2,
    )  # fmt: skip
    w.t3 = _ticket(
        "T3", customer=w.c1, type="complaint", channel="wechat", priority="high", team=ta, assignee=ag,
        created_at=Z(2026, 1, 31, 16, 30), assigned_at=L(2026, 2, 1, 1), dispatch_method="auto",
        first_response_at=L(2026, 2, 1, 3, 30), resolved_at=L(2026, 2, 2, 0, 30), closed_at=L(2026, 2, 3),
        follow_up_at=L(2026, 2, 2, 12), visits=1, reopened_count=1,
    )  # fmt: skip
    w.t4 = _ticket(
        "T4", customer=w.c3, type="preventive", channel="onsite", priority="low", team=tb, created_at=L(2026, 1, 20, 8)
    )
    w.t5 = _ticket(
        "T5", customer=w.c1, unit=w.u1, type="repair", channel="phone", team=ta,
        created_at=L(2026, 1, 5), assigned_at=L(2026, 1, 5, 0, 10), dispatch_method="manual",
        first_response_at=L(2026, 1, 5, 6), response_due_at=L(2026, 1, 5, 8),
        resolved_at=L(2026, 1, 10), resolution_due_at=L(2026, 1, 9), follow_up_at=L(2026, 1, 13, 0, 1),
    )  # fmt: skip
    w.t6 = _ticket("T6", customer=w.c1, unit=w.u4, type="repair", channel="app", team=tb, created_at=L(2026, 1, 8))
    w.t7 = _ticket(
        "T7", customer=w.c2, type="inquiry", channel="email", team=ta, created_at=L(2026, 1, 22, 10),
        first_response_at=L(2026, 1, 22, 11), response_due_at=L(2026, 1, 22, 12),
        resolved_at=L(2026, 1, 22, 12), resolution_due_at=L(2026, 1, 22, 12),
        follow_up_at=L(2026, 1, 22, 13), visits=0,
    )  # fmt: skip
    # T8 is resolved exactly at the range end: in no "resolved in P", still in February's backlog.
    w.t8 = _ticket(
        "T8", customer=w.c4, type="complaint", team=None, created_at=L(2026, 2, 10, 10), resolved_at=L(2026, 3, 1)
    )
    w.t9 = _ticket("T9", customer=w.c2, type="preventive", channel="store", team=tb, created_at=Z(2026, 2, 28, 16))
    w.t10 = _ticket(
        "T10", customer=w.c2, type="preventive", channel="store", team=tb, created_at=L(2026, 2, 20),
        first_response_at=L(2026, 2, 20, 1), resolved_at=L(2026, 2, 20, 2),
    )  # fmt: skip
    w.t11 = _ticket(
        "T11", customer=w.c2, type="preventive", channel="store", team=tb, created_at=L(2026, 2, 21),
        response_due_at=L(2026, 2, 21, 1), resolution_due_at=L(2026, 2, 22), resolved_at=L(2026, 2, 21, 5),
    )  # fmt: skip
    w.t12 = _ticket(
        "T12", customer=w.c2, unit=w.u2, type="repair", team=ta, created_at=L(2025, 12, 20),
        first_response_at=L(2025, 12, 20, 1), resolved_at=L(2026, 1, 2), closed_at=L(2026, 1, 3),
        follow_up_at=L(2026, 1, 4), visits=3,
    )  # fmt: skip
    w.t13 = _ticket(
        "T13", customer=w.c1, type="inquiry", team=tb, created_at=L(2025, 12, 31, 23, 59),
        first_response_at=L(2026, 1, 1, 3, 59),
    )  # fmt: skip
    w.t14 = _ticket("T14", customer=w.c3, type="inquiry", team=ta, created_at=L(2026, 2, 25))

    # Failures. Most hang on T0 (resolved in 2025), so they move no ticket KPI.
    fa = FailureModeFactory(code="FM_A")
    fb = FailureModeFactory(code="FM_B")
    p1 = ComponentFactory(code="P1")
    p2 = ComponentFactory(code="P2")

    def failure(name, unit, mode, component, occurred, repaired, ticket=None, parts="999.00", labor="9"):
        return FailureFactory(
            external_id=name,
            ticket=ticket or w.t0,
            unit=unit,
            failure_mode=mode,
            component=component,
            occurred_at=occurred,
            repaired_at=repaired,
            parts_cost=parts,
            labor_hours=labor,
        )

    w.f1 = failure("F1", w.u1, fa, p1, L(2026, 1, 1), L(2026, 1, 5, 10))
    w.f2 = failure("F2", w.u1, fa, p1, L(2026, 2, 3, 10), L(2026, 2, 4, 12))
    w.f3 = failure("F3", w.u2, fb, None, Z(2026, 1, 31, 16, 30), L(2026, 2, 1, 10), ticket=w.t3, parts="0", labor="2")
    w.f4 = failure("F4", w.u2, fb, p2, L(2026, 3, 1), None)
    w.f5 = failure("F5", w.u6, fa, p2, L(2026, 1, 20, 12), L(2026, 1, 21, 12), ticket=w.t7, parts="100.00", labor="1.5")
    w.f6 = failure("F6", w.u3, fa, p1, L(2025, 12, 31, 23, 59), L(2026, 1, 1))
    w.f7 = failure("F7", w.u3, fb, p2, L(2026, 1, 10, 9), None, ticket=w.t7, parts="20.50", labor="0.25")
    w.f8 = failure("F8", w.u4, fa, p1, L(2026, 2, 2, 8), L(2026, 2, 2, 9))
    w.f9 = failure("F9", w.u4, fa, p1, L(2026, 2, 2, 9), L(2026, 2, 5, 9))
    w.f10 = failure("F10", w.u4, fa, p1, L(2026, 3, 7, 9), None)

    # Surveys: S2's own customer (C2, West) differs from its ticket's (T1: C1, East).
    def survey(name, customer, ticket, responded, csat, nps):
        return SurveyFactory(
            external_id=name, customer=customer, ticket=ticket, responded_at=responded, csat=csat, nps=nps
        )

    w.s1 = survey("S1", w.c1, w.t1, L(2026, 1, 1), 5, 10)
    w.s2 = survey("S2", w.c2, w.t1, L(2026, 1, 10), 3, 6)
    w.s3 = survey("S3", w.c1, None, Z(2026, 1, 31, 16, 30), 4, 8)
    w.s4 = survey("S4", w.c3, w.t4, L(2026, 2, 15), None, 9)
    w.s5 = survey("S5", w.c1, w.t5, L(2026, 3, 1), 1, 0)
    w.s6 = survey("S6", w.c2, w.t2, L(2026, 1, 20), 4, None)
    w.s7 = survey("S7", w.c1, w.t5, L(2026, 1, 25), 2, 9)

    # Recalls: RC1 names B1 (U1, U2, U7) and B2 (U3); RC2 (opened exactly at the
    # end of January) names B2 (U3) again.
    w.rc1 = Recall.objects.create(code="RC1", title="Pump", severity="class_ii", opened_at=L(2026, 1, 10, 9))
    w.rc1.batches.set([w.b1, w.b2])
    w.rc2 = Recall.objects.create(code="RC2", title="Door", severity="class_iii", opened_at=L(2026, 2, 1))
    w.rc2.batches.set([w.b2])
    w.ru1 = RecallUnit.objects.create(recall=w.rc1, unit=w.u1, status="remedied", remedied_at=L(2026, 1, 20))
    w.ru2 = RecallUnit.objects.create(recall=w.rc1, unit=w.u2, status="remedied", remedied_at=L(2026, 2, 1))
    w.ru7 = RecallUnit.objects.create(recall=w.rc1, unit=w.u7, status="notified")
    w.ru3 = RecallUnit.objects.create(recall=w.rc2, unit=w.u3, status="remedied", remedied_at=L(2026, 2, 10))
    return w


@pytest.fixture
def world(kpi_settings, team_a, agent):
    return build_world(team_a, agent)


def R(period, value, numerator, denominator, provisional=False, **members):  # noqa: N802
    return {
        "period_start": period,
        **members,
        "value": value,
        "numerator": numerator,
        "denominator": denominator,
        "provisional": provisional,
    }


def C(period, value, **members):  # noqa: N802 - a count row (backlog)
    return R(period, value, value, None, **members)


# (code, by) -> rows, month grain over [START, END). Numbers worked out by hand.
EXPECTED = {
    # csat: Jan S1 5, S2 3, S6 4, S7 2 -> 2/4; Feb S3 4 (UTC -> Feb 1 00:30), S4 has no csat -> 1/1.
    ("csat", ()): [R(JAN, 50.0, 2, 4), R(FEB, 100.0, 1, 1)],
    # region of the survey's own customer: S1, S7 East; S2, S6 West.
    ("csat", ("region",)): [
        R(JAN, 50.0, 1, 2, region="East"),
        R(JAN, 50.0, 1, 2, region="West"),
        R(FEB, 100.0, 1, 1, region="East"),
    ],
    # product_model of the ticket's unit: S1/S2 (T1, U1), S6 (T2, U2), S7 (T5, U1) -> M1;
    # S3 has no ticket, S4's ticket T4 has no unit -> (none).
    ("csat", ("product_model",)): [
        R(JAN, 50.0, 2, 4, product_model="M1"),
        R(FEB, 100.0, 1, 1, product_model="(none)"),
    ],
    # nps: Jan S1 10 (P), S2 6 (D), S7 9 (P) -> (2 - 1) / 3; Feb S3 8, S4 9 -> 1/2.
    ("nps", ()): [R(JAN, 100 / 3, 1, 3), R(FEB, 50.0, 1, 2)],
    ("nps", ("region",)): [
        R(JAN, 100.0, 2, 2, region="East"),
        R(JAN, -100.0, -1, 1, region="West"),
        R(FEB, 50.0, 1, 2, region="East"),
    ],
    # complaint_rate: complaints T3 (UTC Jan 31 16:30 -> Feb) and T8 in Feb; customers
    # before Feb 1: C1, C2, C3 (C4 is created exactly Feb 1); before Mar 1: C1-C4.
    ("complaint_rate", ()): [R(JAN, 0.0, 0, 3), R(FEB, 5000.0, 2, 4)],
    ("complaint_rate", ("region",)): [
        R(JAN, 0.0, 0, 2, region="East"),
        R(JAN, 0.0, 0, 1, region="West"),
        R(FEB, 5000.0, 1, 2, region="East"),
        R(FEB, 5000.0, 1, 2, region="West"),
    ],
    # first_failure_rate: earliest failures U1 F1 (Jan 1 00:00), U6 F5 (Jan), U2 F3 (Feb 1
    # 00:30 local), U4 F8 (Feb); U3's earliest (F6) is Dec 31 23:59. Units sold before
    # Feb 1: U1, U2, U3, U7; before Mar 1: + U4 (U5 sold Mar 1, U6 never).
    ("first_failure_rate", ()): [R(JAN, 50.0, 2, 4), R(FEB, 40.0, 2, 5)],
    ("first_failure_rate", ("region",)): [
        R(JAN, 100.0, 1, 1, region="(none)"),  # U6 (no customer) / U3 (no customer)
        R(JAN, 100.0, 1, 1, region="East"),  # U1 / U1
        R(JAN, 0.0, 0, 2, region="West"),  # - / U2, U7
        R(FEB, 0.0, 0, 1, region="(none)"),
        R(FEB, 50.0, 1, 2, region="East"),  # U4 / U1, U4
        R(FEB, 50.0, 1, 2, region="West"),  # U2 / U2, U7
    ],
    ("first_failure_rate", ("product_model",)): [
        R(JAN, 25.0, 1, 4, product_model="M1"),
        R(JAN, None, 1, 0, product_model="R1"),  # U6 has no sale date
        R(FEB, 25.0, 1, 4, product_model="M1"),
        R(FEB, 100.0, 1, 1, product_model="M2"),
    ],
    # failures_per_1000: Jan F1, F5, F7 (F6 Dec 31); Feb F2, F3, F8, F9 (F4 Mar 1 00:00).
    ("failures_per_1000", ()): [R(JAN, 750.0, 3, 4), R(FEB, 800.0, 4, 5)],
    ("failures_per_1000", ("product_model",)): [
        R(JAN, 500.0, 2, 4, product_model="M1"),
        R(JAN, None, 1, 0, product_model="R1"),
        R(FEB, 500.0, 2, 4, product_model="M1"),
        R(FEB, 2000.0, 2, 1, product_model="M2"),
    ],
    # component filters only the numerator: the denominator stays all units sold.
    ("failures_per_1000", ("component",)): [
        R(JAN, 250.0, 1, 4, component="P1"),
        R(JAN, 500.0, 2, 4, component="P2"),
        R(FEB, 200.0, 1, 5, component="(none)"),
        R(FEB, 600.0, 3, 5, component="P1"),
    ],
    ("failures_per_1000", ("product_model", "component")): [
        R(JAN, 250.0, 1, 4, product_model="M1", component="P1"),
        R(JAN, 250.0, 1, 4, product_model="M1", component="P2"),
        R(JAN, None, 1, 0, product_model="R1", component="P2"),
        R(FEB, 250.0, 1, 4, product_model="M1", component="(none)"),
        R(FEB, 250.0, 1, 4, product_model="M1", component="P1"),
        R(FEB, 2000.0, 2, 1, product_model="M2", component="P1"),
    ],
    # repeat_failure_rate: repaired Jan: F1 (repeat: F2 Feb 3 10:00 <= Feb 4 10:00), F5,
    # F6 (repaired exactly Jan 1 00:00; F7 is another mode). Feb: F2, F3 (repeat: F4 on
    # Mar 1, outside the range but inside the window), F8 (F9 occurred exactly at its
    # repair: not after), F9 (repeat: F10 exactly repaired + 30 days).
    ("repeat_failure_rate", ()): [R(JAN, 100 / 3, 1, 3), R(FEB, 50.0, 2, 4)],
    ("repeat_failure_rate", ("component",)): [
        R(JAN, 50.0, 1, 2, component="P1"),
        R(JAN, 0.0, 0, 1, component="P2"),
        R(FEB, 100.0, 1, 1, component="(none)"),
        R(FEB, 100 / 3, 1, 3, component="P1"),
    ],
    # failure_response_hours: repair tickets created in Jan with a response: T1 2 h,
    # T2 6 h, T5 6 h. None in Feb: no row.
    ("failure_response_hours", ()): [R(JAN, 14 / 3, 14.0, 3)],
    ("failure_response_hours", ("team",)): [
        R(JAN, 4.0, 8.0, 2, team="Team A"),
        R(JAN, 6.0, 6.0, 1, team="Team B"),
    ],
    # first_response_hours: Jan T1 2, T2 6, T5 6, T7 1; Feb T3 3 (Feb 1 00:30 -> 03:30), T10 1.
    ("first_response_hours", ()): [R(JAN, 3.75, 15.0, 4), R(FEB, 2.0, 4.0, 2)],
    ("first_response_hours", ("channel",)): [
        R(JAN, 1.0, 1.0, 1, channel="email"),
        R(JAN, 4.0, 8.0, 2, channel="phone"),
        R(JAN, 6.0, 6.0, 1, channel="web"),
        R(FEB, 1.0, 1.0, 1, channel="store"),
        R(FEB, 3.0, 3.0, 1, channel="wechat"),
    ],
    # resolution_hours: Jan T1 48, T5 120, T7 2, T12 312 (Dec 20 -> Jan 2); Feb T2 398
    # (resolved exactly Feb 1 00:00), T3 24, T10 2, T11 5.
    ("resolution_hours", ()): [R(JAN, 120.5, 482.0, 4), R(FEB, 107.25, 429.0, 4)],
    ("resolution_hours", ("product_model",)): [
        R(JAN, 2.0, 2.0, 1, product_model="(none)"),
        R(JAN, 160.0, 480.0, 3, product_model="M1"),
        R(FEB, 31 / 3, 31.0, 3, product_model="(none)"),
        R(FEB, 398.0, 398.0, 1, product_model="M1"),
    ],
    # first_time_fix_rate: Jan T1, T5, T7 (visits 0) yes, T12 (3 visits) no; Feb T2 (2
    # visits) and T3 (reopened) no, T10, T11 yes.
    ("first_time_fix_rate", ()): [R(JAN, 75.0, 3, 4), R(FEB, 50.0, 2, 4)],
    ("first_time_fix_rate", ("priority",)): [
        R(JAN, 200 / 3, 2, 3, priority="normal"),
        R(JAN, 100.0, 1, 1, priority="urgent"),
        R(FEB, 0.0, 0, 1, priority="high"),
        R(FEB, 200 / 3, 2, 3, priority="normal"),
    ],
    # sla_compliance: Jan T1 met, T5 resolved late, T7 met exactly at its due time, T12
    # has no due times; Feb T2 responded late, T11 never responded (a miss).
    ("sla_compliance", ()): [R(JAN, 200 / 3, 2, 3), R(FEB, 0.0, 0, 2)],
    ("sla_compliance", ("type",)): [
        R(JAN, 100.0, 1, 1, type="inquiry"),
        R(JAN, 50.0, 1, 2, type="repair"),
        R(FEB, 0.0, 0, 1, type="preventive"),
        R(FEB, 0.0, 0, 1, type="repair"),
    ],
    # assigned in Jan: T1 (auto, 30 min), T2 (manual, reassigned once, 120 min), T5
    # (manual, 10 min); Feb: T3 (auto, 30 min).
    ("dispatch_accuracy", ()): [R(JAN, 200 / 3, 2, 3), R(FEB, 100.0, 1, 1)],
    ("dispatch_minutes", ()): [R(JAN, 160 / 3, 160.0, 3), R(FEB, 30.0, 30.0, 1)],
    ("auto_dispatch_rate", ()): [R(JAN, 100 / 3, 1, 3), R(FEB, 100.0, 1, 1)],
    ("auto_dispatch_rate", ("assignee",)): [
        R(JAN, 0.0, 0, 2, assignee="(none)"),
        R(JAN, 100.0, 1, 1, assignee="agent_a"),
        R(FEB, 100.0, 1, 1, assignee="agent_a"),
    ],
    # repeat_ticket_rate: created Jan T1 (T13 before it has no unit), T2, T4, T5 (T1: same
    # unit, 4 days before), T6 (C1's earlier tickets are for U1, not U4), T7 (no unit;
    # T2 exactly 7 days before). Feb T3, T8, T10, T11 (T10 the day before), T14.
    ("repeat_ticket_rate", ()): [R(JAN, 100 / 3, 2, 6), R(FEB, 20.0, 1, 5)],
    ("repeat_ticket_rate", ("segment",)): [
        R(JAN, 50.0, 1, 2, segment="business"),
        R(JAN, 100 / 3, 1, 3, segment="consumer"),
        R(JAN, 0.0, 0, 1, segment="vip"),
        R(FEB, 50.0, 1, 2, segment="business"),
        R(FEB, 0.0, 0, 2, segment="consumer"),
        R(FEB, 0.0, 0, 1, segment="vip"),
    ],
    # closure_rate: Jan T1, T12 closed of T1, T5, T7, T12; Feb T3 of T2, T3, T10, T11.
    ("closure_rate", ()): [R(JAN, 50.0, 2, 4), R(FEB, 25.0, 1, 4)],
    # follow_up_rate: Jan T1 (exactly 72 h), T7, T12 yes, T5 (72 h + 1 min) no;
    # Feb T3 yes, T2 (72 h + 1 min) no.
    ("follow_up_rate", ()): [R(JAN, 75.0, 3, 4), R(FEB, 25.0, 1, 4)],
    # backlog at Feb 1 00:00: T2 (resolved exactly then), T4, T6, T13; at Mar 1 00:00:
    # T4, T6, T8 (resolved exactly then), T13, T14 (T9 is created exactly Mar 1).
    ("backlog", ()): [C(JAN, 4), C(FEB, 5)],
    ("backlog", ("team",)): [
        C(JAN, 0, team="Team A"),
        C(JAN, 4, team="Team B"),
        C(FEB, 1, team="(none)"),
        C(FEB, 1, team="Team A"),
        C(FEB, 3, team="Team B"),
    ],
    # service_cost_per_ticket: Jan T7's failures F5 (100 + 100 x 1.5) and F7 (20.5 +
    # 100 x 0.25) over T1, T5, T7, T12; Feb F3 on T3 (0 + 100 x 2) over T2, T3, T10, T11.
    ("service_cost_per_ticket", ()): [R(JAN, 73.875, 295.5, 4), R(FEB, 50.0, 200.0, 4)],
    ("service_cost_per_ticket", ("team",)): [
        R(JAN, 73.875, 295.5, 4, team="Team A"),
        R(FEB, 200.0, 200.0, 1, team="Team A"),
        R(FEB, 0.0, 0, 3, team="Team B"),
    ],
    # recall_rate: produced Jan B2 (exactly Jan 1, recalled), B5; Feb B3 (B4 is Mar 1).
    ("recall_rate", ()): [R(JAN, 50.0, 1, 2), R(FEB, 0.0, 0, 1)],
    ("recall_rate", ("product_model",)): [
        R(JAN, 100.0, 1, 1, product_model="M1"),
        R(JAN, 0.0, 0, 1, product_model="M2"),
        R(FEB, 0.0, 0, 1, product_model="M2"),
    ],
    # recall_completion_rate: pairs before Feb 1: RC1 x (U1, U2, U7, U3); before Mar 1
    # also RC2 x U3 (opened exactly Feb 1). Remedied: RC1/U1 Jan 20, RC1/U2 exactly
    # Feb 1, RC2/U3 Feb 10.
    ("recall_completion_rate", ()): [R(JAN, 25.0, 1, 4), R(FEB, 60.0, 3, 5)],
    ("recall_completion_rate", ("recall",)): [
        R(JAN, 25.0, 1, 4, recall="RC1"),
        R(FEB, 50.0, 2, 4, recall="RC1"),
        R(FEB, 100.0, 1, 1, recall="RC2"),
    ],
    ("recall_completion_rate", ("region",)): [
        R(JAN, 0.0, 0, 1, region="(none)"),
        R(JAN, 100.0, 1, 1, region="East"),
        R(JAN, 0.0, 0, 2, region="West"),
        R(FEB, 50.0, 1, 2, region="(none)"),
        R(FEB, 100.0, 1, 1, region="East"),
        R(FEB, 50.0, 1, 2, region="West"),
    ],
    # preventive_coverage: Jan C3 (T4); Feb C2 (T10 and T11: once); T9 is Mar 1.
    ("preventive_coverage", ()): [R(JAN, 100 / 3, 1, 3), R(FEB, 25.0, 1, 4)],
    ("preventive_coverage", ("segment",)): [
        R(JAN, 0.0, 0, 1, segment="business"),
        R(JAN, 0.0, 0, 1, segment="consumer"),
        R(JAN, 100.0, 1, 1, segment="vip"),
        R(FEB, 100.0, 1, 1, segment="business"),
        R(FEB, 0.0, 0, 2, segment="consumer"),
        R(FEB, 0.0, 0, 1, segment="vip"),
    ],
}

ROW_KEYS = ("value", "numerator", "denominator")


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def assert_rows(actual: list[dict], expected: list[dict], *, extra_keys=()) -> None:
    """Same rows, same order; numbers equal to 1e-9 (METRICS.md asks for 1e-6)."""
    trimmed = [{k: v for k, v in row.items() if k not in extra_keys} for row in actual]
    assert [set(r) for r in trimmed] == [set(r) for r in expected], (trimmed, expected)
    for got, want in zip(trimmed, expected, strict=True):
        for key, value in want.items():
            if key in ROW_KEYS:
                assert _same(got[key], value), (key, got, want)
            else:
                assert got[key] == value, (key, got, want)
