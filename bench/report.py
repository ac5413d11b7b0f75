"""The management quality report on a large database (run by hand, not in the suite).

    DATABASE_URL=postgres://.../aftersales_large .venv/bin/python bench/report.py

Needs PostgreSQL and an already seeded and refreshed database (`seed_demo --scale
large`, then `compute_kpis`); it only reads. Times `quality_report_pdf` for the monthly
report (the last complete month, no filters, English) RUNS times (the first run also
warms the process: fonts, registry), and each section from the progress callbacks; the
goal is <= 5 s. Prints the table and appends it to bench/RESULTS.md.

The summary, trends, Pareto and batch figures come from the stored KPI snapshots (as the
dashboard's do); Nevada, recalls, alerts and improvements are read from the records.
Nothing is written."""

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aftersales.settings")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from bench.kpi import machine  # noqa: E402
from quality.kpi.periods import grain_floor, grain_previous, kpi_zone  # noqa: E402
from reports.builders.quality import quality_report_pdf  # noqa: E402
from tickets.models import Ticket  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")
RUNS = int(os.environ.get("RUNS", "5"))
GOAL = 5.0


def one_run(start: dt.date, end: dt.date) -> tuple[float, dict[str, float], int, int]:
    """Total seconds, seconds per stage (from one callback to the next), pages, bytes."""
    marks: list[tuple[str, float]] = []
    began = time.perf_counter()
    pdf, pages = quality_report_pdf(
        start=start, end=end, language="en", progress=lambda percent, stage: marks.append((stage, time.perf_counter()))
    )
    total = time.perf_counter() - began
    stages: dict[str, float] = {}
    previous = began
    for (stage, at), following in zip(marks, [*marks[1:], ("", time.perf_counter())], strict=True):
        stages[stage] = following[1] - at
        previous = at
    del previous
    return total, stages, pages, len(pdf)


def table_rows(runs, start: dt.date, label: str) -> list[tuple[str, str, str]]:
    totals = [r[0] for r in runs]
    warm = runs[1:] or runs
    stage_names = list(warm[0][1])
    median_stage = {s: statistics.median(r[1].get(s, 0.0) for r in warm) for s in stage_names}
    pages, size = runs[-1][2], runs[-1][3]
    return [
        (f"monthly report {start:%Y-%m}, no filters, en, {label}: first run", f"{totals[0]:.2f} s", "<= 5 s"),
        (
            f"same, median of the next {len(warm)} runs ({pages} pages, {size / 1024:.0f} KiB)",
            f"{statistics.median(r[0] for r in warm):.2f} s",
            "<= 5 s",
        ),
        *((f"· {LABELS.get(s, s)}", f"{median_stage[s] * 1000:.0f} ms", "") for s in stage_names if s != "done"),
    ]


LABELS = {
    "summary": "executive summary (overview cards of every KPI, 12 months)",
    "trends": "KPI trends (4 KPIs by month)",
    "pareto": "failure-mode Pareto (engine by failure mode)",
    "batches": "batch comparison (engine by batch)",
    "nevada": "Nevada table (units and failures grouped by month)",
    "recalls": "recall status and completion curves",
    "alerts": "top alerts",
    "improvements": "improvement status",
    "layout": "layout and PDF rendering (reportlab)",
}


def main():
    if connection.vendor != "postgresql":
        sys.exit("bench/report.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    described = machine()
    tickets = Ticket.objects.count()
    today = dt.datetime.now(kpi_zone()).date()
    end = grain_floor(today, "month")
    start = grain_previous(end, "month")
    rows = table_rows([one_run(start, end) for _i in range(RUNS)], start, "from the stored snapshots")
    note = ""
    header = "| measurement | time | goal |\n|---|---|---|"
    table = "\n".join([header, *(f"| {a} | {b} | {c} |" for a, b, c in rows)])
    print(table)
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    section = (
        f"\n## {dt.date.today().isoformat()} — management quality report (`bench/report.py`, {tickets:,} tickets)\n\n"
        f"Machine: {described}. Commit {revision or '?'} (plus working tree).\n\n{table}\n{note}"
    )
    if os.environ.get("WRITE", "1") != "0":
        with RESULTS.open("a") as out:
            out.write(section)


if __name__ == "__main__":
    main()
