"""Deterministic demo data for an empty database (`python manage.py seed_demo`).

Everything is drawn from one ``random.Random(seed)`` and the ``as_of`` date, and every
key is assigned by the generator (explicit primary keys, ``T0000001``-style external
ids), so the same seed and date always give the same rows. The pipeline:

1. master data: regions with aliases, customers, product lines and models, suppliers,
   components, the failure-mode tree, monthly batches, units, teams and users;
2. ticket *drafts*: one compact (created_at, unit, customer, kind) entry per ticket,
   produced by per-unit and per-customer event processes (failures from a hazard rate,
   installations at sale, inquiries, complaints, preventive visits). The planted
   problems (PLANTED) live in these processes;
3. materialisation: the drafts, sorted by created_at, become tickets with their
   timeline, failures and surveys, written in chunks with ``bulk_create``.

Drafts and units are kept in ``array`` columns, not model instances, so the large
scale (over a million tickets) stays within a few hundred MB.

``demo_seed`` is the only function that writes; ``demo_fingerprint`` runs the same
pipeline into a hash instead of the database (the tests use it to prove determinism).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
import string
import time
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as dtime
from decimal import Decimal
from typing import NamedTuple

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.color import no_style
from django.db import connection, reset_queries, transaction
from django.db.models import F, Model
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from catalog.models import (
    Batch,
    Component,
    Customer,
    ProductLine,
    ProductModel,
    Region,
    RegionAlias,
    Supplier,
    Unit,
    User,
    region_key,
)
from catalog.roles import ADMIN, AGENT, COMMITTEE_MEMBER, MANAGER, QUALITY_ENGINEER, SUPERVISOR, roles_sync
from quality.models import Failure, FailureMode, Recall, RecallUnit
from quality.services import alert_rules_install_defaults, failure_repeats_mark
from tickets.models import Survey, Team, Ticket, TicketEvent

DEFAULT_SEED = 42
# Every demo login shares this password; it is printed by the command and the README.
DEMO_PASSWORD = "demo"  # noqa: S105
# Monthly lots per model before --as-of: more than the 26 months the KPI history needs.
BATCH_MONTHS = 28
# Rows per bulk_create and tickets per materialised chunk.
CHUNK = 5000

DEMO_LOGINS: list[tuple[str, str]] = [
    ("agent", AGENT),
    ("agent2", AGENT),
    ("supervisor", SUPERVISOR),
    ("quality", QUALITY_ENGINEER),
    ("committee", COMMITTEE_MEMBER),
    ("manager", MANAGER),
    ("admin", ADMIN),
]

# The problems planted for dashboards and alerts to find. Dates depend on --as-of, so
# they are given relative to it here; planted_for(as_of=...) resolves them.
PLANTED: dict = {
    # Lot 15 of 28 of WM200 is produced in the month 14 months before --as-of's month.
    # Its drum bearings come from a second source (WB-BRG-02 by SUP-HLB) and wear out:
    # from 3.5 months after sale, each fails after a Weibull time (shape 2, scale 4
    # months), unless the recall replaced it first. Sibling lots keep the normal rate.
    "defective_batch": "WM200-L15",
    "defective_model": "WM200",
    "defective_failure_mode": "MECH-BEARING",
    "defective_component": "WB-BRG-02",
    "defective_supplier": "SUP-HLB",
    "defective_months_before": 14,
    "defect_onset_months": 3.5,
    "defect_weibull_shape": 2.0,
    "defect_weibull_scale_months": 4.0,
    "recall": "RC-0001",
    "recall_months_before": 4,
    # From the first day of the month five months before --as-of's month, this team's
    # backlog adds a queueing delay (mean 6.5 h) to every first response: the mean goes
    # from ~2 h to ~8.5 h. Other teams are unchanged.
    "degraded_team": "East Service",
    "degraded_months_before": 5,
    "degraded_extra_response_hours": 6.5,
    # Air conditioners: failures, inquiries and sales (hence installations) ~2.5x in
    # July and August.
    "seasonal_line": "air_conditioner",
    "seasonal_months": (7, 8),
    "seasonal_factor": 2.5,
}


@dataclass(frozen=True)
class Scale:
    """Sizes of one demo scale. Ticket volume follows from customers and units."""

    name: str
    customers: int
    batch_quantity: int  # mean units per monthly lot and model
    agents_per_team: int
    full_timeline: bool  # every event of every ticket, or only its `created` event


SCALES: dict[str, Scale] = {
    # "tiny" exists for the test suite (a few seconds to load); not for demos.
    "tiny": Scale("tiny", customers=200, batch_quantity=16, agents_per_team=2, full_timeline=True),
    "small": Scale("small", customers=800, batch_quantity=26, agents_per_team=3, full_timeline=True),
    "medium": Scale("medium", customers=8000, batch_quantity=260, agents_per_team=8, full_timeline=True),
    # Large is for benchmarks on PostgreSQL: ~1.1 M tickets. It writes only the
    # `created` event per ticket (a full timeline would be ~7 M event rows).
    "large": Scale("large", customers=170_000, batch_quantity=4600, agents_per_team=40, full_timeline=False),
}

# --- master data tables ---------------------------------------------------------------

# name, share of customers, aliases, cities
REGIONS: tuple[tuple[str, float, tuple[str, ...], tuple[str, ...]], ...] = (
    ("East", 0.30, ("华东", "华东区", "east china"), ("Shanghai", "Hangzhou", "Nanjing", "Suzhou", "Ningbo", "Hefei")),
    ("North", 0.22, ("华北", "华北区", "north china"), ("Beijing", "Tianjin", "Shijiazhuang", "Jinan", "Qingdao")),
    ("South", 0.22, ("华南", "华南区", "south china"), ("Guangzhou", "Shenzhen", "Dongguan", "Xiamen", "Nanning")),
    ("West", 0.12, ("西部", "西部区", "west china", "western china"), ("Chengdu", "Chongqing", "Xi'an", "Kunming")),
    ("Central", 0.14, ("华中", "华中区", "central china"), ("Wuhan", "Changsha", "Zhengzhou", "Nanchang")),
)
# One service team per region, same order; first-response speed relative to East.
TEAMS: tuple[tuple[str, str, float], ...] = (
    # team name, user-name stem, response-time factor
    ("East Service", "east", 1.0),
    ("North Service", "north", 0.9),
    ("South Service", "south", 1.1),
    ("West Service", "west", 1.2),
    ("Central Service", "central", 1.0),
)
SEGMENTS = ("consumer", "business", "vip")
SEGMENT_SHARES = (0.68, 0.22, 0.10)

PRODUCT_LINES = (("washer", "Washer"), ("air_conditioner", "Air conditioner"), ("router", "Router"))
# code, name, line, plant
MODELS: tuple[tuple[str, str, str, str], ...] = (
    ("WM100", "AquaClean 7 kg Front-Load Washer", "washer", "Hefei Plant"),
    ("WM200", "AquaClean Pro 9 kg Front-Load Washer", "washer", "Hefei Plant"),
    ("AC300", "CoolBreeze 1.5 HP Split Air Conditioner", "air_conditioner", "Foshan Plant"),
    ("AC500", "CoolBreeze Inverter 2 HP Split Air Conditioner", "air_conditioner", "Foshan Plant"),
    ("RT10", "LinkStar AX1800 Wi-Fi 6 Router", "router", "Shenzhen Plant"),
    ("RT20", "LinkStar AX3000 Mesh Router", "router", "Shenzhen Plant"),
)


@dataclass(frozen=True)
class LineProfile:
    failure_rate: float  # base failures per unit-month
    install_share: float  # sales that ask for an installation visit
    warranty_months: int
    sale_segments: tuple[float, float, float]  # who buys: consumer, business, vip
    seasonal: bool


LINES: dict[str, LineProfile] = {
    "washer": LineProfile(0.007, 0.55, 24, (0.62, 0.20, 0.18), seasonal=False),
    "air_conditioner": LineProfile(0.008, 0.92, 36, (0.50, 0.38, 0.12), seasonal=True),
    "router": LineProfile(0.006, 0.06, 12, (0.45, 0.45, 0.10), seasonal=False),
}

SUPPLIERS = (
    ("SUP-LXB", "Lixin Bearing Co., Ltd."),
    ("SUP-HLB", "Hengli Bearing Co., Ltd."),
    ("SUP-DMT", "Dongfang Motor Works"),
    ("SUP-KEL", "Kaier Electronics"),
    ("SUP-JHP", "Jinhua Pump & Valve"),
    ("SUP-HSP", "Huasheng Plastics"),
    ("SUP-GLC", "Guoli Compressor"),
    ("SUP-TPW", "Topwin Power Supply"),
    ("SUP-XRF", "Xinrui RF Modules"),
)
# code, name, supplier, typical part cost
COMPONENTS: tuple[tuple[str, str, str, int], ...] = (
    ("WB-BRG-01", "Drum bearing", "SUP-LXB", 180),
    ("WB-BRG-02", "Drum bearing (second source)", "SUP-HLB", 160),
    ("WB-MTR", "Washer drive motor", "SUP-DMT", 420),
    ("WB-PCB", "Washer control board", "SUP-KEL", 260),
    ("WB-PUMP", "Drain pump", "SUP-JHP", 95),
    ("WB-VALVE", "Water inlet valve", "SUP-JHP", 60),
    ("WB-LOCK", "Door lock", "SUP-HSP", 45),
    ("WB-SHOCK", "Shock absorber", "SUP-HSP", 70),
    ("WB-LVL", "Water-level sensor", "SUP-KEL", 55),
    ("AC-CMP", "Compressor", "SUP-GLC", 900),
    ("AC-FAN", "Indoor fan motor", "SUP-DMT", 210),
    ("AC-PCB", "Air-conditioner control board", "SUP-KEL", 320),
    ("AC-SNS", "Temperature sensor", "SUP-KEL", 40),
    ("AC-VLV", "Electronic expansion valve", "SUP-JHP", 150),
    ("AC-PSU", "Power module", "SUP-TPW", 190),
    ("AC-DRN", "Condensate drain pan", "SUP-HSP", 50),
    ("RT-PSU", "Router power adapter", "SUP-TPW", 35),
    ("RT-PCB", "Router main board", "SUP-KEL", 160),
    ("RT-WIFI", "Wi-Fi module", "SUP-XRF", 80),
)
# code, English, Chinese, parent
FAILURE_MODES: tuple[tuple[str, str, str, str | None], ...] = (
    ("ELEC", "Electrical", "电气故障", None),
    ("ELEC-PCB", "Control board failure", "控制板故障", "ELEC"),
    ("ELEC-POWER", "Power supply failure", "电源故障", "ELEC"),
    ("ELEC-SENSOR", "Sensor failure", "传感器故障", "ELEC"),
    ("MECH", "Mechanical", "机械故障", None),
    ("MECH-BEARING", "Bearing wear", "轴承磨损", "MECH"),
    ("MECH-MOTOR", "Motor failure", "电机故障", "MECH"),
    ("MECH-PUMP", "Drain pump failure", "排水泵故障", "MECH"),
    ("MECH-DOOR", "Door lock failure", "门锁故障", "MECH"),
    ("MECH-VIBRATION", "Excessive vibration", "振动过大", "MECH"),
    ("MECH-FAN", "Fan failure", "风机故障", "MECH"),
    ("MECH-COMPRESSOR", "Compressor failure", "压缩机故障", "MECH"),
    ("LEAK", "Leak", "泄漏", None),
    ("LEAK-WATER", "Water leak", "漏水", "LEAK"),
    ("LEAK-REFRIG", "Refrigerant leak", "制冷剂泄漏", "LEAK"),
    ("SW", "Software", "软件故障", None),
    ("SW-FIRMWARE", "Firmware fault", "固件故障", "SW"),
    ("SW-CONNECT", "Connectivity loss", "网络连接异常", "SW"),
    ("USER", "Use and installation", "使用与安装", None),
    ("USER-MISUSE", "Misuse", "使用不当", "USER"),
    ("USER-INSTALL", "Improper installation", "安装不当", "USER"),
    (FailureMode.UNCLASSIFIED, "Unclassified", "未分类", None),
)
BEARING = "__bearing__"  # the batch decides which bearing (and supplier) a washer has
# failure mode, weight, component, symptom (the ticket subject)
LINE_MODES: dict[str, tuple[tuple[str, int, str | None, str], ...]] = {
    "washer": (
        ("MECH-BEARING", 8, BEARING, "Loud rumbling noise during spin"),
        ("MECH-MOTOR", 10, "WB-MTR", "Drum does not turn"),
        ("MECH-PUMP", 15, "WB-PUMP", "Water does not drain"),
        ("MECH-DOOR", 10, "WB-LOCK", "Door will not lock or open"),
        ("ELEC-PCB", 14, "WB-PCB", "Display dead, program will not start"),
        ("ELEC-SENSOR", 6, "WB-LVL", "Fills with too much water"),
        ("LEAK-WATER", 15, "WB-VALVE", "Water leaking under the machine"),
        ("MECH-VIBRATION", 9, "WB-SHOCK", "Machine shakes and walks during spin"),
        ("USER-MISUSE", 10, None, "Error code E21 after every wash"),
    ),
    "air_conditioner": (
        ("MECH-COMPRESSOR", 7, "AC-CMP", "Does not cool at all"),
        ("MECH-FAN", 12, "AC-FAN", "Indoor unit fan not spinning"),
        ("ELEC-PCB", 14, "AC-PCB", "Unit does not respond to the remote"),
        ("ELEC-SENSOR", 11, "AC-SNS", "Temperature swings, unit cycles on and off"),
        ("LEAK-REFRIG", 14, "AC-VLV", "Cooling weak, outdoor pipe icing"),
        ("LEAK-WATER", 12, "AC-DRN", "Water dripping from the indoor unit"),
        ("ELEC-POWER", 8, "AC-PSU", "Unit trips the breaker"),
        ("USER-INSTALL", 11, None, "Noisy outdoor unit after installation"),
        ("USER-MISUSE", 11, None, "Filter clogged, weak airflow"),
    ),
    "router": (
        ("ELEC-POWER", 25, "RT-PSU", "Router does not power on"),
        ("ELEC-PCB", 14, "RT-PCB", "Router reboots every few minutes"),
        ("SW-FIRMWARE", 24, None, "Router stuck after firmware update"),
        ("SW-CONNECT", 22, "RT-WIFI", "Wi-Fi drops every few minutes"),
        ("USER-MISUSE", 15, None, "Cannot log in to the admin page"),
    ),
}
ROOT_CAUSES_BY_GROUP: dict[str, tuple[tuple[str, int], ...]] = {
    "USER": (("customer", 80), ("people", 12), ("unknown", 8)),
    "SW": (("technology", 50), ("design", 35), ("unknown", 15)),
    "default": (
        ("material", 22),
        ("manufacturing", 22),
        ("supplier", 18),
        ("design", 12),
        ("external", 8),
        ("process", 6),
        ("unknown", 12),
    ),
    "defect": (("supplier", 75), ("manufacturing", 15), ("unknown", 10)),
}

# --- ticket tables --------------------------------------------------------------------

# Draft kinds (packed with a failure-mode index into one int: kind + 16 * (mode + 1)).
K_INSTALL, K_REPAIR, K_REPAIR_DEFECT, K_REPAIR_REPEAT, K_REPAIR_NO_UNIT = 0, 1, 2, 3, 4
K_INQUIRY, K_INQUIRY_NEW, K_COMPLAINT, K_COMPLAINT_DEFECT, K_PREVENTIVE = 5, 6, 7, 8, 9
KIND_TYPE = {
    K_INSTALL: "installation",
    K_REPAIR: "repair",
    K_REPAIR_DEFECT: "repair",
    K_REPAIR_REPEAT: "repair",
    K_REPAIR_NO_UNIT: "repair",
    K_INQUIRY: "inquiry",
    K_INQUIRY_NEW: "inquiry",
    K_COMPLAINT: "complaint",
    K_COMPLAINT_DEFECT: "complaint",
    K_PREVENTIVE: "preventive",
}
CHANNELS = ("phone", "web", "app", "wechat", "email", "store", "onsite")
CHANNEL_WEIGHTS: dict[str, tuple[int, ...]] = {
    "repair": (35, 10, 20, 20, 8, 5, 2),
    "installation": (20, 5, 20, 15, 0, 40, 0),
    "inquiry": (30, 15, 15, 25, 10, 5, 0),
    "complaint": (40, 10, 10, 20, 15, 5, 0),
    "preventive": (25, 0, 15, 0, 10, 0, 50),
}
SELF_SERVICE_CHANNELS = frozenset({"web", "app", "wechat", "email"})
PRIORITIES = ("urgent", "high", "normal", "low")
PRIORITY_WEIGHTS: dict[str, tuple[int, ...]] = {
    "repair": (6, 24, 55, 15),
    "installation": (2, 13, 65, 20),
    "inquiry": (1, 9, 60, 30),
    "complaint": (5, 35, 50, 10),
    "preventive": (0, 5, 45, 50),
}
# SLA in calendar hours: (first response, resolution).
SLA_HOURS = {"urgent": (1, 8), "high": (4, 24), "normal": (8, 72), "low": (24, 120)}
# Mean first response in hours; with the wait for the morning of requests made at
# night, the mean over all tickets is ~2 h.
RESPONSE_MEAN_HOURS = {"urgent": 0.2, "high": 0.5, "normal": 1.1, "low": 2.0}
# Median work (first response -> resolution) as a share of the resolution SLA.
WORK_SHARE = {"repair": 0.38, "installation": 0.33, "inquiry": 0.05, "complaint": 0.3, "preventive": 0.3}
FOLLOW_UP_SHARE = {"repair": 0.9, "installation": 0.85, "inquiry": 0.4, "complaint": 0.95, "preventive": 0.6}
SURVEY_SHARE = 0.40
OPEN_STAGES = ("new", "assigned", "in_progress", "waiting_customer")
# Relative ticket volume by local hour (business hours, thin at night).
HOUR_WEIGHTS = (0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4, 8, 9, 8, 5, 6, 8, 8, 7, 6, 4, 3, 2.5, 2, 1.2, 0.6)
# Air-conditioner season: month -> factor on failures, inquiries and sales (1 otherwise).
AC_SEASON = {6: 1.2, 7: 3.2, 8: 3.2, 9: 1.1}
AC_SEASON_TOP = max(AC_SEASON.values())

INQUIRY_SUBJECTS: dict[str, tuple[str, ...]] = {
    "washer": (
        "How do I clean the drain filter?",
        "Which program for wool?",
        "Warranty period question",
        "Can I stack a dryer on top?",
    ),
    "air_conditioner": (
        "How often should the filter be cleaned?",
        "Which mode saves the most power?",
        "Warranty of the compressor?",
        "Remote control pairing",
    ),
    "router": (
        "How do I set up the mesh node?",
        "Parental controls setup",
        "Warranty period question",
        "How to update the firmware?",
    ),
    None: ("Where is the nearest service centre?", "Invoice request", "Change of address", "Extended warranty price"),
}
COMPLAINT_SUBJECTS = (
    "Engineer arrived late",
    "Repair is taking too long",
    "Nobody called back",
    "Rude answer on the hotline",
    "Charged for a warranty repair",
)
RESOLUTION_NOTES = {
    "repair": "Repaired on site and tested.",
    "installation": "Installed, tested and explained to the customer.",
    "inquiry": "Answered; customer has no further questions.",
    "complaint": "Apologised and agreed on a remedy with the customer.",
    "preventive": "Maintenance done: cleaned, checked and tested.",
}
WAITING = "Waiting for the customer to confirm."
REOPENED = "Reopened: the customer says it is not solved."
FOLLOW_UP_NOTE = "Follow-up call (回访): customer satisfied."
FIRST_REPLIES = {
    "repair": "Thanks for reporting this. An engineer will call you to arrange a visit.",
    "installation": "Thank you for your purchase. We will call you to book the installation.",
    "inquiry": "Thanks for your question, we are looking into it.",
    "complaint": "We are sorry about this and are looking into it right away.",
    "preventive": "Your maintenance visit is scheduled; the engineer will call ahead.",
}

SURNAMES_ZH = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN_ZH = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏飞婷雪琳浩宇"
SURNAMES_EN = ("Li", "Wang", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu")
GIVEN_EN = ("Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang", "Yan", "Jie", "Tao", "Hua")
BUSINESS_WORDS = (
    "Sunrise",
    "Golden Lotus",
    "Harmony",
    "Evergreen",
    "Pearl River",
    "Jade",
    "Orient",
    "Silver Bay",
    "Bamboo Grove",
    "Red Lantern",
    "Blue Sky",
    "Lucky Star",
    "Green Valley",
    "Phoenix",
)
BUSINESS_KINDS = (
    "Hotel",
    "Laundry",
    "Property Management",
    "Restaurant",
    "Office Park",
    "Apartments",
    "Logistics",
    "School",
    "Clinic",
    "Fitness Club",
)

DAY = 86400
MONTH_SECONDS = 30.4375 * DAY


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def planted_for(*, as_of: date) -> dict:
    """PLANTED with its relative dates resolved for one --as-of date."""
    tz = timezone.get_default_timezone()
    month = _month_start(as_of)
    opened = _add_months(month, -PLANTED["recall_months_before"])
    return {
        **PLANTED,
        "defective_produced_month": _add_months(month, -PLANTED["defective_months_before"]),
        "degraded_from": _add_months(month, -PLANTED["degraded_months_before"]),
        "recall_opened_at": datetime.combine(opened.replace(day=12), dtime(10), tzinfo=tz),
        "data_from": _add_months(month, -BATCH_MONTHS),
        "cutoff": datetime.combine(as_of, dtime(0), tzinfo=tz),
    }


# --- sinks: where generated rows go ----------------------------------------------------


class _Sink:
    """Receives rows model by model; counts them."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def write(self, model: type[Model], objs: Sequence[Model]) -> None:
        if objs:
            label = model._meta.label
            self.counts[label] = self.counts.get(label, 0) + len(objs)
            self._write(model, objs)

    def _write(self, model: type[Model], objs: Sequence[Model]) -> None:
        raise NotImplementedError


