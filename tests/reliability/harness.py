"""Real Celery worker processes against the pytest database and Redis, and the
PostgreSQL locks that stop a task at a known point.

A test holds a lock the task needs partway (`Gate`), waits until pg_stat_activity shows
the worker's backend waiting on it (`backends_waiting`), then kills, terminates or lets
go. Each worker consumes a queue of its own (a shared broker may hold other runs'
messages) and names its database sessions (PGAPPNAME) so the test can find them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from django.db import connection
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


def database_url() -> str:
    """The pytest database (test_<name>), as the workers must see it."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def conninfo() -> str:
    s = connection.settings_dict
    return (
        f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} dbname={s['NAME']} "
        f"user={s['USER']} password={s['PASSWORD']}"
    )


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Worker:
    """One `celery -A aftersales worker` (prefork) consuming its own queue."""

    def __init__(
        self, *, name: str, tmp: Path, broker_url: str, concurrency: int = 1, queue: str | None = None, env=None
    ):
        self.name = name
        self.app_name = f"reliability-{name}-{uuid.uuid4().hex[:8]}"
        self.queue = queue or f"reliability-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.hostname = f"{self.app_name}@localhost"
        self.concurrency = concurrency
        self.log_path = tmp / f"{self.app_name}.log"
        self.outbox = tmp / "outbox"
        self.outbox.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "aftersales.settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "VAR_DIR": str(tmp / "var"),
            "PGAPPNAME": self.app_name,
            # Counted by the tests: one file per message sent.
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.outbox),
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "aftersales",
                "worker",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                self.queue,
                "--hostname",
                self.hostname,
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for(self._ready, timeout=60, what=f"worker {self.name} to be ready")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited {self.process.returncode}:\n{self.log()[-3000:]}")
        return " ready." in self.log() and len(self.children()) == self.concurrency

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def count(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log()))

    def wait_log(self, pattern: str, *, times: int = 1, timeout: float = 60) -> None:
        try:
            wait_for(lambda: self.count(pattern) >= times, timeout=timeout, what=f"{pattern!r} x{times}")
        except AssertionError as error:
            raise AssertionError(f"{error} in the log of worker {self.name}:\n{self.log()[-4000:]}") from None

    def succeeded(self, task_id: str, *, times: int = 1, timeout: float = 60) -> None:
        self.wait_log(rf"\[{task_id}\] succeeded", times=times, timeout=timeout)

    def children(self) -> list[int]:
        """The pool processes (psutil is not installed: read /proc)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(stat.parent.name))
        return found

    def kill_pool(self) -> list[int]:
        """SIGKILL every pool process (the main process lives on and forks new ones)."""
        pids = self.children()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def kill_all(self) -> None:
        """SIGKILL the pool and the main process: the machine died."""
        pids = self.children()
        self.process.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def control(self, command: str, **kwargs) -> None:
        """A remote-control command to this worker only (add_consumer, cancel_consumer)."""
        from aftersales.celery import app

        replies = app.control.broadcast(command, arguments=kwargs, destination=[self.hostname], reply=True, timeout=10)
        assert replies, f"worker {self.name} did not answer {command}"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # cold shutdown: nothing is running by now
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill_all()

    def emails(self) -> list[str]:
        """Messages in the outbox (the file backend writes one file per connection, the
        messages of one connection separated by a line of dashes)."""
        found = []
        for path in sorted(self.outbox.glob("*.log")):
            found += [m for m in path.read_text(errors="replace").split("-" * 79) if m.strip()]
        return found


class Gate:
    """A separate session holding locks a task will need, until `open()`."""

    def __init__(self):
        self.conn = psycopg.connect(conninfo())

    def lock_table(self, table: str, mode: str) -> Gate:
        assert mode in {"ACCESS SHARE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}, mode
        self.conn.execute(sql.SQL("LOCK TABLE {} IN " + mode + " MODE").format(sql.Identifier(table)))
        return self

    def lock_row(self, table: str, pk: int) -> Gate:
        self.conn.execute(sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(sql.Identifier(table)), [pk])
        return self

    def open(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def backends(app_name: str, *, waiting: bool | None = None) -> list[dict]:
    """The worker's database sessions (those of `app_name`); `waiting`: only those
    waiting on a lock."""
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, wait_event_type, state, query FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [app_name],
        ).fetchall()
    found = [{"pid": r[0], "wait": r[1], "state": r[2], "query": r[3]} for r in rows]
    if waiting is not None:
        found = [b for b in found if (b["wait"] == "Lock") == waiting]
    return found


def wait_backends_waiting(app_name: str, *, count: int = 1, timeout: float = 60) -> list[dict]:
    return wait_for(
        lambda: (found := backends(app_name, waiting=True)) and len(found) >= count and found,
        timeout=timeout,
        what=f"{count} session(s) of {app_name} waiting on a lock",
    )


def terminate_backend(pid: int) -> None:
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_backend_gone(pid: int, *, timeout: float = 30) -> None:
    def gone():
        with psycopg.connect(conninfo(), autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0

    wait_for(gone, timeout=timeout, what=f"backend {pid} to end")
