"""Ticket list API latency on a large database (run by hand, not in the test suite).

    DATABASE_URL=postgres://.../aftersales_large .venv/bin/python bench/ticket_list.py

Needs `seed_demo --scale large` loaded. Times GET /api/v1/tickets/ (page size 25) for a
global-read user and for a team-scoped agent, plus a filtered search, and prints p50/p95
against a baseline measured in the same run: a bare `SELECT count(*)` of the ticket
table (the unavoidable floor of a paginated list that reports its total)."""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from catalog.models import User  # noqa: E402
from tickets.models import Ticket  # noqa: E402

RUNS = int(os.environ.get("RUNS", "40"))


def timed(fn, runs=RUNS) -> list[float]:
    fn()  # warm the caches once
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p95(samples):
    return statistics.quantiles(samples, n=20)[18]


def main():
    tickets = Ticket.objects.count()

    def floor():
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM tickets_ticket")
            cur.fetchone()

    base = timed(floor)
    rows = [("count(*) baseline", base)]
    for username, label in [("manager", "manager, all tickets"), ("agent", "agent, own teams")]:
        client = APIClient(SERVER_NAME="localhost")
        client.force_authenticate(User.objects.get(username=username))
        rows.append((label, timed(lambda c=client: c.get("/api/v1/tickets/?page_size=25"))))
        rows.append(
            (
                f"{label}, status+q filter",
                timed(lambda c=client: c.get("/api/v1/tickets/?status=in_progress&q=noise&page_size=25")),
            )
        )
    print(f"tickets: {tickets:,}  runs: {RUNS}  database: {connection.vendor}")
    print(f"{'scenario':<40} {'p50 ms':>8} {'p95 ms':>8} {'p95 / baseline':>15}")
    for label, samples in rows:
        print(f"{label:<40} {statistics.median(samples):8.1f} {p95(samples):8.1f} {p95(samples) / p95(base):15.2f}")


if __name__ == "__main__":
    main()
