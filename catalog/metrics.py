"""/metrics for Prometheus, and the few metrics of our own that operations alert on.

The page is not public (it names routes, volumes and error rates): it answers only a
client whose address is in METRICS_ALLOWED_IPS (addresses or networks) or that sends
`Authorization: Bearer <METRICS_TOKEN>`; anyone else gets the ordinary 404. Behind the
reverse proxy every request reaches gunicorn from the proxy's address, so a request that
carries X-Forwarded-For must have every address in it allowed as well: the proxy appends
the real client last, and that one cannot be forged.

What is exported: django-prometheus's request/response/latency metrics (its two
middlewares), the /healthz result of each check (gauges set by catalog.health at each
probe), and, read from a Redis broker at scrape time, the number of waiting messages per
Celery queue and of messages delivered but not acknowledged yet. Under gunicorn with
PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py) the page adds up the files of
every worker process instead of reporting only the one that answered."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from functools import lru_cache

import prometheus_client
from celery import current_app
from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, Gauge, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

# "mostrecent": in multiprocess mode the value of whichever worker answered the latest
# probe, not one series per worker process.
HEALTH_CHECK_OK = Gauge(
    "aftersales_healthz_check_ok",
    "1 when the /healthz check passed at the latest probe, 0 when it failed.",
    ["check"],
    multiprocess_mode="mostrecent",
)
HEALTH_CHECK_SECONDS = Gauge(
    "aftersales_healthz_check_seconds",
    "How long the /healthz check took at the latest probe.",
    ["check"],
    multiprocess_mode="mostrecent",
)
BEAT_AGE_SECONDS = Gauge(
    "aftersales_beat_last_run_age_seconds",
    "Age of the newest run of an enabled scheduled task at the latest /healthz probe.",
    multiprocess_mode="mostrecent",
)


def health_checks_record(checks: dict[str, dict]) -> None:
    """Publish one /healthz result (catalog.health) as gauges."""
    for name, result in checks.items():
        HEALTH_CHECK_OK.labels(check=name).set(1 if result["status"] == "ok" else 0)
        HEALTH_CHECK_SECONDS.labels(check=name).set(result["ms"] / 1000)
    age = checks.get("beat", {}).get("age_seconds")
    if age is not None:
        BEAT_AGE_SECONDS.set(age)


def celery_queue_names() -> list[str]:
    """Every queue a task can be sent to: the default one and those of the routes."""
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    names.update(route["queue"] for route in settings.CELERY_TASK_ROUTES.values())
    return sorted(names)


def broker_queue_lengths(connection=None) -> tuple[dict[str, int], int] | None:
    """Waiting messages per queue and unacknowledged ones, from a Redis broker (the app's
    unless a kombu connection is given); None for other transports (the filesystem broker
    of one machine needs no alerting)."""
    with connection or current_app.connection_for_read() as conn:
        if conn.transport.driver_type != "redis":
            return None
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_BROKER_TIMEOUT_SECONDS)
        channel = conn.default_channel
        # kombu keeps one Redis list per queue and priority step; _size adds them up.
        lengths = {name: int(channel._size(name)) for name in celery_queue_names()}
        with channel.conn_or_acquire() as client:
            unacked = int(client.hlen(channel.unacked_key))
    return lengths, unacked


class BrokerCollector:
    """Read at scrape time in the process that answers (not stored in the multiprocess
    files), so the figures are the broker's, not one worker's memory."""

    def collect(self):
        up = GaugeMetricFamily("aftersales_celery_broker_up", "1 when the broker answered the scrape.")
        try:
            result = broker_queue_lengths()
        except Exception as error:  # noqa: BLE001 - a broken broker is a metric, not a 500
            logger.warning("metrics: broker not readable: %s", error)
            up.add_metric([], 0)
            yield up
            return
        if result is None:
            return
        lengths, unacked = result
        up.add_metric([], 1)
        yield up
        waiting = GaugeMetricFamily(
            "aftersales_celery_queue_length", "Messages waiting in the Celery queue.", labels=["queue"]
        )
        for name, length in lengths.items():
            waiting.add_metric([name], length)
        yield waiting
        yield GaugeMetricFamily(
            "aftersales_celery_unacked_messages",
            "Messages delivered to a worker and not acknowledged yet (running, or lost with their worker).",
            value=unacked,
        )


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            logger.warning("METRICS_ALLOWED_IPS: %r is not an address or network; ignored", entry)
    return tuple(networks)


def _address_allowed(raw: str, networks: tuple) -> bool:
    try:
        address = ipaddress.ip_address(raw.strip().strip("[]"))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks if network.version == address.version)


def metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())
    networks = _networks(tuple(settings.METRICS_ALLOWED_IPS))
    addresses = [request.META.get("REMOTE_ADDR", "")]
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded is not None:
        addresses += forwarded.split(",")
    return all(_address_allowed(address, networks) for address in addresses)


def _exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        pages = [prometheus_client.generate_latest(registry)]
    else:
        pages = [prometheus_client.generate_latest(prometheus_client.REGISTRY)]
    broker = CollectorRegistry()
    broker.register(BrokerCollector())
    pages.append(prometheus_client.generate_latest(broker))
    return b"".join(pages)


@never_cache
@require_GET
def metrics(request):
    if not metrics_allowed(request):
        raise Http404
    return HttpResponse(_exposition(), content_type=prometheus_client.CONTENT_TYPE_LATEST)
