"""gunicorn settings for the web process: `gunicorn -c deploy/gunicorn.conf.py aftersales.wsgi`.

Every value comes from the environment (deploy/env.example) with a default fit for one
machine behind a TLS reverse proxy. Prometheus: with several worker processes each one
keeps its own counters, so a scrape of /metrics would see only the share of whichever
worker answered it. prometheus_client's multiprocess mode makes every worker write its
metrics to files in PROMETHEUS_MULTIPROC_DIR, and /metrics (catalog.metrics) adds them
up. The directory must be emptied before the first worker starts (stale files of a
previous run would be counted again), and a dead worker's live gauges removed."""

import os
import shutil
from pathlib import Path

from prometheus_client import multiprocess

_BASE_DIR = Path(__file__).resolve().parent.parent

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the views are short database round trips; exports and PDFs run in Celery.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "sync"
# A request longer than this is killed (and logged); the dashboards answer well under it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Behind a proxy on the same network: keep its connections open a little longer than it does.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak never grows unbounded; the jitter keeps them
# from restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# The proxy's X-Forwarded-Proto / -For are believed only from these addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# The heartbeat file on tmpfs: on a disk it can block a worker (gunicorn's FAQ).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The usual combined format plus the request time in microseconds (%(D)s).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
proc_name = "aftersales-web"

# No preload: each worker imports the app after the fork, so `kill -HUP` (systemctl reload)
# starts workers on the new code after a deploy, and no database connection or Celery
# pool opened at import time is ever shared between processes. Three workers of this app
# cost a few hundred MB, so copy-on-write savings do not matter here.
preload_app = False

# gunicorn >= 25 opens a control socket under $HOME by default; two instances on one
# machine would fight over it, so it is off unless a path is given.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
if _control_socket:
    control_socket = _control_socket
else:
    control_socket_disable = True

# Multiprocess metrics. The variable must be in the environment before prometheus_client
# creates its first metric in a worker; this module runs in the master before any worker
# exists, so a default set here reaches every worker (systemd sets its own under /run).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_BASE_DIR / "var" / "prometheus-web"))
# Also for `--check-config`, which loads the app (and creates its metrics) without on_starting.
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)


def on_starting(server):
    """Empty the metrics directory once, in the master, before the first fork."""
    for entry in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def child_exit(server, worker):
    """A worker ended (recycled or killed): drop its live gauges from the aggregate."""
    multiprocess.mark_process_dead(worker.pid)
