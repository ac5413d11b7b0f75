"""The KPI catalogue of METRICS.md (指标口径), literally: one Measure per counting rule.
The improvement KPIs are registered by the `improvements` app."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Value

from .registry import Difference, Kpi, Measure, kpi_register, record_fields_register

TICKET_DIMS = {
    "region": "customer__region__name",
    "segment": "customer__segment",
    "channel": "channel",
    "type": "type",
    "priority": "priority",
    "team": "team__name",
    "assignee": "assignee__username",
    "product_line": "unit__product_model__product_line__code",
    "product_model": "unit__product_model__code",
    "batch": "unit__batch__code",
}
UNIT_DIMS = {
    "region": "customer__region__name",
    "segment": "customer__segment",
    "product_line": "product_model__product_line__code",
    "product_model": "product_model__code",
    "batch": "batch__code",
}
CUSTOMER_DIMS = {"region": "region__name", "segment": "segment"}


def prefixed(dims: dict[str, str], prefix: str) -> dict[str, str]:
    return {dim: prefix + path for dim, path in dims.items()}


TICKET_DIM_CODES = tuple(TICKET_DIMS)
UNIT_DIM_CODES = tuple(UNIT_DIMS)
SURVEY_DIMS = {**prefixed(TICKET_DIMS, "ticket__"), **prefixed(CUSTOMER_DIMS, "customer__")}
FAILURE_DIMS = {**prefixed(UNIT_DIMS, "unit__"), "component": "component__code", "failure_mode": "failure_mode__code"}


def _hours(value) -> float:
    return value.total_seconds() / 3600 if isinstance(value, dt.timedelta) else float(value)


def _minutes(value) -> float:
    return value.total_seconds() / 60 if isinstance(value, dt.timedelta) else float(value)


def _elapsed(end: str, start: str):
    return lambda: ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _ticket(time: str, **kwargs) -> Measure:
    return Measure(model="tickets.Ticket", time=time, dims=TICKET_DIMS, ticket_path="", **kwargs)


def _survey(**kwargs) -> Measure:
    return Measure(model="tickets.Survey", time="responded_at", dims=SURVEY_DIMS, ticket_path="ticket__", **kwargs)


def _failure(time: str, **kwargs) -> Measure:
    return Measure(model="quality.Failure", time=time, dims=FAILURE_DIMS, ticket_path="ticket__", **kwargs)


def _units_sold() -> Measure:
    return Measure(model="catalog.Unit", time="sold_on", dims=UNIT_DIMS, stock=True, is_date=True)


def _customers() -> Measure:
    return Measure(model="catalog.Customer", time="created_at", dims=CUSTOMER_DIMS, stock=True)


def _window() -> dt.timedelta:
    return dt.timedelta(days=settings.REPEAT_FAILURE_WINDOW_DAYS)


def _repeats() -> Q:
    from quality.models import Failure

    later = Failure.objects.filter(
        unit=OuterRef("unit"),
        failure_mode=OuterRef("failure_mode"),
        occurred_at__gt=OuterRef("repaired_at"),
        occurred_at__lte=OuterRef("repaired_at") + _window(),
    )
    return Q(Exists(later))


def _earliest_failure() -> Q:
    from quality.models import Failure

    earlier = Failure.objects.filter(unit=OuterRef("unit"), occurred_at__lt=OuterRef("occurred_at"))
    return ~Q(Exists(earlier))


def _repeat_ticket() -> Q:
    from tickets.models import Ticket

    window = dict(
        customer=OuterRef("customer"),
        created_at__gte=OuterRef("created_at") - dt.timedelta(days=7),
        created_at__lt=OuterRef("created_at"),
    )
    any_ticket = Ticket.objects.filter(**window)
    same_unit = Ticket.objects.filter(unit=OuterRef("unit"), **window)
    return (Q(unit__isnull=True) & Q(Exists(any_ticket))) | (Q(unit__isnull=False) & Q(Exists(same_unit)))


def _cost():
    rate = Value(Decimal(str(settings.LABOR_RATE)), output_field=DecimalField(max_digits=12, decimal_places=2))
    return ExpressionWrapper(
        F("parts_cost") + rate * F("labor_hours"), output_field=DecimalField(max_digits=20, decimal_places=4)
    )


def _nps_net():
    return Count("pk", filter=Q(nps__gte=9)) - Count("pk", filter=Q(nps__lte=6))


def _recalled_batch() -> Q:
    from quality.models import Recall

    return Q(Exists(Recall.batches.through.objects.filter(batch_id=OuterRef("pk"))))


def _ticket_percent(*, time: str, where, base: Q | None = None, **kwargs) -> Kpi:
    """A service-efficiency share of the tickets placed in P by `time`: 100 × count(where) / count(base)."""
    return Kpi(
        category="service_efficiency",
        unit="%",
        kind="ratio",
        scale=100,
        dims=TICKET_DIM_CODES,
        numerator=_ticket(time, where=where),
        denominator=_ticket(time, where=base if base is not None else Q()),
        **kwargs,
    )


def _open_at(end: dt.datetime) -> Q:
    return Q(created_at__lt=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))


CATALOGUE = [
    # Customer experience
    Kpi(
        code="csat",
        name_en="Customer satisfaction (CSAT)",
        name_zh="客户满意度",
        category="customer_experience",
        unit="%",
        direction="up",
        kind="ratio",
        scale=100,
        target=90,
        dims=TICKET_DIM_CODES,
        numerator=_survey(where=Q(csat__gte=4)),
        denominator=_survey(where=Q(csat__isnull=False)),
        definition_en="Surveys with responded_at in P and a CSAT score: 100 × count(CSAT ≥ 4) / count(CSAT given). "
        "Ticket dimensions via the survey's ticket; region and segment via the survey's own customer.",
        definition_zh="P 内回复(responded_at)且有 CSAT 评分的问卷：100 × count(CSAT ≥ 4) / count(有 CSAT 评分)。"
        "工单维度取问卷所属工单；区域、客户类型取问卷自身的客户。",
    ),
    Kpi(
        code="nps",
        name_en="Net promoter score (NPS)",
        name_zh="净推荐值",
        category="customer_experience",
        unit="points",
        direction="up",
        kind="ratio",
        scale=100,
        target=40,
        dims=TICKET_DIM_CODES,
        numerator=_survey(kind="custom", aggregate=_nps_net, where=Q(nps__gte=9) | Q(nps__lte=6)),
        denominator=_survey(where=Q(nps__isnull=False)),
        definition_en="Surveys with responded_at in P and an NPS score: 100 × (count(NPS ≥ 9) − count(NPS ≤ 6)) / "
        "count(NPS given). The numerator is promoters minus detractors.",
        definition_zh="P 内回复且有 NPS 评分的问卷：100 × (count(NPS ≥ 9) − count(NPS ≤ 6)) / count(有 NPS 评分)。"
        "分子为推荐者减贬损者。",
    ),
    Kpi(
        code="complaint_rate",
        name_en="Complaint rate",
        name_zh="客户投诉率",
        category="customer_experience",
        unit="per_10k_customers",
        direction="down",
        kind="ratio",
        scale=10000,
        target=50,
        dims=("region", "segment"),
        numerator=_ticket("created_at", where=Q(type="complaint")),
        denominator=_customers(),
        definition_en="10000 × count(tickets of type complaint created in P) / count(customers created before the "
        "end of P).",
        definition_zh="10000 × count(P 内创建的投诉类工单) / count(P 结束前创建的客户)。",
    ),
    # Problem tracing
    Kpi(
        code="first_failure_rate",
        name_en="First failure rate",
        name_zh="首次故障率",
        category="problem_tracing",
        unit="%",
        direction="down",
        kind="ratio",
        scale=100,
        target=2,
        dims=UNIT_DIM_CODES,
        numerator=_failure("occurred_at", kind="distinct", field="unit", where=_earliest_failure),
        denominator=_units_sold(),
        definition_en="100 × count(units whose earliest failure occurred in P) / count(units sold before the end "
        "of P).",
        definition_zh="100 × count(最早一次故障发生在 P 内的产品) / count(P 结束前售出的产品)。",
    ),
    Kpi(
        code="failures_per_1000",
        name_en="Failures per 1000 units",
        name_zh="千台故障数",
        category="problem_tracing",
        unit="per_1000_units",
        direction="down",
        kind="ratio",
        scale=1000,
        target=10,
        dims=(*UNIT_DIM_CODES, "component", "failure_mode"),
        numerator=_failure("occurred_at"),
        denominator=_units_sold(),
        definition_en="1000 × count(failures that occurred in P) / count(units sold before the end of P). "
        "By component or failure mode only the numerator is filtered; the denominator is the units of the other "
        "dimensions.",
        definition_zh="1000 × count(P 内发生的故障) / count(P 结束前售出的产品)。按部件或故障模式切分时只筛选分子，"
        "分母为其他维度下的产品数。",
    ),
    Kpi(
        code="repeat_failure_rate",
        name_en="Repeat failure rate",
        name_zh="故障重复率",
        category="problem_tracing",
        unit="%",
        direction="down",
        kind="ratio",
        scale=100,
        target=5,
        dims=(*UNIT_DIM_CODES, "component", "failure_mode"),
        numerator=_failure("repaired_at", where=_repeats, track_latest=True),
        denominator=_failure("repaired_at", track_latest=True),
        provisional_window=_window,
        definition_en="Failures F repaired in P: 100 × count(F whose unit has another failure with the same "
        "failure mode occurring within the repeat window (default 30 days) after F's repair) / count(F). "
        "Provisional while a window is still open.",
        definition_zh="P 内修复的故障 F：100 × count(同一产品在 F 修复后的重复窗口期(默认 30 天)内再次发生相同故障"
        "模式的 F) / count(F)。窗口期未结束时为暂定值。",
    ),
    Kpi(
        code="failure_response_hours",
        name_en="Failure response time",
        name_zh="故障平均响应时长",
        category="problem_tracing",
        unit="h",
        direction="down",
        kind="mean",
        target=4,
        dims=TICKET_DIM_CODES,
        numerator=_ticket(
            "created_at",
            kind="sum",
            field=_elapsed("first_response_at", "created_at"),
            where=Q(type="repair", first_response_at__isnull=False),
            convert=_hours,
        ),
        denominator=_ticket("created_at", where=Q(type="repair", first_response_at__isnull=False)),
        definition_en="Repair tickets created in P with a first response: mean(first_response_at − created_at) "
        "in hours.",
        definition_zh="P 内创建且已首次响应的维修工单：mean(首次响应时间 − 创建时间)，单位小时。",
    ),
    # Service efficiency
    Kpi(
        code="first_response_hours",
        name_en="First response time",
        name_zh="首次响应时长",
        category="service_efficiency",
        unit="h",
        direction="down",
        kind="mean",
        target=2,
        dims=TICKET_DIM_CODES,
        numerator=_ticket(
            "created_at",
            kind="sum",
            field=_elapsed("first_response_at", "created_at"),
            where=Q(first_response_at__isnull=False),
            convert=_hours,
        ),
        denominator=_ticket("created_at", where=Q(first_response_at__isnull=False)),
        definition_en="Tickets created in P with a first response: mean(first_response_at − created_at) in hours.",
        definition_zh="P 内创建且已首次响应的工单：mean(首次响应时间 − 创建时间)，单位小时。",
    ),
    Kpi(
        code="resolution_hours",
        name_en="Resolution time",
        name_zh="工单处理时长",
        category="service_efficiency",
        unit="h",
        direction="down",
        kind="mean",
        target=48,
        dims=TICKET_DIM_CODES,
        numerator=_ticket("resolved_at", kind="sum", field=_elapsed("resolved_at", "created_at"), convert=_hours),
        denominator=_ticket("resolved_at"),
        definition_en="Tickets resolved in P: mean(resolved_at − created_at) in hours.",
        definition_zh="P 内解决的工单：mean(解决时间 − 创建时间)，单位小时。",
    ),
    _ticket_percent(
        time="resolved_at",
        code="first_time_fix_rate",
        name_en="First-time fix rate",
        name_zh="一次修复率",
        direction="up",
        target=85,
        where=Q(visits__lte=1, reopened_count=0),
        definition_en="Tickets resolved in P: 100 × count(visits ≤ 1 and never reopened) / count.",
        definition_zh="P 内解决的工单：100 × count(上门次数 ≤ 1 且未重开) / count。",
    ),
    _ticket_percent(
        time="resolved_at",
        code="sla_compliance",
        name_en="SLA compliance",
        name_zh="SLA达成率",
        direction="up",
        target=95,
        where=Q(
            response_due_at__isnull=False,
            resolution_due_at__isnull=False,
            first_response_at__lte=F("response_due_at"),
            resolved_at__lte=F("resolution_due_at"),
        ),
        base=Q(response_due_at__isnull=False, resolution_due_at__isnull=False),
        definition_en="Tickets resolved in P that have both due times: 100 × count(first response by its due time "
        "and resolution by its due time) / count. A missing first response counts as a miss.",
        definition_zh="P 内解决且有两个截止时间的工单：100 × count(按时首次响应且按时解决) / count。"
        "未首次响应视为未达成。",
    ),
    _ticket_percent(
        time="assigned_at",
        code="dispatch_accuracy",
        name_en="Dispatch accuracy",
        name_zh="分派准确率",
        direction="up",
        target=90,
        where=Q(reassignments=0),
        definition_en="Tickets assigned in P: 100 × count(never reassigned) / count.",
        definition_zh="P 内分派的工单：100 × count(未改派) / count。",
    ),
    Kpi(
        code="dispatch_minutes",
        name_en="Dispatch time",
        name_zh="分派时效",
        category="service_efficiency",
        unit="min",
        direction="down",
        kind="mean",
        target=30,
        dims=TICKET_DIM_CODES,
        numerator=_ticket("assigned_at", kind="sum", field=_elapsed("assigned_at", "created_at"), convert=_minutes),
        denominator=_ticket("assigned_at"),
        definition_en="Tickets assigned in P: mean(assigned_at − created_at) in minutes.",
        definition_zh="P 内分派的工单：mean(分派时间 − 创建时间)，单位分钟。",
    ),
    _ticket_percent(
        time="assigned_at",
        code="auto_dispatch_rate",
        name_en="Auto-dispatch rate",
        name_zh="自动分派率",
        direction="up",
        target=60,
        where=Q(dispatch_method="auto"),
        definition_en="Tickets assigned in P: 100 × count(dispatched automatically) / count.",
        definition_zh="P 内分派的工单：100 × count(自动分派) / count。",
    ),
    _ticket_percent(
        time="created_at",
        code="repeat_ticket_rate",
        name_en="Repeat ticket rate",
        name_zh="重复工单率",
        direction="down",
        target=8,
        where=_repeat_ticket,
        definition_en="Tickets T created in P: 100 × count(T whose customer had another ticket created in the 7 "
        "days before T — for the same unit when T has one) / count.",
        definition_zh="P 内创建的工单 T：100 × count(同一客户在 T 创建前 7 天内有其他工单的 T；"
        "T 有产品时须为同一产品) / count。",
    ),
    _ticket_percent(
        time="resolved_at",
        code="closure_rate",
        name_en="Closure rate",
        name_zh="工单闭环率",
        direction="up",
        target=95,
        where=Q(closed_at__isnull=False),
        definition_en="Tickets resolved in P: 100 × count(closed) / count.",
        definition_zh="P 内解决的工单：100 × count(已关闭) / count。",
    ),
    _ticket_percent(
        time="resolved_at",
        code="follow_up_rate",
        name_en="Timely follow-up rate",
        name_zh="回访及时率",
        direction="up",
        target=90,
        where=Q(follow_up_at__lte=F("resolved_at") + dt.timedelta(hours=72)),
        definition_en="Tickets resolved in P: 100 × count(followed up within 72 h of resolution) / count.",
        definition_zh="P 内解决的工单：100 × count(解决后 72 小时内回访) / count。",
    ),
    Kpi(
        code="backlog",
        name_en="Backlog",
        name_zh="积压工单",
        category="service_efficiency",
        unit="tickets",
        direction="down",
        kind="count",
        target=None,
        dims=TICKET_DIM_CODES,
        numerator=Difference(
            plus=_ticket("created_at", stock=True),
            minus=_ticket("resolved_at", stock=True),
            records=_open_at,
        ),
        definition_en="Tickets created before the end of P and not resolved before it.",
        definition_zh="P 结束前创建且在 P 结束前未解决的工单数。",
    ),
    Kpi(
        code="service_cost_per_ticket",
        name_en="Service cost per ticket",
        name_zh="单均服务成本",
        category="service_efficiency",
        unit="currency",
        direction="down",
        kind="mean",
        target=None,
        dims=TICKET_DIM_CODES,
        numerator=Measure(
            model="quality.Failure",
            time="ticket__resolved_at",
            dims=prefixed(TICKET_DIMS, "ticket__"),
            ticket_path="ticket__",
            kind="sum",
            field=_cost,
            convert=float,
        ),
        denominator=_ticket("resolved_at"),
        definition_en="Tickets resolved in P: (parts cost + labour rate × labour hours of their failures) / "
        "count(tickets).",
        definition_zh="P 内解决的工单：(其故障的配件成本 + 工时费率 × 工时) / count(工单)。",
    ),
    # Continuous improvement
    Kpi(
        code="recall_rate",
        name_en="Recall rate",
        name_zh="召回率",
        category="continuous_improvement",
        unit="%",
        direction="down",
        kind="ratio",
        scale=100,
        target=1,
        dims=("product_line", "product_model"),
        numerator=Measure(
            model="catalog.Batch",
            time="produced_on",
            is_date=True,
            dims={"product_line": "product_model__product_line__code", "product_model": "product_model__code"},
            where=_recalled_batch,
        ),
        denominator=Measure(
            model="catalog.Batch",
            time="produced_on",
            is_date=True,
            dims={"product_line": "product_model__product_line__code", "product_model": "product_model__code"},
        ),
        definition_en="Batches produced in P: 100 × count(batches named by any recall) / count.",
        definition_zh="P 内生产的批次：100 × count(被任一召回涉及的批次) / count。",
    ),
    Kpi(
        code="recall_completion_rate",
        name_en="Recall completion rate",
        name_zh="召回完成率",
        category="continuous_improvement",
        unit="%",
        direction="up",
        kind="ratio",
        scale=100,
        target=80,
        dims=(*UNIT_DIM_CODES, "recall"),
        numerator=Measure(
            model="quality.RecallUnit",
            time="remedied_at",
            stock=True,
            dims={**prefixed(UNIT_DIMS, "unit__"), "recall": "recall__code"},
            where=Q(status="remedied"),
        ),
        denominator=Measure(
            model="catalog.Unit",
            time="batch__recalls__opened_at",
            stock=True,
            dims={**UNIT_DIMS, "recall": "batch__recalls__code"},
        ),
        definition_en="(recall, unit) pairs of recalls opened before the end of P — every unit of the recalled "
        "batches, once per recall: 100 × count(remedied before the end of P) / count.",
        definition_zh="P 结束前发起的召回的(召回, 产品)对——召回批次的每台产品，每个召回计一次："
        "100 × count(P 结束前已补救) / count。",
    ),
    Kpi(
        code="preventive_coverage",
        name_en="Preventive service coverage",
        name_zh="预防性服务覆盖率",
        category="continuous_improvement",
        unit="%",
        direction="up",
        kind="ratio",
        scale=100,
        target=20,
        dims=("region", "segment"),
        numerator=_ticket("created_at", kind="distinct", field="customer", where=Q(type="preventive")),
        denominator=_customers(),
        definition_en="100 × count(distinct customers with a preventive ticket created in P) / count(customers "
        "created before the end of P).",
        definition_zh="100 × count(P 内有预防性工单的不同客户) / count(P 结束前创建的客户)。",
    ),
]


def catalogue_register() -> None:
    for kpi in CATALOGUE:
        kpi_register(kpi)
    record_fields_register(
        "tickets.Ticket",
        {
            "id": "pk",
            "ref": "external_id",
            "subject": "subject",
            "status": "status",
            "type": "type",
            "channel": "channel",
            "priority": "priority",
            "customer": "customer__name",
            "team": "team__name",
            "assignee": "assignee__username",
            "created_at": "created_at",
            "first_response_at": "first_response_at",
            "resolved_at": "resolved_at",
        },
        link=lambda row: f"/tickets/{row['id']}/",
    )
    record_fields_register(
        "tickets.Survey",
        {
            "id": "pk",
            "ref": "external_id",
            "ticket": "ticket__external_id",
            "customer": "customer__name",
            "responded_at": "responded_at",
            "csat": "csat",
            "nps": "nps",
        },
    )
    record_fields_register(
        "quality.Failure",
        {
            "id": "pk",
            "ref": "external_id",
            "ticket": "ticket__external_id",
            "unit": "unit__serial",
            "failure_mode": "failure_mode__code",
            "component": "component__code",
            "occurred_at": "occurred_at",
            "repaired_at": "repaired_at",
            "parts_cost": "parts_cost",
            "labor_hours": "labor_hours",
        },
    )
    record_fields_register(
        "catalog.Unit",
        {
            "id": "pk",
            "ref": "serial",
            "product_model": "product_model__code",
            "batch": "batch__code",
            "customer": "customer__name",
            "sold_on": "sold_on",
        },
    )
    record_fields_register(
        "catalog.Customer",
        {
            "id": "pk",
            "ref": "external_id",
            "name": "name",
            "region": "region__name",
            "segment": "segment",
            "created_at": "created_at",
        },
    )
    record_fields_register(
        "catalog.Batch",
        {"id": "pk", "ref": "code", "product_model": "product_model__code", "produced_on": "produced_on"},
    )
    record_fields_register(
        "quality.RecallUnit",
        {"id": "pk", "ref": "unit__serial", "recall": "recall__code", "status": "status", "remedied_at": "remedied_at"},
    )
