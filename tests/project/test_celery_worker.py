"""A real worker process consumes a task from the configured broker: the filesystem
transport by default (what `make run` uses), Redis when CELERY_BROKER_URL says so (CI)."""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_worker_consumes_a_task_from_the_broker(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "aftersales.settings"}
    # A queue of its own: a shared broker may hold other runs' messages on "celery".
    queue = f"test-worker-{os.getpid()}-{time.monotonic_ns()}"
    celery = Path(sys.executable).with_name("celery")
    worker = subprocess.Popen(
        [
            str(celery),
            "-A",
            "aftersales",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            queue,
            "--hostname",
            f"test-{os.getpid()}@%h",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, sys; django.setup(); from catalog.tasks import worker_heartbeat; "
                "worker_heartbeat.apply_async(queue=sys.argv[1])",
                queue,
            ],
            cwd=REPO,
            env=env,
            check=True,
            timeout=60,
        )
        beat_file = tmp_path / "worker-heartbeat"
        deadline = time.monotonic() + 60
        while not beat_file.exists() and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.2)
        assert beat_file.exists(), "the worker did not run the task within 60 s"
        assert beat_file.read_text().startswith("20")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
