"""KPI engine on a large database (run by hand, not in the test suite).

    DATABASE_URL=postgres://.../aftersales_large .venv/bin/python bench/kpi.py

Needs PostgreSQL. Seeds `seed_demo --scale large` first unless the database already
holds at least 1,000,000 tickets (an already-seeded database is used as it is; pass
SEED=0 to never seed). Measures in one run, against a floor measured in the same run
(a bare sequential scan of the ticket table: `count(*)` with index scans disabled):

- the full snapshot recompute (`kpi_snapshots_refresh(full=True)`);
- the incremental refresh after one new day of data: the tickets, surveys and failures
  of the data's last day copied one day later, inside a transaction rolled back at
  the end, so reruns see the same database;
- GET /api/v1/kpis/overview/ (the dashboard's default: 12 months by month) p50/p95
  over 100 requests, plain and filtered by a region;
- one KPI (first-time fix rate, every month) by a naive per-record Python loop over
  the ORM, against the engine computing it live and the snapshot serving it.

The snapshots are checked against the live engine (`kpi_values(live=True)`) after the
incremental refresh. The table is printed and appended to bench/RESULTS.md."""

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import DateTimeField, Max  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from catalog.models import User  # noqa: E402
from quality.kpi.engine import kpi_compute  # noqa: E402
from quality.kpi.periods import grain_floor, grain_next, kpi_zone, local_midnight  # noqa: E402
from quality.kpi.registry import kpi_lookup, kpi_registry  # noqa: E402
from quality.models import Failure  # noqa: E402
from quality.selectors import kpi_values  # noqa: E402
from quality.services import kpi_snapshots_refresh  # noqa: E402
from tickets.models import Survey, Ticket  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")
REQUESTS = int(os.environ.get("REQUESTS", "100"))
LARGE = 1_000_000


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def seconds(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def ensure_seeded() -> int:
    tickets = Ticket.objects.count()
    if tickets < LARGE and os.environ.get("SEED", "1") != "0":
        print(f"{tickets:,} tickets: seeding the large demo (about 5 minutes)...", flush=True)
        call_command("seed_demo", scale="large")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        tickets = Ticket.objects.count()
    return tickets


def floor_scan() -> list[float]:
    """A bare sequential scan of the ticket table (PostgreSQL may run it in parallel)."""
    samples = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        for _ in range(7):
            start = time.perf_counter()
            cursor.execute("SELECT count(*) FROM tickets_ticket")
            cursor.fetchone()
            samples.append(time.perf_counter() - start)
    return samples[1:]


def _shifted(obj, days: int = 1):
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if isinstance(field, DateTimeField) and value is not None:
            setattr(obj, field.attname, value + dt.timedelta(days=days))
    obj.pk = None
    return obj


def add_one_day() -> dict:
    """The records of the data's last local day, copied one day later (new keys)."""
    last = Ticket.objects.aggregate(t=Max("created_at"))["t"].astimezone(kpi_zone()).date()
    lo, hi = local_midnight(last), local_midnight(last + dt.timedelta(days=1))
    tag = uuid.uuid4().hex[:6]
    tickets = []
    for ticket in Ticket.objects.filter(created_at__gte=lo, created_at__lt=hi):
        ticket = _shifted(ticket)
        ticket.external_id = f"{ticket.external_id}-b{tag}"[:64]
        ticket.public_id = uuid.uuid4()
        tickets.append(ticket)
    Ticket.objects.bulk_create(tickets, batch_size=1000)
    surveys = []
    for survey in Survey.objects.filter(responded_at__gte=lo, responded_at__lt=hi):
        survey = _shifted(survey)
        survey.external_id = f"{survey.external_id}-b{tag}"[:64]
        surveys.append(survey)
    Survey.objects.bulk_create(surveys, batch_size=1000)
    failures = []
    for failure in Failure.objects.filter(occurred_at__gte=lo, occurred_at__lt=hi):
        failure = _shifted(failure)
        failure.external_id = f"{failure.external_id}-b{tag}"[:64]
        failures.append(failure)
    Failure.objects.bulk_create(failures, batch_size=1000)
    return {
        "day": last + dt.timedelta(days=1),
        "tickets": len(tickets),
        "surveys": len(surveys),
        "failures": len(failures),
    }


def snapshot_matches_live(today: dt.date) -> tuple[int, int]:
    """Every KPI's stored rows against the live engine: 12 months by month (total and
    by region where supported) and the last 35 days by day."""
    month = grain_floor(today, "month")
    checks = [
        ("month", grain_floor(month - dt.timedelta(days=330), "month"), grain_next(month, "month"), ()),
        ("month", grain_floor(month - dt.timedelta(days=330), "month"), grain_next(month, "month"), ("region",)),
        ("day", today - dt.timedelta(days=34), today + dt.timedelta(days=1), ()),
    ]
    compared = differ = 0
    for kpi in kpi_registry().values():
        for grain, start, end, by in checks:
            if any(d not in kpi.dims for d in by):
                continue
            stored = kpi_values(user=None, kpi=kpi, grain=grain, start=start, end=end, by=by)
            live = kpi_values(user=None, kpi=kpi, grain=grain, start=start, end=end, by=by, live=True)
            compared += 1
            if stored["source"] != "snapshot" or stored["rows"] != live["rows"]:
                differ += 1
                print(f"  differs: {kpi.code} {grain} {by} ({stored['source']})")
    return compared, differ


def incremental(today: dt.date) -> dict:
    with transaction.atomic():
        added = add_one_day()
        elapsed, result = seconds(kpi_snapshots_refresh)
        compared, differ = snapshot_matches_live(today)
        transaction.set_rollback(True)  # the next run starts from the same data
    return {**added, "seconds": elapsed, "result": result, "compared": compared, "differ": differ}


def overview(path: str) -> list[float]:
    client = APIClient(SERVER_NAME="localhost")
    client.force_authenticate(User.objects.get(username="manager"))
    response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    samples = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def naive_first_time_fix(start: dt.date, end: dt.date) -> list[dict]:
    """first_time_fix_rate by month, one ORM object at a time (the baseline)."""
    zone = kpi_zone()
    num, den = defaultdict(int), defaultdict(int)
    tickets = Ticket.objects.filter(resolved_at__isnull=False).order_by()
    for ticket in tickets.iterator(chunk_size=5000):
        day = ticket.resolved_at.astimezone(zone).date()
        if not start <= day < end:
            continue
        label = day.replace(day=1)
        den[label] += 1
        if ticket.visits <= 1 and ticket.reopened_count == 0:
            num[label] += 1
    return [
        {"period_start": label.isoformat(), "numerator": num[label], "denominator": den[label]} for label in sorted(den)
    ]


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0].split()[0]
        cursor.execute("SHOW max_parallel_workers_per_gather")
        workers = cursor.fetchone()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:  # pragma: no cover
        load = "?"
    return (
        f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, PostgreSQL {pg} (max_parallel_workers_per_gather "
        f"{workers}, TCP loopback), Python {platform.python_version()}, Django {django.get_version()}; "
        f"load average {load} at the start"
    )


def main():
    if connection.vendor != "postgresql":
        sys.exit("bench/kpi.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    described = machine()
    tickets = ensure_seeded()
    if tickets < LARGE:
        print(f"warning: only {tickets:,} tickets (the goals are for >= {LARGE:,})")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    today = dt.datetime.now(kpi_zone()).date()
    month = grain_floor(today, "month")
    first_month = grain_floor(month - dt.timedelta(days=330), "month")
    floor = floor_scan()
    floor_s = statistics.median(floor)
    print(f"tickets: {tickets:,}  floor (seq scan count(*)): {floor_s * 1000:.0f} ms", flush=True)

    full_s, full = seconds(lambda: kpi_snapshots_refresh(full=True))
    print(f"full recompute: {full_s:.1f} s, {full['rows']:,} rows", flush=True)
    inc = incremental(today)
    print(
        f"incremental after {inc['tickets']} tickets / {inc['surveys']} surveys / {inc['failures']} failures: "
        f"{inc['seconds']:.2f} s ({inc['result']['rows']:,} rows from {inc['result']['from']}); "
        f"snapshot vs live: {inc['compared'] - inc['differ']}/{inc['compared']} identical",
        flush=True,
    )

    query = f"grain=month&start={first_month}&end={grain_next(month, 'month')}"
    plain = overview(f"/api/v1/kpis/overview/?{query}")
    region = overview(f"/api/v1/kpis/overview/?{query}&region=East")

    kpi = kpi_lookup("first_time_fix_rate")
    start, end = dt.date(2024, 1, 1), grain_next(month, "month")
    naive_s, naive = seconds(lambda: naive_first_time_fix(start, end))
    live_s, live = seconds(lambda: kpi_compute(kpi=kpi, grain="month", start=start, end=end))
    snap_s, snap = seconds(lambda: kpi_values(user=None, kpi=kpi, grain="month", start=start, end=end))
    same = [(r["numerator"], r["denominator"]) for r in naive] == [(r["numerator"], r["denominator"]) for r in live]
    same_snap = (
        snap["source"] == "snapshot"
        and snap["rows"] == kpi_values(user=None, kpi=kpi, grain="month", start=start, end=end, live=True)["rows"]
    )

    rows = [
        ("floor: seq scan of tickets_ticket (count(*))", f"{floor_s:.3f} s", "1.0x", "—"),
        ("full snapshot recompute", f"{full_s:.1f} s", f"{full_s / floor_s:.0f}x floor", "<= 3x floor"),
        (
            f"incremental refresh, one new day ({inc['tickets']} tickets, {inc['surveys']} surveys, "
            f"{inc['failures']} failures)",
            f"{inc['seconds']:.2f} s",
            f"{inc['seconds'] / floor_s:.1f}x floor",
            "<= 1 s",
        ),
        (
            f"overview API, 12 months by month: p50 / p95 ({REQUESTS} requests)",
            f"{statistics.median(plain):.0f} / {p95(plain):.0f} ms",
            "",
            "p95 <= 100 ms",
        ),
        (
            "overview API, same, region=East: p50 / p95",
            f"{statistics.median(region):.0f} / {p95(region):.0f} ms",
            "",
            "p95 <= 100 ms",
        ),
        (
            "baseline: first_time_fix_rate by month, naive per-record ORM loop",
            f"{naive_s:.1f} s",
            f"{naive_s / live_s:.0f}x engine live",
            "—",
        ),
        ("first_time_fix_rate by month, engine live (one GROUP BY)", f"{live_s:.2f} s", "1.0x", "—"),
        (
            "first_time_fix_rate by month, from the snapshot",
            f"{snap_s * 1000:.0f} ms",
            f"{naive_s / snap_s:,.0f}x faster than naive",
            "—",
        ),
    ]
    checks = (
        f"Checks: naive == engine live: {'yes' if same else 'NO'}; snapshot == live (first_time_fix_rate): "
        f"{'yes' if same_snap else 'NO'}; after the incremental refresh, snapshot == live for "
        f"{inc['compared'] - inc['differ']} of {inc['compared']} (KPI, grain, dimension) requests."
    )
    header = "| measurement | time | ratio | goal |\n|---|---|---|---|"
    table = "\n".join([header, *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)])
    print()
    print(table)
    print(checks)
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    section = (
        f"\n## {dt.date.today().isoformat()} — KPI engine (`bench/kpi.py`, {tickets:,} tickets)\n\n"
        f"Machine: {described}. Commit {revision or '?'} (plus working tree).\n\n{table}\n\n{checks}\n"
    )
    with RESULTS.open("a") as out:
        out.write(section)


if __name__ == "__main__":
    main()
