"""deploy/: the process files agree with the settings. One beat; every queue a task can be
routed to is consumed by a worker and no worker waits on a queue nothing is sent to;
every task of our apps lands on a consumed queue; the systemd units name the same
queues; gunicorn accepts its configuration; the scripts parse; deploy/env.example lists
every variable the settings read."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from aftersales.celery import app as celery_app
from catalog.metrics import celery_queue_names

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OUR_APPS = ("catalog.", "tickets.", "quality.", "improvements.", "intake.", "reports.")
QUEUES = {"default", "kpi", "notifications", "reports"}


def procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            assert match.group(1) not in processes, f"process {match.group(1)} defined twice"
            processes[match.group(1)] = shlex.split(match.group(2))
    return processes


def option(argv: list[str], *names: str) -> str | None:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name:
                return argv[index + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def worker_queues() -> dict[str, set[str]]:
    workers = {}
    for name, argv in procfile().items():
        if argv[:4] == ["celery", "-A", "aftersales", "worker"]:
            workers[name] = set(option(argv, "-Q", "--queues").split(","))
    return workers


def consumed_queues() -> set[str]:
    return set().union(*worker_queues().values())


def test_the_routed_queues_are_the_four_of_the_design():
    assert set(celery_queue_names()) == QUEUES


def test_procfile_has_web_and_exactly_one_beat():
    processes = procfile()
    beats = [name for name, argv in processes.items() if "beat" in argv]
    assert beats == ["beat"]
    assert option(processes["beat"], "-S", "--scheduler") == "django_celery_beat.schedulers:DatabaseScheduler"
    assert processes["web"] == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "aftersales.wsgi"]


def test_every_routed_queue_has_a_worker_and_no_worker_waits_on_an_unknown_queue():
    assert consumed_queues() == set(celery_queue_names())
    assert set(worker_queues()) == {f"worker-{queue}" for queue in QUEUES}
    for name, queues in worker_queues().items():
        assert queues == {name.removeprefix("worker-")}


def test_workers_are_distinct_nodes_with_fair_scheduling():
    for name, argv in procfile().items():
        if name.startswith("worker-"):
            queue = name.removeprefix("worker-")
            assert option(argv, "-n", "--hostname") == f"{queue}@%h"
            assert option(argv, "-O") == "fair"
            assert option(argv, "--max-tasks-per-child") is not None


def test_every_task_of_our_apps_routes_to_a_consumed_queue():
    celery_app.loader.import_default_modules()
    ours = sorted(name for name in celery_app.tasks if name.startswith(OUR_APPS))
    assert "quality.tasks.kpi_snapshots_refresh_task" in ours
    assert "reports.tasks.report_generate_task" in ours
    router = celery_app.amqp.router
    consumed = consumed_queues()
    routed = {}
    for name in ours:
        route = router.route({}, name)
        routed[name] = route["queue"].name
        assert routed[name] in consumed, f"{name} goes to {routed[name]}, which no worker consumes"
    # The routes as the settings mean them (hand-checked against CELERY_TASK_ROUTES).
    assert routed["quality.tasks.kpi_snapshots_refresh_task"] == "kpi"
    assert routed["tickets.tasks.survey_email_task"] == "notifications"
    assert routed["reports.tasks.subscription_deliver_task"] == "reports"
    assert routed["tickets.tasks.sla_sweep_task"] == settings.CELERY_TASK_DEFAULT_QUEUE == "default"


def test_systemd_units_run_the_same_processes():
    systemd = DEPLOY / "systemd"
    units = {path.name: path.read_text() for path in systemd.iterdir()}
    named = set(
        re.findall(r"aftersales-worker@(\w+)", units["aftersales-worker@.service"] + units["aftersales.target"])
    )
    assert named == QUEUES
    assert {path.name for path in systemd.glob("worker-*.env")} == {f"worker-{queue}.env" for queue in QUEUES}
    assert "-Q %i -n %i@%%h" in units["aftersales-worker@.service"]
    assert "gunicorn -c deploy/gunicorn.conf.py aftersales.wsgi" in units["aftersales-web.service"]
    assert "PROMETHEUS_MULTIPROC_DIR=" in units["aftersales-web.service"]
    assert "DatabaseScheduler" in units["aftersales-beat.service"]
    for text in units.values():
        if "[Service]" in text:
            assert "EnvironmentFile=/etc/aftersales/env" in text


def test_systemd_worker_options_match_the_procfile():
    processes = procfile()
    for queue in QUEUES:
        env = dict(
            line.split("=", 1)
            for line in (DEPLOY / "systemd" / f"worker-{queue}.env").read_text().splitlines()
            if line and not line.startswith("#")
        )
        argv = processes[f"worker-{queue}"]
        concurrency = option(argv, "--concurrency")
        assert concurrency.endswith(f":-{env['CELERY_CONCURRENCY']}}}"), (queue, concurrency)
        for opt in env["CELERY_WORKER_OPTS"].split():
            assert opt in argv, (queue, opt)


def test_gunicorn_accepts_its_configuration(tmp_path):
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--check-config",
            "-c",
            "deploy/gunicorn.conf.py",
            "aftersales.wsgi:application",
        ],
        cwd=REPO,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gunicorn_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:9000")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    config = {"__file__": str(DEPLOY / "gunicorn.conf.py")}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), config)  # noqa: S102
    assert config["workers"] == 5
    assert config["bind"] == "0.0.0.0:9000"
    assert config["preload_app"] is False
    # The master empties the metrics directory before forking, and drops a dead worker's files.
    stale = tmp_path / "prom" / "counter_123.db"
    stale.write_bytes(b"old")
    config["on_starting"](None)
    assert list((tmp_path / "prom").iterdir()) == []
    live = tmp_path / "prom" / "gauge_livesum_4242.db"
    live.write_bytes(b"")
    config["child_exit"](None, type("Worker", (), {"pid": 4242})())
    assert not live.exists()


@pytest.mark.parametrize("script", ["backup.sh", "restore.sh"])
def test_scripts_parse(script):
    result = subprocess.run(["/bin/bash", "-n", str(DEPLOY / script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_env_example_lists_every_variable_the_settings_read():
    source = "".join(path.read_text() for path in (REPO / "aftersales" / "settings").glob("*.py"))
    read = set(re.findall(r'(?:os\.environ\.get|env_bool|env_list|environ\[)\(?"([A-Z][A-Z0-9_]+)"', source))
    assert {"DATABASE_URL", "SECRET_KEY", "SLA_LEVEL3_BUSINESS_HOURS", "METRICS_TOKEN"} <= read
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (DEPLOY / "env.example").read_text(), re.MULTILINE))
    assert read - listed == set()
    assert "PROMETHEUS_MULTIPROC_DIR" not in listed  # web only (see the file's header)
