"""Import engine throughput and memory (run by hand on PostgreSQL, not in the test suite).

    createdb aftersales_bench
    export DATABASE_URL=postgres://USER:PASS@127.0.0.1:5432/aftersales_bench
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/intake.py                 # 100,000 and 1,000,000 rows
    ROWS=200000 .venv/bin/python bench/intake.py     # one size only

EMPTIES the bench database's tickets (and their events) first, then makes sure 50,000
customers, 5 teams and 50 agents exist. For each size it writes a tickets CSV of that
many rows to a temporary file (streamed, never held in memory) and times, each in a fresh
process so peak memory (ru_maxrss) is per scenario:

  (a) floor: reading and csv-parsing the file, nothing else;
  (b) import_file strict into an empty tickets table;
  (c) import_file of the same file again (every row unchanged).

Prints a Markdown table (rows/s and time relative to the floor) to paste into RESULTS.md.
Besides wall-clock time it reports the CPU seconds of the importing process (all its
threads) and of its PostgreSQL backend (read from /proc, so only for a local server):
on a shared machine they vary less than the wall clock, and they show which side bounds
the import (the engine overlaps the two)."""

import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
os.environ["DEBUG"] = "false"  # Django keeps every executed query with DEBUG on

CUSTOMERS = 50_000
TEAMS = ["East Service", "North Service", "South Service", "West Service", "Central Service"]
AGENTS = 50
HEADER = [
    "external_id",
    "customer",
    "type",
    "channel",
    "priority",
    "subject",
    "description",
    "team",
    "assignee",
    "created_at",
    "assigned_at",
    "dispatch_method",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "visits",
    "reopened_count",
]


def setup_django():
    import django

    django.setup()


def prepare() -> None:
    """Empty the ticket tables; create the referenced customers, teams and agents once."""
    setup_django()
    from django.db import connection

    from catalog.models import Customer, Region, User
    from tickets.models import Team

    if connection.vendor != "postgresql":
        sys.exit("bench/intake.py runs on PostgreSQL: set DATABASE_URL")
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE tickets_ticketevent, tickets_survey, quality_failure, tickets_ticket RESTART IDENTITY CASCADE"
        )
    region, _ = Region.objects.get_or_create(key="east", defaults={"name": "East"})
    have = Customer.objects.count()
    if have < CUSTOMERS:
        start = datetime(2023, 1, 1, tzinfo=UTC)
        Customer.objects.bulk_create(
            [
                Customer(external_id=f"C{n:06d}", name=f"Customer {n}", region=region, created_at=start)
                for n in range(have, CUSTOMERS)
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
    for name in TEAMS:
        Team.objects.get_or_create(name=name)
    for n in range(AGENTS):
        User.objects.get_or_create(username=f"agent{n:02d}")


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic tickets file: most tickets closed, some open at each stage."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, 0)
    types = ["repair"] * 6 + ["complaint", "inquiry", "installation", "preventive"]
    channels = ["phone", "web", "app", "wechat", "email", "store", "onsite"]
    priorities = ["normal"] * 6 + ["urgent", "high", "high", "low"]
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            created = start + timedelta(seconds=n * 30 + rng.randrange(30))
            stage = rng.random()
            assigned = created + timedelta(minutes=rng.randrange(1, 120)) if stage > 0.03 else None
            responded = assigned + timedelta(minutes=rng.randrange(5, 600)) if assigned and stage > 0.06 else None
            resolved = responded + timedelta(hours=rng.randrange(1, 96)) if responded and stage > 0.12 else None
            closed = resolved + timedelta(hours=rng.randrange(1, 72)) if resolved and stage > 0.2 else None
            writer.writerow(
                [
                    f"T{n:08d}",
                    f"C{rng.randrange(CUSTOMERS):06d}",
                    rng.choice(types),
                    rng.choice(channels),
                    rng.choice(priorities),
                    f"Problem report {n}: unit does not start",
                    "Customer reports the unit stops after a few minutes." if n % 3 == 0 else "",
                    rng.choice(TEAMS),
                    f"agent{rng.randrange(AGENTS):02d}" if assigned else "",
                    created.isoformat(timespec="seconds"),
                    assigned.isoformat(timespec="seconds") if assigned else "",
                    rng.choice(("auto", "manual")) if assigned else "",
                    responded.isoformat(timespec="seconds") if responded else "",
                    resolved.isoformat(timespec="seconds") if resolved else "",
                    closed.isoformat(timespec="seconds") if closed else "",
                    rng.choice((1, 1, 1, 2, 3)),
                    0 if rng.random() > 0.05 else 1,
                ]
            )


def peak_rss_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM, not getrusage's ru_maxrss: on
    Linux ru_maxrss survives exec, so a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time of a local PostgreSQL backend process (None when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(scenario: str, path: str) -> None:
    """One timed scenario in this process; prints a JSON line."""
    cpu = cpu_seconds()
    if scenario == "floor":
        started = time.perf_counter()
        rows = 0
        with open(path, encoding="utf-8-sig", newline="") as f:
            for _row in csv.reader(f):
                rows += 1
        result = {"rows": rows - 1, "seconds": time.perf_counter() - started, "pg_cpu": None}
    else:
        setup_django()
        from django.db import connection

        from intake.services import import_file

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (backend,) = cursor.fetchone()
        pg_cpu = backend_cpu_seconds(backend)
        cpu = cpu_seconds()
        started = time.perf_counter()
        run = import_file(entity="tickets", path=path, mode="strict")
        seconds = time.perf_counter() - started
        if run.status != "succeeded":
            sys.exit(f"import failed: {run.status} {run.message}")
        pg_after = backend_cpu_seconds(backend)
        result = {
            "rows": run.rows,
            "created": run.created,
            "updated": run.updated,
            "seconds": seconds,
            "pg_cpu": None if pg_cpu is None or pg_after is None else pg_after - pg_cpu,
        }
    result["cpu"] = cpu_seconds() - cpu
    result["maxrss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def scenario(name: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    sizes = [int(os.environ["ROWS"])] if os.environ.get("ROWS") else [100_000, 1_000_000]
    lines = []
    for rows in sizes:
        prepare()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tickets.csv"
            generate(path, rows)
            size_mb = path.stat().st_size / 1e6
            floor = scenario("floor", path)
            first = scenario("import", path)
            again = scenario("import", path)
        for label, result in (
            ("(a) read + csv parse (floor)", floor),
            ("(b) import, empty table", first),
            ("(c) re-import, all unchanged", again),
        ):
            rate = result["rows"] / result["seconds"]
            ratio = result["seconds"] / floor["seconds"]
            pg_cpu = "–" if result["pg_cpu"] is None else f"{result['pg_cpu']:.1f} s"
            line = (
                f"| {rows:,} ({size_mb:.0f} MB) | {label} | {result['seconds']:.1f} s | {rate:,.0f} | "
                f"{ratio:.1f}x | {result['cpu']:.1f} s | {pg_cpu} | {result['maxrss_mb']:.0f} MB |"
            )
            lines.append(line)
            print(line, flush=True)
    print()
    print("| rows (file) | scenario | time | rows/s | time / floor | CPU Python | CPU PostgreSQL | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