class _DbSink(_Sink):
    def _write(self, model: type[Model], objs: Sequence[Model]) -> None:
        model.objects.bulk_create(objs, batch_size=CHUNK)
        # With DEBUG on, Django keeps the last 9,000 statements, each 5,000-row INSERT
        # megabytes long: without this the large scale needs ~1 GB more.
        reset_queries()


class _ReferenceSink(_DbSink):
    """Writes only what the standard template does not carry (regions and their
    spellings, product lines, the failure-mode taxonomy, teams; accounts are written by
    the user writer): an installation that then imports the demo's exported files holds
    the same data set."""

    MODELS = frozenset({"catalog.Region", "catalog.RegionAlias", "catalog.ProductLine", "quality.FailureMode"})

    def write(self, model: type[Model], objs: Sequence[Model]) -> None:
        # Team and its members table.
        if model._meta.label in self.MODELS or model._meta.app_label == "tickets" and "team" in model._meta.model_name:
            super().write(model, objs)


class _HashSink(_Sink):
    """Hashes every field value of every row instead of writing it."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes: dict[str, hashlib._Hash] = {}

    def _write(self, model: type[Model], objs: Sequence[Model]) -> None:
        digest = self.hashes.setdefault(model._meta.label, hashlib.sha256())
        names = [f.attname for f in model._meta.concrete_fields]
        for obj in objs:
            digest.update(repr(tuple(getattr(obj, n) for n in names)).encode())


# --- the generator ---------------------------------------------------------------------


@dataclass(frozen=True)
class _UserSpec:
    username: str
    first_name: str
    last_name: str
    role: str
    team: int | None = None  # index into TEAMS (member)
    language: str = ""
    superuser: bool = False
    leaves: bool = False  # left the company when the degraded period began


class _Generator:
    """One run of the demo generator. All randomness comes from ``self.rng``, consumed
    in a fixed order, so the rows depend only on (scale, seed, as_of)."""

    def __init__(self, *, scale: Scale, seed: int, as_of: date, sink: _Sink, log: Callable[[str], None]) -> None:
        self.scale = scale
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.sink = sink
        self.log = log
        self.tz: tzinfo = timezone.get_default_timezone()
        self.planted = planted_for(as_of=as_of)
        self.data_from: date = self.planted["data_from"]
        self.cutoff = int(self.planted["cutoff"].timestamp())
        self.start = self._ts(self.data_from)
        self.degraded_from = self._ts(self.planted["degraded_from"])
        self.recall_opened = int(self.planted["recall_opened_at"].timestamp())
        # Local calendar per day from six years back to 400 days after the cut-off,
        # indexed by (ts - self.day0) // DAY (Asia/Shanghai has no DST).
        first = _add_months(self.data_from, -72)
        self.day0 = self._ts(first)
        n_days = (as_of - first).days + 400
        days = [first + timedelta(days=i) for i in range(n_days)]
        self.day_month = bytes(d.month for d in days)
        self.day_weekday = bytes(d.weekday() for d in days)
        self.hour_cum = list(_cumulative(HOUR_WEIGHTS))
        self.t0 = time.monotonic()

    # -- time helpers

    def _ts(self, d: date, hour: float = 0.0) -> int:
        return int(datetime.combine(d, dtime(0), tzinfo=self.tz).timestamp() + hour * 3600)

    def _dt(self, ts: int | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    def _day(self, ts: float) -> int:
        return int((ts - self.day0) // DAY)

    def _month(self, ts: float) -> int:
        return self.day_month[self._day(ts)]

    def _hour(self, ts: float) -> float:
        return ((ts - self.day0) % DAY) / 3600

    def _business_time(self, ts: float) -> int:
        """A creation time on the day of ts, at an hour drawn from HOUR_WEIGHTS; some
        weekend requests wait for Monday."""
        day = self._day(ts)
        weekday = self.day_weekday[day]
        if weekday >= 5 and self.rng.random() < 0.3:
            day += 7 - weekday
        hour = bisect.bisect_right(self.hour_cum, self.rng.random() * self.hour_cum[-1])
        return self.day0 + day * DAY + hour * 3600 + self.rng.randrange(3600)

    def _next_business(self, ts: int) -> int:
        """ts itself in business hours (08-20), otherwise the next morning 08:00-09:30."""
        hour = self._hour(ts)
        if 8 <= hour < 20:
            return ts
        day = self._day(ts) + (1 if hour >= 20 else 0)
        return self.day0 + day * DAY + 8 * 3600 + self.rng.randrange(5400)

    def _lognormal(self, mean: float, sigma: float) -> float:
        return mean * math.exp(sigma * self.rng.gauss(0.0, 1.0) - sigma * sigma / 2)

    def _progress(self, message: str) -> None:
        self.log(f"  {message} ({time.monotonic() - self.t0:.1f} s)")

    # -- the run

    def run(self, *, user_pks: Callable[[list[_UserSpec]], list[int]]) -> None:
        self._master()
        self._users(user_pks)
        self._units_and_drafts()
        self._customer_drafts()
        self._tickets()
        self._recall()

    def _master(self) -> None:
        rng, sink = self.rng, self.sink
        sink.write(Region, [Region(id=i, key=region_key(r[0]), name=r[0]) for i, r in enumerate(REGIONS, 1)])
        # bulk_create skips RegionAlias.save(), so the keys are normalised here.
        spellings = [(region, region_key(s)) for region, r in enumerate(REGIONS, 1) for s in r[2]]
        sink.write(RegionAlias, [RegionAlias(id=i, key=k, region_id=r) for i, (r, k) in enumerate(spellings, 1)])

        # Customers: a third already customers before the data window, the rest joining
        # during it; numbered C000001.. in order of joining.
        window = self.cutoff - 3 * DAY - self.start
        early = self.start - self._ts(_add_months(self.data_from, -48))
        created = sorted(
            self.start - rng.randrange(early) if rng.random() < 0.32 else self.start + rng.randrange(window)
            for _ in range(self.scale.customers)
        )
        region_cum = list(_cumulative([r[1] for r in REGIONS]))
        segment_cum = list(_cumulative(SEGMENT_SHARES))
        self.customer_created = array("q", created)
        self.customer_region = array("b")
        self.customer_segment = array("b")
        customers = []
        for i, ts in enumerate(created):
            region = _pick(rng, region_cum)
            segment = _pick(rng, segment_cum)
            self.customer_region.append(region)
            self.customer_segment.append(segment)
            city = rng.choice(REGIONS[region][3])
            if segment == 1:
                name = f"{city} {rng.choice(BUSINESS_WORDS)} {rng.choice(BUSINESS_KINDS)} Co., Ltd."
            else:
                name = rng.choice(SURNAMES_ZH) + "".join(rng.choices(GIVEN_ZH, k=rng.choice((1, 2))))
            phone = "1" + rng.choice(("38", "39", "58", "86", "87")) + f"{rng.randrange(10**8):08d}"
            email = f"c{i + 1:06d}@example.com" if segment != 0 or rng.random() < 0.4 else ""
            customers.append(
                Customer(
                    id=i + 1,
                    external_id=f"C{i + 1:06d}",
                    name=name,
                    region_id=region + 1,
                    segment=SEGMENTS[segment],
                    city=city,
                    email=email,
                    phone=phone,
                    created_at=self._dt(ts),
                )
            )
            if len(customers) == CHUNK:
                sink.write(Customer, customers)
                customers = []
        sink.write(Customer, customers)
        # Per segment: join times (sorted) and customer indices, to sell units only to
        # customers who had joined by the sale date.
        self.segment_created: list[list[int]] = [[], [], []]
        self.segment_customers: list[list[int]] = [[], [], []]
        for i, ts in enumerate(created):
            self.segment_created[self.customer_segment[i]].append(ts)
            self.segment_customers[self.customer_segment[i]].append(i)

        sink.write(ProductLine, [ProductLine(id=i, code=c, name=n) for i, (c, n) in enumerate(PRODUCT_LINES, 1)])
        line_ids = {c: i for i, (c, _n) in enumerate(PRODUCT_LINES, 1)}
        launched = _add_months(self.data_from, -2)
        sink.write(
            ProductModel,
            [
                ProductModel(id=i, code=code, name=name, product_line_id=line_ids[line], launched_on=launched)
                for i, (code, name, line, _plant) in enumerate(MODELS, 1)
            ],
        )
        supplier_ids = {c: i for i, (c, _n) in enumerate(SUPPLIERS, 1)}
        sink.write(Supplier, [Supplier(id=i, code=c, name=n) for i, (c, n) in enumerate(SUPPLIERS, 1)])
        self.component_ids = {c[0]: i for i, c in enumerate(COMPONENTS, 1)}
        self.component_cost = {c[0]: c[3] for c in COMPONENTS}
        sink.write(
            Component,
            [
                Component(id=i, code=c, name=n, supplier_id=supplier_ids[s])
                for i, (c, n, s, _) in enumerate(COMPONENTS, 1)
            ],
        )
        self.mode_ids = {m[0]: i for i, m in enumerate(FAILURE_MODES, 1)}
        sink.write(
            FailureMode,
            [
                FailureMode(id=i, code=c, name_en=en, name_zh=zh, parent_id=self.mode_ids[p] if p else None)
                for i, (c, en, zh, p) in enumerate(FAILURE_MODES, 1)
            ],
        )
        self.mode_codes = [m[0] for m in FAILURE_MODES]
        self.line_modes = {
            line: ([self.mode_ids[m[0]] - 1 for m in modes], list(_cumulative([m[1] for m in modes])))
            for line, modes in LINE_MODES.items()
        }
        self.mode_info = {
            (line, self.mode_ids[m[0]] - 1): (m[2], m[3]) for line, modes in LINE_MODES.items() for m in modes
        }
        self.model_line = [m[2] for m in MODELS]

        # Monthly lots per model; lot 1 is BATCH_MONTHS months before --as-of's month.
        batches = []
        self.batches: list[tuple[int, date, int]] = []  # (model index, produced_on, quantity)
        for m, (code, _name, _line, plant) in enumerate(MODELS):
            for k in range(1, BATCH_MONTHS + 1):
                month = _add_months(self.data_from, k - 1)
                produced = month.replace(day=rng.randint(5, 25))
                quantity = max(1, round(self.scale.batch_quantity * rng.uniform(0.8, 1.2)))
                batch_id = len(batches) + 1
                batches.append(
                    Batch(
                        id=batch_id,
                        code=f"{code}-L{k:02d}",
                        product_model_id=m + 1,
                        produced_on=produced,
                        quantity=quantity,
                        plant=plant,
                    )
                )
                self.batches.append((m, produced, quantity))
                if batches[-1].code == PLANTED["defective_batch"]:
                    self.defective_batch_id = batch_id
        sink.write(Batch, batches)
        self._progress(
            f"master data: {len(REGIONS)} regions, {len(created)} customers, {len(MODELS)} models, "
            f"{len(batches)} batches"
        )

    def _users(self, user_pks: Callable[[list[_UserSpec]], list[int]]) -> None:
        """Teams with a supervisor and agents; the demo logins; one user per other role."""
        rng = self.rng
        specs: list[_UserSpec] = []

        def person() -> tuple[str, str]:
            return rng.choice(GIVEN_EN), rng.choice(SURNAMES_EN)

        self.team_agents: list[list[int]] = []
        self.team_supervisor: list[int] = []
        for t, (_team, stem, _factor) in enumerate(TEAMS):
            sup_name = "supervisor" if t == 0 else f"sup_{stem}"
            self.team_supervisor.append(len(specs))
            specs.append(_UserSpec(sup_name, *person(), role=SUPERVISOR, team=t))
            agents = []
            for n in range(1, self.scale.agents_per_team + 1):
                username = {(0, 1): "agent", (1, 1): "agent2"}.get((t, n), f"{stem}{n}")
                # The last East agent leaves when the degraded period begins (the
                # planted story behind the slower first responses).
                leaves = t == 0 and n == self.scale.agents_per_team and n >= 3
                agents.append(len(specs))
                specs.append(
                    _UserSpec(
                        username,
                        *person(),
                        role=AGENT,
                        team=t,
                        language="zh-hans" if username == "agent2" else "",
                        leaves=leaves,
                    )
                )
            self.team_agents.append(agents)
        for username, role in (("quality", QUALITY_ENGINEER), ("committee", COMMITTEE_MEMBER), ("manager", MANAGER)):
            specs.append(_UserSpec(username, *person(), role=role))
        specs.append(_UserSpec("admin", "Admin", "", role=ADMIN, superuser=True))
        # A salt drawn from the seed keeps the rows identical from run to run, and one
        # hash serves every demo user (PBKDF2 at 1 M iterations costs ~0.5 s a call).
        salt = "".join(rng.choices(string.ascii_letters + string.digits, k=22))
        self.password_hash = make_password(DEMO_PASSWORD, salt=salt)
        self.user_pk = user_pks(specs)
        self.username = [s.username for s in specs]
        self.user_index = {name: i for i, name in enumerate(self.username)}
        self.leaver = {i for i, s in enumerate(specs) if s.leaves}
        self.sink.write(
            Team,
            [
                Team(id=t + 1, name=name, supervisor_id=self.user_pk[self.team_supervisor[t]])
                for t, (name, _stem, _f) in enumerate(TEAMS)
            ],
        )
        members = [
            Team.members.through(team_id=s.team + 1, user_id=self.user_pk[i])
            for i, s in enumerate(specs)
            if s.team is not None
        ]
        self.sink.write(Team.members.through, members)
        self._progress(f"users: {len(specs)}, teams: {len(TEAMS)}")

    # -- units and their ticket drafts

    def _draft(self, ts: float, unit: int, customer: int, kind: int, mode: int = -1) -> None:
        if ts < self.cutoff:
            self.d_ts.append(int(ts))
            self.d_unit.append(unit)
            self.d_customer.append(customer)
            self.d_code.append(kind + 16 * (mode + 1))

    def _units_and_drafts(self) -> None:
        self.d_ts, self.d_unit, self.d_customer, self.d_code = array("q"), array("l"), array("l"), array("l")
        self.unit_model = array("b")
        self.unit_batch = array("l")
        self.recall_units: list[tuple[int, str, int | None]] = []
        serial_counter = [0] * len(MODELS)
        self.sale_segment_cum = {line: list(_cumulative(p.sale_segments)) for line, p in LINES.items()}
        units: list[Unit] = []
        sold = 0
        for b, (m, produced, quantity) in enumerate(self.batches):
            line = self.model_line[m]
            profile = LINES[line]
            defective = b + 1 == self.defective_batch_id
            for _ in range(quantity):
                u = len(self.unit_model)
                serial_counter[m] += 1
                sale = self._sale_date(produced, seasonal=profile.seasonal)
                customer = self._buyer(sale, line) if sale is not None else -1
                if customer < 0:
                    sale = None
                self.unit_model.append(m)
                self.unit_batch.append(b + 1)
                units.append(
                    Unit(
                        id=u + 1,
                        serial=f"SN-{MODELS[m][0]}-{serial_counter[m]:06d}",
                        product_model_id=m + 1,
                        batch_id=b + 1,
                        customer_id=customer + 1 if customer >= 0 else None,
                        sold_on=sale,
                        warranty_months=profile.warranty_months,
                    )
                )
                if len(units) == CHUNK:
                    self.sink.write(Unit, units)
                    units = []
                remedied = self._recall_plan(u, sale) if defective else None
                if sale is not None:
                    sold += 1
                    self._unit_drafts(u, customer, line, sale, defective, remedied)
        self.sink.write(Unit, units)
        self._progress(f"units: {len(self.unit_model)} ({sold} sold), ticket drafts so far: {len(self.d_ts)}")

    def _sale_date(self, produced: date, *, seasonal: bool) -> date | None:
        """Most units sell one to three months after production. Air conditioners wait
        in the channel for the summer: a sale day within eleven months, accepted in
        proportion to its month's season factor. None: in stock at --as-of (or kept as
        a demo unit)."""
        rng = self.rng
        if rng.random() < 0.03:
            return None
        if seasonal:
            for _ in range(30):
                sale = produced + timedelta(days=rng.randrange(5, 330))
                if rng.random() * AC_SEASON_TOP < AC_SEASON.get(sale.month, 1.0):
                    break
        else:
            sale = produced + timedelta(days=int(3 + self._lognormal(40, 0.7)))
        return sale if sale < self.as_of else None

    def _buyer(self, sale: date, line: str) -> int:
        """A customer who had joined before the sale day, from the line's buyer mix."""
        rng = self.rng
        limit = self._ts(sale)
        first = _pick(rng, self.sale_segment_cum[line])
        for segment in (first, 0, 1, 2):
            n = bisect.bisect_left(self.segment_created[segment], limit)
            if n:
                return self.segment_customers[segment][rng.randrange(n)]
        return -1

    def _recall_plan(self, u: int, sale: date | None) -> int | None:
        """Decide the recall status of a defective-batch unit; return its remedy time."""
        rng = self.rng
        span = self.cutoff - DAY - (self.recall_opened + 7 * DAY)
        if sale is None:  # in stock: fixed in the warehouse early on
            status = "remedied"
            remedied = self.recall_opened + rng.randrange(3 * DAY, 20 * DAY)
        else:
            status = rng.choices(("remedied", "scheduled", "notified", "unreachable", "pending"), (50, 15, 20, 5, 10))[
                0
            ]
            remedied = self.recall_opened + 7 * DAY + rng.randrange(max(span, DAY)) if status == "remedied" else None
        self.recall_units.append((u, status, remedied))
        return remedied

    def _unit_drafts(self, u: int, customer: int, line: str, sale: date, defective: bool, remedied: int | None) -> None:
        rng = self.rng
        sold = self._ts(sale)
        profile = LINES[line]
        seasonal = profile.seasonal
        segment = self.customer_segment[customer]
        # Installation: booked at the sale or within days.
        if rng.random() < profile.install_share:
            self._draft(self._business_time(sold + rng.choice((0, 0, 1, 2, 3)) * DAY), u, customer, K_INSTALL)
        # The defective lot's bearing: one wear-out failure, unless remedied first. The
        # repair fits a good bearing, so there is no second one.
        defect_at = self.cutoff
        if defective:
            weibull = (-math.log(1.0 - rng.random())) ** (1 / PLANTED["defect_weibull_shape"])
            months = PLANTED["defect_onset_months"] + PLANTED["defect_weibull_scale_months"] * weibull
            defect_at = sold + months * MONTH_SECONDS
            if defect_at < min(remedied or self.cutoff, self.cutoff):
                ts = self._business_time(defect_at)
                self._draft(ts, u, customer, K_REPAIR_DEFECT, self.mode_ids["MECH-BEARING"] - 1)
                if rng.random() < 0.2:
                    self._draft(self._business_time(ts + rng.uniform(1, 10) * DAY), u, customer, K_COMPLAINT_DEFECT)
        # Other failures: a thinned Poisson process, base rate x season x infant
        # mortality (2.5x in the first 30 days).
        base = profile.failure_rate / MONTH_SECONDS
        lam_max = base * (AC_SEASON_TOP if seasonal else 1.0) * 2.5
        modes, mode_cum = self.line_modes[line]
        t = float(sold)
        while True:
            t += rng.expovariate(lam_max)
            if t >= self.cutoff:
                break
            season = AC_SEASON.get(self._month(t), 1.0) if seasonal else 1.0
            if rng.random() * lam_max < base * season * (2.5 if t - sold < 30 * DAY else 1.0):
                mode = modes[_pick(rng, mode_cum)]
                ts = self._business_time(t)
                self._draft(ts, u, customer, K_REPAIR, mode)
                if rng.random() < 0.05:  # the repair did not hold
                    self._draft(self._business_time(ts + rng.uniform(8, 30) * DAY), u, customer, K_REPAIR_REPEAT, mode)
        # Units whose bearing was already replaced count as remedied by the recall.
        repaired_before = defect_at < min(self.recall_opened, self.cutoff)
        if defective and self.recall_units[-1][1] != "remedied" and repaired_before and rng.random() < 0.8:
            self.recall_units[-1] = (u, "remedied", self.recall_opened + rng.randrange(DAY, 5 * DAY))
        # Inquiries: a burst of how-to questions in the first weeks, then a low rate
        # (seasonal for air conditioners).
        if rng.random() < 0.25:
            self._draft(self._business_time(sold + rng.uniform(0.5, 20) * DAY), u, customer, K_INQUIRY_NEW)
        for t in self._poisson(sold, 0.025, seasonal):
            self._draft(self._business_time(t), u, customer, K_INQUIRY)
        for t in self._poisson(sold, 0.002, False):
            self._draft(self._business_time(t), u, customer, K_COMPLAINT)
        # Preventive service: pre-season cleaning of some business and VIP air
        # conditioners (April to early June), a yearly check of VIP washers.
        if line == "air_conditioner" and segment != 0:
            for year in range(sale.year, self.as_of.year + 1):
                window = self._ts(date(year, 4, 1))
                if window > sold and rng.random() < 0.2:
                    self._draft(self._business_time(window + rng.randrange(70) * DAY), u, customer, K_PREVENTIVE)
        elif line == "washer" and segment == 2:
            t = sold + 365 * DAY
            while t < self.cutoff:
                if rng.random() < 0.5:
                    self._draft(self._business_time(t + rng.randrange(-20, 20) * DAY), u, customer, K_PREVENTIVE)
                t += 365 * DAY

    def _poisson(self, start: float, rate_per_month: float, seasonal: bool) -> Iterator[float]:
        """Event times of a Poisson process from start to the cut-off, optionally with
        the air-conditioner season (by thinning)."""
        rng = self.rng
        top = AC_SEASON_TOP if seasonal else 1.0
        lam = rate_per_month * top / MONTH_SECONDS
        t = start
        while True:
            t += rng.expovariate(lam)
            if t >= self.cutoff:
                return
            if not seasonal or rng.random() * top < AC_SEASON.get(self._month(t), 1.0):
                yield t

    def _customer_drafts(self) -> None:
        """Requests not about a registered unit: general questions, complaints, and
        repairs where the customer gave no serial number."""
        rng = self.rng
        for c, joined in enumerate(self.customer_created):
            start = max(joined, self.start)
            for rate, kind in ((0.03, K_INQUIRY), (0.0015, K_COMPLAINT), (0.0015, K_REPAIR_NO_UNIT)):
                for t in self._poisson(start, rate, False):
                    # Not before the customer joined (the hour is redrawn within the day).
                    self._draft(max(self._business_time(t), joined + rng.randrange(600, 7200)), -1, c, kind)
        self._progress(f"ticket drafts: {len(self.d_ts)}")

    # -- tickets

    def _tickets(self) -> None:
        """Materialise the drafts in created_at order (T0000001 is the oldest ticket)."""
        order = sorted(range(len(self.d_ts)), key=self.d_ts.__getitem__)
        self.n_events = self.n_failures = self.n_surveys = 0
        n = len(order)
        step = max(CHUNK, (n // 10) // CHUNK * CHUNK)
        for begin in range(0, n, CHUNK):
            tickets, events, failures, surveys = [], [], [], []
            for i in order[begin : begin + CHUNK]:
                pk = len(tickets) + begin + 1
                # The newest tickets form the open queue, two in each open status.
                stage = OPEN_STAGES[(n - pk) % 4] if n - pk < 2 * len(OPEN_STAGES) else None
                self._ticket(pk, i, tickets, events, failures, surveys, stage)
            self.sink.write(Ticket, tickets)
            self.sink.write(TicketEvent, events)
            self.sink.write(Failure, failures)
            self.sink.write(Survey, surveys)
            done = min(begin + CHUNK, n)
            if done % step == 0 or done == n:
                self._progress(f"tickets: {done}/{n}")

    def _ticket(
        self, pk: int, i: int, tickets: list, events: list, failures: list, surveys: list, stage: str | None
    ) -> None:
        """Turn draft i into ticket pk with its events, failures and survey."""
        rng = self.rng
        created, u, c = self.d_ts[i], self.d_unit[i], self.d_customer[i]
        kind, mode = self.d_code[i] % 16, self.d_code[i] // 16 - 1
        type_ = KIND_TYPE[kind]
        line = self.model_line[self.unit_model[u]] if u >= 0 else None
        team = self.customer_region[c]  # each region's requests go to its own team
        priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS[type_])[0]
        if self.customer_segment[c] == 2 and priority in ("normal", "low") and rng.random() < 0.3:
            priority = "high"  # VIP customers are served first
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS[type_])[0]
        sla = SLA_HOURS[priority]

        timeline, auto, visits, owner = self._plan_timeline(created, type_, priority, channel, team, sla[1])
        if stage is not None:
            timeline = self._open_stage(timeline, stage, created, owner)
        # Everything at or after --as-of midnight has not happened yet; the ticket's
        # fields are read off what is left, so status and timestamps always agree.
        timeline = sorted((e for e in timeline if e.at < self.cutoff), key=lambda e: e.at)  # stable
        state = _derive(timeline, self.user_index)
        if state.resolved_at is None:
            visits = 1

        model = MODELS[self.unit_model[u]] if u >= 0 else None
        subject = self._subject(type_, kind, line, mode, model)
        tickets.append(
            Ticket(
                id=pk,
                external_id=f"T{pk:07d}",
                public_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                customer_id=c + 1,
                unit_id=u + 1 if u >= 0 else None,
                type=type_,
                channel=channel,
                priority=priority,
                subject=subject,
                description=f"{subject}. Model {model[0]}." if model else f"{subject}.",
                team_id=team + 1,
                assignee_id=self.user_pk[state.assignee] if state.assignee is not None else None,
                status=state.status,
                created_at=self._dt(created),
                assigned_at=self._dt(state.assigned_at),
                dispatch_method=("auto" if auto else "manual") if state.assigned_at is not None else "",
                reassignments=state.reassignments,
                first_response_at=self._dt(state.responded_at),
                response_due_at=self._dt(created + sla[0] * 3600),
                resolution_due_at=self._dt(created + sla[1] * 3600),
                resolved_at=self._dt(state.resolved_at),
                closed_at=self._dt(state.closed_at),
                follow_up_at=self._dt(state.follow_up_at),
                visits=visits,
                reopened_count=state.reopened,
            )
        )
        # At large scale only the `created` event is written (see Scale.full_timeline).
        for event in timeline if self.scale.full_timeline else timeline[:1]:
            self.n_events += 1
            events.append(
                TicketEvent(
                    id=self.n_events,
                    ticket_id=pk,
                    actor_id=self.user_pk[event.actor] if event.actor is not None else None,
                    at=self._dt(event.at),
                    kind=event.kind,
                    from_value=event.from_value,
                    to_value=event.to_value,
                    comment=event.comment,
                    public=event.public,
                )
            )
        if type_ == "repair" and u >= 0:
            self._failures(pk, u, kind, mode, line, created, state.resolved_at, failures)
        if state.resolved_at is not None and rng.random() < SURVEY_SHARE:
            self._survey(pk, c, kind, created, state, visits, sla, surveys)

    def _plan_timeline(
        self, created: int, type_: str, priority: str, channel: str, team: int, resolution_sla: int
    ) -> tuple[list[_Event], bool, int, int]:
        """The ticket's whole life as it would happen, ignoring --as-of: events, whether
        dispatch was automatic, visits, and the final owner."""
        rng = self.rng
        agents = self.team_agents[team]
        if created >= self.degraded_from:
            agents = [a for a in agents if a not in self.leaver]
        supervisor = self.team_supervisor[team]
        # Dispatch: rules assign most tickets within minutes, day or night; the rest
        # wait for a supervisor (in business hours).
        auto = rng.random() < 0.72
        if auto:
            assigned = created + rng.randrange(30, 600)
        else:
            assigned = self._next_business(created + int(self._lognormal(25 * 60, 0.7)))
        owner = rng.choice(agents) if rng.random() < 0.95 else supervisor

        # First response: by priority and team, after the assignment; normal and low
        # requests made at night wait for the morning. The degraded team has a backlog
        # that adds a queueing delay to every request.
        wait = self._lognormal(RESPONSE_MEAN_HOURS[priority] * TEAMS[team][2], 0.7) * 3600
        if priority in ("normal", "low"):
            wait = max(wait, self._next_business(created) - created)
        wait = max(wait, assigned - created + rng.randrange(60, 600))
        if team == 0 and created >= self.degraded_from:
            wait += self._lognormal(PLANTED["degraded_extra_response_hours"], 0.6) * 3600
        responded = created + int(wait)
        if not auto and rng.random() < 0.02:
            # An incomplete request, parked until the customer calls back.
            assigned += int(rng.uniform(4, 24) * 3600)
            responded = max(responded, assigned + rng.randrange(60, 600))

        creator = rng.choice(agents) if channel not in SELF_SERVICE_CHANNELS else None
        timeline = [
            _Event(created, "created", creator, to_value="new"),
            _Event(assigned, "assigned", None if auto else supervisor, to_value=self.username[owner], public=False),
        ]
        reassign = rng.choices((0, 1, 2), (91, 7.5, 1.5))[0]
        for k in range(reassign):
            new_owner = rng.choice([a for a in agents if a != owner] or [supervisor])
            at = assigned + (responded - assigned) * (k + 1) // (reassign + 1)
            timeline.append(
                _Event(at, "assigned", supervisor, self.username[owner], self.username[new_owner], public=False)
            )
            owner = new_owner
        timeline.append(_Event(responded, "reply", owner, comment=FIRST_REPLIES[type_]))
        timeline.append(_Event(responded, "status", owner, "assigned", "in_progress"))

        work = max(600.0, self._lognormal(WORK_SHARE[type_] * resolution_sla, 0.7) * 3600)
        resolved = responded + int(work)
        if type_ in ("repair", "complaint", "inquiry") and rng.random() < 0.12:
            # Waiting for the customer (a visit time, a photo, a spare part).
            paused = responded + int(work * rng.uniform(0.1, 0.5))
            pause = int(rng.uniform(3, 48) * 3600)
            timeline.append(_Event(paused, "status", owner, "in_progress", "waiting_customer", WAITING))
            timeline.append(_Event(paused + pause, "status", None, "waiting_customer", "in_progress"))
            resolved += pause
        timeline.append(_Event(resolved, "status", owner, "in_progress", "resolved", RESOLUTION_NOTES[type_]))
        visits = 1
        if type_ == "repair":
            visits = rng.choices((1, 2, 3), (80, 15, 5))[0]
        elif type_ == "complaint":
            visits = rng.choices((1, 2), (85, 15))[0]
        if rng.random() < (0.05 if type_ == "repair" else 0.02):
            reopened = resolved + int(rng.uniform(1, 5) * DAY)
            resolved = reopened + int(rng.uniform(4, 48) * 3600)
            timeline.append(_Event(reopened, "status", None, "resolved", "in_progress", REOPENED))
            timeline.append(_Event(resolved, "status", owner, "in_progress", "resolved", RESOLUTION_NOTES[type_]))
            visits += type_ == "repair"

        # Follow-up call (回访), mostly within 72 h; closed then, or by the customer.
        follow_up = None
        if rng.random() < FOLLOW_UP_SHARE[type_]:
            hours = rng.uniform(4, 60) if rng.random() < 0.85 else rng.uniform(73, 200)
            follow_up = self._next_business(resolved + int(hours * 3600))
            timeline.append(_Event(follow_up, "note", owner, comment=FOLLOW_UP_NOTE, public=False))
        if follow_up is not None and rng.random() < 0.88:
            timeline.append(
                _Event(follow_up, "status", owner, "resolved", "closed", "Closed after the follow-up call.")
            )
        elif rng.random() < 0.75:
            closed = self._next_business(resolved + int(rng.uniform(6, 120) * 3600))
            timeline.append(_Event(closed, "status", None, "resolved", "closed", "Customer confirmed the fix."))
        return timeline, auto, visits, owner

    def _open_stage(self, timeline: list[_Event], stage: str, created: int, owner: int) -> list[_Event]:
        """Keep a ticket open at --as-of in the given status: keep its events up to that
        stage, pulled (in order) into the time between creation and the cut-off."""
        kept = [timeline[0]]
        if stage != "new":
            kept += [e for e in timeline if e.kind == "assigned"]
        if stage in ("in_progress", "waiting_customer"):
            kept += [e for e in timeline if e.kind == "reply" or (e.kind, e.from_value) == ("status", "assigned")]
        if stage == "waiting_customer":
            kept.append(_Event(self.cutoff, "status", owner, "in_progress", "waiting_customer", WAITING))
        span = self.cutoff - created
        out, last = [], created
        for k, event in enumerate(kept):
            last = max(last, min(event.at, created + span * k // (len(kept) + 1)))
            out.append(event._replace(at=last))
        return out

    def _subject(self, type_: str, kind: int, line: str | None, mode: int, model: tuple | None) -> str:
        rng = self.rng
        if type_ == "repair":
            if model is None:
                return "Appliance not working, serial number unknown"
            return f"{self.mode_info[(line, mode)][1]} ({model[0]})"
        if type_ == "installation":
            return f"Install new {model[1]}"
        if type_ == "inquiry":
            if kind == K_INQUIRY_NEW:
                return f"How to use the new {model[1]}?"
            return rng.choice(INQUIRY_SUBJECTS[line])
        if type_ == "complaint":
            if kind == K_COMPLAINT_DEFECT:
                return f"Washer failed again, bearing noise ({model[0]})"
            return rng.choice(COMPLAINT_SUBJECTS)
        return f"Annual maintenance ({model[0]})"

    def _failures(
        self, ticket: int, u: int, kind: int, mode: int, line: str, created: int, resolved: int | None, out: list
    ) -> None:
        """One failure per repair of a unit, sometimes a second one found on the visit."""
        rng = self.rng
        modes = [(kind, mode)]
        if kind != K_REPAIR_DEFECT and rng.random() < 0.08:
            line_modes, cum = self.line_modes[line]
            other = line_modes[_pick(rng, cum)]
            if other != mode:
                modes.append((K_REPAIR, other))
        for k, m in modes:
            component, _symptom = self.mode_info[(line, m)]
            if component == BEARING:
                defective = self.unit_batch[u] == self.defective_batch_id
                component = PLANTED["defective_component"] if defective else "WB-BRG-01"
            group = "defect" if k == K_REPAIR_DEFECT else self.mode_codes[m].split("-")[0]
            causes = ROOT_CAUSES_BY_GROUP.get(group, ROOT_CAUSES_BY_GROUP["default"])
            cause = rng.choices([c for c, _ in causes], [w for _, w in causes])[0]
            parts = 0.0 if component is None else self.component_cost[component] * rng.uniform(0.9, 1.15)
            self.n_failures += 1
            out.append(
                Failure(
                    id=self.n_failures,
                    external_id=f"F{self.n_failures:07d}",
                    ticket_id=ticket,
                    unit_id=u + 1,
                    failure_mode_id=m + 1,
                    component_id=self.component_ids[component] if component else None,
                    occurred_at=self._dt(created),
                    repaired_at=self._dt(resolved),
                    root_cause_category=cause if resolved is not None or rng.random() < 0.3 else "",
                    labor_hours=Decimal(rng.randint(2, 14)) / 4,
                    parts_cost=Decimal(f"{parts:.2f}"),
                )
            )

    def _survey(
        self, ticket: int, c: int, kind: int, created: int, state: _State, visits: int, sla: tuple[int, int], out: list
    ) -> None:
        """Scores fall with slow resolution (relative to the SLA), slow first response,
        reopening, extra visits, complaints and the bearing defect."""
        rng = self.rng
        resolved = state.resolved_at
        answered = max(resolved, state.follow_up_at or resolved) + int(self._lognormal(8, 0.9) * 3600)
        if answered >= self.cutoff:
            return
        late = (resolved - created) / 3600 / sla[1]
        slow = ((state.responded_at or resolved) - created) / 3600 / sla[0]
        mood = 4.4 - 1.4 * max(0.0, late - 0.6) - 0.3 * max(0.0, slow - 1) - 0.9 * state.reopened - 0.4 * (visits > 1)
        if kind in (K_COMPLAINT, K_COMPLAINT_DEFECT):
            mood -= 0.6
        if kind == K_REPAIR_DEFECT:
            mood -= 0.5
        mood = min(5.0, max(1.0, mood))
        csat = min(5, max(1, round(mood + rng.gauss(0, 0.7))))
        nps = min(10, max(0, round(2 * mood - 0.2 + rng.gauss(0, 1.3))))
        which = rng.random()
        if which < 0.05:
            nps = None
        elif which < 0.10:
            csat = None
        comment = ""
        if csat is not None and csat <= 2:
            comment = rng.choice(("Took far too long.", "Had to call several times.", "Problem came back."))
        elif csat == 5 and rng.random() < 0.3:
            comment = rng.choice(("Friendly and quick engineer.", "Very satisfied.", "服务很好，谢谢！"))
        self.n_surveys += 1
        out.append(
            Survey(
                id=self.n_surveys,
                external_id=f"S{self.n_surveys:07d}",
                ticket_id=ticket,
                customer_id=c + 1,
                responded_at=self._dt(answered),
                csat=csat,
                nps=nps,
                comment=comment,
            )
        )

    def _recall(self) -> None:
        recall = Recall(
            id=1,
            code=PLANTED["recall"],
            title=f"Drum bearing replacement, lot {PLANTED['defective_batch']}",
            severity="class_ii",
            opened_at=self._dt(self.recall_opened),
            closed_at=None,
        )
        self.sink.write(Recall, [recall])
        self.sink.write(Recall.batches.through, [Recall.batches.through(recall_id=1, batch_id=self.defective_batch_id)])
        rows = [
            RecallUnit(
                id=i,
                recall_id=1,
                unit_id=u + 1,
                status=status,
                remedied_at=self._dt(min(ts, self.cutoff - 1)) if ts is not None else None,
            )
            for i, (u, status, ts) in enumerate(self.recall_units, 1)
        ]
        self.sink.write(RecallUnit, rows)
        self._progress(f"recall {PLANTED['recall']}: {len(rows)} units")


class _Event(NamedTuple):
    """One timeline entry; actor is an index into the generator's user list."""

    at: int
    kind: str
    actor: int | None
    from_value: str = ""
    to_value: str = ""
    comment: str = ""
    public: bool = True


@dataclass
class _State:
    """A ticket's fields as its events leave them."""

    status: str = "new"
    assigned_at: int | None = None
    responded_at: int | None = None
    resolved_at: int | None = None
    closed_at: int | None = None
    follow_up_at: int | None = None
    reassignments: int = 0
    reopened: int = 0
    assignee: int | None = None


def _derive(timeline: Sequence[_Event], user_index: dict[str, int]) -> _State:
    """Replay the events the way tickets.services applies them: the first assignment
    stamps assigned_at and later ones count as reassignments; the first reply is the
    first response; reopening clears resolved_at and counts."""
    state = _State()
    for event in timeline:
        if event.kind == "assigned":
            if state.assigned_at is None:
                state.assigned_at, state.status = event.at, "assigned"
            else:
                state.reassignments += 1
            state.assignee = user_index[event.to_value]
        elif event.kind == "reply" and state.responded_at is None:
            state.responded_at = event.at
        elif event.kind == "note":
            state.follow_up_at = event.at
        elif event.kind == "status":
            state.status = event.to_value
            if event.to_value == "resolved":
                state.resolved_at = event.at
            elif event.to_value == "closed":
                state.closed_at = event.at
            elif event.from_value == "resolved":
                state.reopened += 1
                state.resolved_at = None
    return state


def _cumulative(weights: Sequence[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _pick(rng: random.Random, cum: Sequence[float]) -> int:
    """Index drawn with the weights whose running totals are cum."""
    return bisect.bisect_right(cum, rng.random() * cum[-1])


# --- public entry points ---------------------------------------------------------------

# Tables seed_demo fills with explicit primary keys: any row in them means the database
# is not empty (and the keys could collide).
_SEEDED_MODELS: tuple[type[Model], ...] = (
    Region,
    RegionAlias,
    Customer,
    ProductLine,
    ProductModel,
    Supplier,
    Component,
    Batch,
    Unit,
    FailureMode,
    Team,
    Ticket,
    TicketEvent,
    Failure,
    Survey,
    Recall,
    RecallUnit,
)


def demo_database_is_empty() -> bool:
    return not any(model.objects.exists() for model in _SEEDED_MODELS)


def _user_writer(specs: list[_UserSpec], password_hash: Callable[[], str], as_of: date) -> list[int]:
    """Create the users that do not exist yet (an existing user keeps its password) and
    return every spec's pk."""
    groups = {g.name: g for g in Group.objects.filter(name__in={s.role for s in specs})}
    existing = dict(User.objects.filter(username__in=[s.username for s in specs]).values_list("username", "pk"))
    joined = datetime.combine(_add_months(as_of, -40), dtime(9), tzinfo=timezone.get_default_timezone())
    new = [
        User(
            username=s.username,
            first_name=s.first_name,
            last_name=s.last_name,
            email=f"{s.username}@example.com",
            password=password_hash(),
            is_staff=s.superuser,
            is_superuser=s.superuser,
            is_active=not s.leaves,
            language=s.language,
            date_joined=joined,
        )
        for s in specs
        if s.username not in existing
    ]
    User.objects.bulk_create(new)
    pks = dict(User.objects.filter(username__in=[s.username for s in specs]).values_list("username", "pk"))
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=pks[s.username], group_id=groups[s.role].pk) for s in specs],
        ignore_conflicts=True,
    )
    return [pks[s.username] for s in specs]


def demo_dispatch_setup() -> None:
    """Issue 5 dispatch configuration of the demo: one rule per region to its own team
    (as the generated history routes requests), a catch-all to the first team, and day
    shifts (Monday to Friday 09:00-18:00, Saturday 09:00-13:00 for each team's first
    agent) in the teams' time zone. Deterministic: rows follow the teams' member order."""
    from tickets.models import AgentShift, DispatchRule  # the seed's other tickets imports stay as they are

    regions = {r.name: r for r in Region.objects.filter(name__in=[name for name, *_ in REGIONS])}
    teams = {t.name: t for t in Team.objects.filter(name__in=[name for name, *_ in TEAMS])}
    rules = [
        DispatchRule(name=f"{region} → {team}", position=10 * (i + 1), region=regions[region], team=teams[team])
        for i, ((region, *_r), (team, *_t)) in enumerate(zip(REGIONS, TEAMS, strict=True))
        if region in regions and team in teams
    ]
    if TEAMS[0][0] in teams:
        rules.append(DispatchRule(name="Everything else", position=1000, team=teams[TEAMS[0][0]]))
    DispatchRule.objects.bulk_create(rules)
    shifts = []
    for team in teams.values():
        agents = list(team.members.filter(groups__name=AGENT, is_active=True).order_by("pk"))
        for n, agent in enumerate(agents):
            shifts += [AgentShift(team=team, user=agent, weekday=d, start=dtime(9), end=dtime(18)) for d in range(5)]
            if n == 0:
                shifts.append(AgentShift(team=team, user=agent, weekday=5, start=dtime(9), end=dtime(13)))
    AgentShift.objects.bulk_create(shifts)


# Issue 5 SLA policies of the demo: (priority, response, resolution) in business minutes;
# VIP customers get the stricter set.
DEMO_SLA = (("urgent", 30, 240), ("high", 60, 480), ("normal", 120, 1440), ("low", 240, 2880))
DEMO_SLA_VIP = (("urgent", 15, 120), ("high", 30, 240), ("normal", 60, 720), ("low", 120, 1440))


def demo_sla_setup(*, as_of: date, mark_imported: bool = True) -> None:
    """Issue 5 SLA configuration of the demo: the default calendar "China business
    hours" (Asia/Shanghai, Monday to Friday 09:00-12:00 and 13:30-18:00) with China's
    holidays and make-up working days for the demo's years and the next, on every team;
    one policy per priority and a stricter VIP set. The generated tickets keep their due
    times (history): marked as imported when `mark_imported` (one UPDATE; skipped at the
    large scale), and never swept (no sla_next_check_at)."""
    from tickets.models import BusinessCalendar, SlaPolicy, WorkingWindow  # as demo_dispatch_setup
    from tickets.services import calendar_holidays_prefill

    calendar = BusinessCalendar.objects.create(
        name="China business hours", time_zone="Asia/Shanghai", holiday_country="CN", is_default=True
    )
    WorkingWindow.objects.bulk_create(
        WorkingWindow(calendar=calendar, weekday=day, start=start, end=end)
        for day in range(5)
        for start, end in ((dtime(9), dtime(12)), (dtime(13, 30), dtime(18)))
    )
    first = Ticket.objects.order_by("created_at").values_list("created_at", flat=True).first()
    first_year = timezone.localtime(first).year if first else as_of.year
    calendar_holidays_prefill(calendar=calendar, years=range(first_year, as_of.year + 2))
    Team.objects.update(calendar=calendar)
    SlaPolicy.objects.bulk_create(
        [
            SlaPolicy(name=f"{priority.capitalize()}", priority=priority, response_minutes=r, resolution_minutes=s)
            for priority, r, s in DEMO_SLA
        ]
        + [
            SlaPolicy(
                name=f"VIP {priority}", priority=priority, segment="vip", response_minutes=r, resolution_minutes=s
            )
            for priority, r, s in DEMO_SLA_VIP
        ]
    )
    if mark_imported:
        Ticket.objects.exclude(response_due_at__isnull=True, resolution_due_at__isnull=True).update(
            sla_due_source="import"
        )


def demo_seed(
    *,
    scale: str = "small",
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    log: Callable[[str], None] = print,
    reference_only: bool = False,
) -> dict[str, int] | None:
    """Fill an empty database with the demo data set; return the row counts per model,
    or None (writing nothing) when the database already holds data. `reference_only`:
    only the accounts, teams and reference data the import template does not carry.

    Everything is written in one transaction, so a failed load leaves the database
    empty rather than half-seeded; on PostgreSQL an advisory lock keeps two concurrent
    runs (two `make run`s) from both seeding."""
    spec = SCALES[scale]
    as_of = as_of or timezone.localdate()
    roles_sync()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x5EED_DE30])
        if not demo_database_is_empty():
            return None
        log(f"seed_demo: scale {scale}, seed {seed}, as of {as_of.isoformat()}")
        sink = _ReferenceSink() if reference_only else _DbSink()
        generator = _Generator(scale=spec, seed=seed, as_of=as_of, sink=sink, log=log)
        generator.run(user_pks=lambda specs: _user_writer(specs, lambda: generator.password_hash, as_of))
        if spec.full_timeline:
            # updated_at is auto_now (stamped at insert); set it to the last change so
            # the rows do not depend on when the demo was loaded. Skipped at large scale
            # (a million-row update for a bookkeeping column).
            Ticket.objects.update(
                updated_at=Greatest(
                    F("created_at"),
                    *(
                        Coalesce(F(name), F("created_at"))
                        for name in ("assigned_at", "first_response_at", "resolved_at", "closed_at", "follow_up_at")
                    ),
                )
            )
        # Rows were inserted with explicit primary keys: move the sequences past them.
        statements = connection.ops.sequence_reset_sql(no_style(), list(_SEEDED_MODELS))
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
        demo_dispatch_setup()
        demo_sla_setup(as_of=as_of, mark_imported=spec.full_timeline)
        failure_repeats_mark()  # repeat flags: one UPDATE over the seeded failures
        alert_rules_install_defaults()  # a flushed database has lost the migration's rules
        if not reference_only:
            from .improvement_demo import improvement_demo_seed

            improvement_demo_seed(as_of=as_of, log=log)
        generator._progress("committing")
    log(f"  done in {time.monotonic() - generator.t0:.1f} s")
    return sink.counts


def demo_fingerprint(*, scale: str = "small", seed: int = DEFAULT_SEED, as_of: date) -> dict[str, tuple[int, str]]:
    """Run the generator without a database: per model, (row count, sha256 of all field
    values). Same arguments, same fingerprint. Users get pks 1..n here."""
    sink = _HashSink()
    generator = _Generator(scale=SCALES[scale], seed=seed, as_of=as_of, sink=sink, log=lambda _m: None)
    generator.run(user_pks=lambda specs: list(range(1, len(specs) + 1)))
    return {label: (sink.counts[label], sink.hashes[label].hexdigest()) for label in sorted(sink.counts)}
