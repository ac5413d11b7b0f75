"""/metrics (catalog.metrics): readable from the allowed addresses or with the bearer
token, a 404 for everyone else; the /healthz gauges; the queue lengths read from a Redis
broker; and the sum over several processes in prometheus_client's multiprocess mode."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client
from kombu import Connection

from catalog import metrics as catalog_metrics

REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-metrics-token-0123456789"


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1", "10.20.0.0/16"]
    settings.METRICS_TOKEN = TOKEN
    return settings


def get_metrics(remote_addr="127.0.0.1", **headers):
    return Client().get("/metrics", REMOTE_ADDR=remote_addr, headers=headers)


@pytest.mark.django_db
def test_metrics_readable_from_loopback_with_request_counters(metrics_settings):
    Client().get("/healthz", REMOTE_ADDR="127.0.0.1")
    response = get_metrics()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "django_http_requests_total_by_method_total" in body
    assert "django_http_responses_total_by_status_total" in body
    assert 'aftersales_healthz_check_ok{check="database"} 1.0' in body


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["10.20.3.4", "::1", "::ffff:127.0.0.1"])
def test_metrics_readable_from_allowed_networks(metrics_settings, address):
    assert get_metrics(remote_addr=address).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["203.0.113.9", "10.21.0.1", "2001:db8::1", "not-an-address", ""])
def test_metrics_is_404_from_other_addresses(metrics_settings, address):
    response = get_metrics(remote_addr=address)
    assert response.status_code == 404
    assert b"django_http" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("forwarded", ["203.0.113.9", "127.0.0.1, 203.0.113.9", "garbage"])
def test_metrics_through_the_proxy_needs_an_allowed_client(metrics_settings, forwarded):
    """The proxy runs on loopback, so REMOTE_ADDR alone would let the whole internet in;
    a forged leading X-Forwarded-For entry does not help either."""
    assert get_metrics(X_FORWARDED_FOR=forwarded).status_code == 404


@pytest.mark.django_db
def test_metrics_through_the_proxy_from_an_allowed_client(metrics_settings):
    assert get_metrics(X_FORWARDED_FOR="10.20.9.9").status_code == 200


@pytest.mark.django_db
def test_metrics_with_the_token_from_anywhere(metrics_settings):
    response = get_metrics(remote_addr="203.0.113.9", AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN])
def test_metrics_with_a_wrong_token_is_404(metrics_settings, header):
    assert get_metrics(remote_addr="203.0.113.9", AUTHORIZATION=header).status_code == 404


@pytest.mark.django_db
def test_a_wrong_token_is_refused_even_from_loopback(metrics_settings):
    assert get_metrics(AUTHORIZATION="Bearer wrong").status_code == 404


@pytest.mark.django_db
def test_no_token_configured_means_no_token_access(metrics_settings):
    metrics_settings.METRICS_TOKEN = ""
    assert get_metrics(remote_addr="203.0.113.9", AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_failed_health_check_is_a_zero_gauge(metrics_settings):
    catalog_metrics.health_checks_record(
        {
            "database": {"status": "ok", "ms": 1.5},
            "broker": {"status": "fail", "error": "x", "ms": 2000.0},
            "beat": {"status": "ok", "ms": 3.0, "age_seconds": 42},
        }
    )
    body = get_metrics().content.decode()
    assert 'aftersales_healthz_check_ok{check="broker"} 0.0' in body
    assert 'aftersales_healthz_check_ok{check="database"} 1.0' in body
    assert 'aftersales_healthz_check_seconds{check="broker"} 2.0' in body
    assert "aftersales_beat_last_run_age_seconds 42.0" in body


def redis_reachable(url: str) -> bool:
    host, port = url.split("//")[1].split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def test_queue_lengths_read_from_redis(settings):
    """Three messages in kpi, one in reports, none elsewhere; one delivered, unacked."""
    url = os.environ.get("METRICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
    if not redis_reachable(url):
        if os.environ.get("REQUIRE_POSTGRES"):  # CI: Redis runs beside PostgreSQL
            pytest.fail(f"Redis not reachable at {url}")
        pytest.skip("needs Redis")
    queue_names = catalog_metrics.celery_queue_names()
    assert queue_names == ["default", "kpi", "notifications", "reports"]
    with Connection(url) as conn:
        client = conn.default_channel.client
        for name in [*queue_names, "unacked"]:
            client.delete(name)
        for queue, count in [("kpi", 3), ("reports", 1), ("default", 1)]:
            simple = conn.SimpleQueue(queue)
            for number in range(count):
                simple.put({"n": number})
        received = conn.SimpleQueue("default").get(timeout=5)  # delivered, not acked yet
        try:
            lengths, unacked = catalog_metrics.broker_queue_lengths(Connection(url))
        finally:
            received.ack()
        for name in [*queue_names, "unacked"]:
            client.delete(name)
    assert lengths == {"default": 0, "kpi": 3, "notifications": 0, "reports": 1}
    assert unacked == 1


def test_broker_collector_reports_down_broker():
    with mock.patch.object(catalog_metrics, "broker_queue_lengths", side_effect=ConnectionError("refused")):
        families = list(catalog_metrics.BrokerCollector().collect())
    assert [(family.name, family.samples[0].value) for family in families] == [("aftersales_celery_broker_up", 0)]


def test_filesystem_broker_exports_no_queue_lengths():
    assert catalog_metrics.broker_queue_lengths(Connection("memory://")) is None


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """Two processes (as two gunicorn workers) count requests into the multiprocess
    directory; the exposition of a third sums them: 2 + 3 = 5."""
    code = textwrap.dedent(
        """
        import sys
        from prometheus_client import Counter
        counter = Counter("aftersales_test_requests", "test", ["view"])
        counter.labels(view="home").inc(int(sys.argv[1]))
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", code, count], env=env, check=True, timeout=60)
    with (
        mock.patch.dict(os.environ, {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}),
        mock.patch.object(catalog_metrics, "BrokerCollector", EmptyCollector),
    ):
        page = catalog_metrics._exposition().decode()
    assert 'aftersales_test_requests_total{view="home"} 5.0' in page


class EmptyCollector:
    def collect(self):
        return iter(())
