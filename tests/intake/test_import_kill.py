"""A crash mid-import writes nothing (DATA_CONTRACT.md: one transaction per file): the
`import_data` command is SIGKILLed in a subprocess after it reported progress. Nothing
of the file is in the database, its run is left "running", and the reaper then marks it
failed ("interrupted"). On a SQLite file always; on PostgreSQL too when the suite runs
there."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from intake.models import ImportRun, ImportStatus
from intake.services import import_runs_reap

ROOT = Path(__file__).resolve().parents[2]
ROWS = 60_000  # well over one batch (5,000), so progress is reported long before the end


def _tickets_file(path: Path, customers: int) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "customer", "type", "channel", "subject", "created_at", "resolved_at"])
        for n in range(ROWS):
            writer.writerow(
                [
                    f"T{n:07d}",
                    f"C{n % customers}",
                    "repair",
                    "phone",
                    f"Problem {n}",
                    "2025-03-01T09:00:00",
                    "2025-03-02T09:00:00" if n % 2 else "",
                ]
            )
    return path


def _kill_after_progress(env: dict, path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "import_data", "tickets", str(path), "-v", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in process.stderr:
            if line.startswith("rows read:"):
                break
            assert time.monotonic() < deadline, "no progress reported"
        else:
            pytest.fail(f"the import ended before it reported progress (exit {process.wait()})")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR")}
    env.update(DEBUG="false", **extra)
    return env


def test_a_killed_import_writes_nothing_sqlite(tmp_path):
    db = tmp_path / "db.sqlite3"
    env = _env(DATABASE_URL=f"sqlite:///{db}", VAR_DIR=str(tmp_path))
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    customers = tmp_path / "customers.csv"
    with open(customers, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "name", "region", "created_at"])
        writer.writerows([f"C{n}", f"Customer {n}", "East", "2024-01-01"] for n in range(100))
    subprocess.run([*manage, "import_data", "customers", str(customers)], cwd=ROOT, env=env, check=True)

    _kill_after_progress(env, _tickets_file(tmp_path / "tickets.csv", 100))

    with sqlite3.connect(db) as con:  # opening it rolls the dead writer's journal back
        assert con.execute("SELECT count(*) FROM tickets_ticket").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM tickets_ticketevent").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM catalog_customer").fetchone() == (100,)
        runs = con.execute("SELECT entity, status FROM intake_importrun ORDER BY id").fetchall()
    assert runs == [("customers", "succeeded"), ("tickets", "running")]

    reap = (
        "from datetime import timedelta; from intake.services import import_runs_reap; "
        "print(import_runs_reap(stale_after=timedelta(0)))"
    )
    out = subprocess.run([*manage, "shell", "-c", reap], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "1"
    with sqlite3.connect(db) as con:
        row = con.execute(
            "SELECT status, message, finished_at IS NOT NULL FROM intake_importrun WHERE entity = 'tickets'"
        )
        assert row.fetchone() == ("failed", "interrupted", 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_killed_import_writes_nothing_postgresql(tmp_path):
    from catalog.models import Customer, Region
    from tickets.models import Ticket

    east = Region.objects.create(key="east", name="East")
    Customer.objects.bulk_create(
        Customer(external_id=f"C{n}", name=f"Customer {n}", region=east, created_at="2024-01-01T00:00:00Z")
        for n in range(100)
    )
    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )

    _kill_after_progress(_env(DATABASE_URL=url, VAR_DIR=str(tmp_path)), _tickets_file(tmp_path / "t.csv", 100))

    assert Ticket.objects.count() == 0
    run = ImportRun.objects.get(entity="tickets")
    assert run.status == ImportStatus.RUNNING
    assert import_runs_reap(stale_after=timedelta(0)) == 1
    run.refresh_from_db()
    assert (run.status, run.message) == (ImportStatus.FAILED, "interrupted")
