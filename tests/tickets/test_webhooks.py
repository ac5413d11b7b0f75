"""Outbound webhooks: posted to a real local HTTP server that checks the HMAC signature;
retries with doubling backoff, then failed; claimed once across concurrent runs; the
admin-only API."""

import hashlib
import hmac
import json
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation
from django.utils.translation import gettext_lazy

from tests.conftest import api_for
from tests.factories import UserFactory
from tickets.models import DeliveryStatus, Webhook, WebhookDelivery
from tickets.services import notification_send, notifications_deliver
from tickets.services import notifications as notification_services

SECRET = "s3cret-for-the-tests-0123456789"
AT = datetime(2025, 3, 17, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.SITE_URL = "https://service.example.com"
    settings.WEBHOOK_MAX_ATTEMPTS = 6


@contextmanager
def webhook_server(*, secret: str = SECRET, status: int = 204):
    """A local endpoint on a random port. It answers `status` when the signature is the
    HMAC-SHA256 of the exact body with `secret`, else 401; every request is recorded."""
    hits: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            valid = hmac.compare_digest(expected, self.headers.get("X-Aftersales-Signature", ""))
            hits.append({"headers": dict(self.headers), "body": body, "valid": valid})
            self.send_response(status if valid else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/aftersales", hits
    finally:
        server.shutdown()
        server.server_close()


def hook(url: str, *, kinds=(), active=True, secret=SECRET, name="Ops") -> Webhook:
    return Webhook.objects.create(name=name, url=url, secret=secret, kinds=list(kinds), active=active)


def event(**kwargs):
    kwargs.setdefault("recipients", [])
    kwargs.setdefault("kind", "sla.breached")
    kwargs.setdefault("title", "Ticket T-1 breached its resolution target")
    kwargs.setdefault("urgent", True)
    kwargs.setdefault("at", AT)
    return notification_send(**kwargs)


def test_delivery_is_posted_signed_and_logged(db):
    zh_user = UserFactory(username="zh_user", language="zh-hans")
    with webhook_server() as (url, hits):
        everything = hook(url, name="all")
        breaches = hook(url, kinds=["sla.breached"], name="breaches")
        hook(url, kinds=["sla.at_risk"], name="other kind")
        hook(url, active=False, name="inactive")
        with translation.override("zh-hans"):
            event(
                recipients=[zh_user],
                title=gettext_lazy("Ticket %(number)s was created."),
                params={"number": "T-1"},
                body="Resolution due 2025-03-17 09:00",
                url="/tickets/1/",
                payload={"ticket": 1, "level": 2},
                dedupe_key="sla:1:resolution:2",
            )
        result = notifications_deliver(now=AT)

    assert result["webhooks_delivered"] == 2
    assert len(hits) == 2 and all(hit["valid"] for hit in hits)
    deliveries = {d.webhook_id: d for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {everything.pk, breaches.pk}
    for hit in hits:
        assert hit["headers"]["Content-Type"] == "application/json"
        assert hit["headers"]["X-Aftersales-Event"] == "sla.breached"
    assert sorted(int(hit["headers"]["X-Aftersales-Delivery"]) for hit in hits) == sorted(
        d.pk for d in deliveries.values()
    )
    assert json.loads(hits[0]["body"]) == {
        "event": "sla.breached",
        "id": "sla:1:resolution:2",
        "title": "Ticket T-1 was created.",  # English for integrations, not the recipient's Chinese
        "body": "Resolution due 2025-03-17 09:00",
        "url": "https://service.example.com/tickets/1/",
        "payload": {"ticket": 1, "level": 2},
        "created_at": "2025-03-17T10:00:00+08:00",
    }
    delivery = deliveries[everything.pk]
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        204,
        "",
    )
    assert delivery.delivered_at is not None


def test_one_delivery_per_webhook_and_event_key(db):
    with webhook_server() as (url, hits):
        hook(url)
        event(dedupe_key="sla:9:response:1")
        event(dedupe_key="sla:9:response:1")
        event()  # no key: an event of its own each time
        event()
        assert WebhookDelivery.objects.count() == 3
        notifications_deliver(now=AT)
        notifications_deliver(now=AT + timedelta(hours=1))
    ids = [json.loads(hit["body"])["id"] for hit in hits]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert "sla:9:response:1" in ids


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(db):
    with webhook_server(secret="the-receivers-own-secret-42") as (url, hits):
        hook(url)
        event()
        result = notifications_deliver(now=AT)
    assert result == {**result, "webhooks_delivered": 0, "webhooks_retried": 1}
    assert hits[0]["valid"] is False
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 401)


def test_a_failing_receiver_is_retried_with_doubling_backoff_then_failed(db):
    with webhook_server(status=500) as (url, hits), time_machine.travel(AT, tick=False) as traveller:
        hook(url)
        event()
        waits = []
        for attempt in range(1, 7):
            assert notifications_deliver()["webhooks_retried" if attempt < 6 else "webhooks_failed"] == 1
            delivery = WebhookDelivery.objects.get()
            assert (delivery.attempts, delivery.last_status_code) == (attempt, 500)
            assert "500" in delivery.last_error
            if attempt < 6:
                assert delivery.status == DeliveryStatus.PENDING
                waits.append((delivery.next_attempt_at - datetime.now(tz=AT.tzinfo)) / timedelta(minutes=1))
                # Not due a second earlier.
                traveller.move_to(delivery.next_attempt_at - timedelta(seconds=1))
                assert notifications_deliver() == dict.fromkeys(
                    ["emails_sent", "emails_failed", "webhooks_delivered", "webhooks_retried", "webhooks_failed"], 0
                )
                traveller.move_to(delivery.next_attempt_at)
        assert waits == [1, 2, 4, 8, 16]
        assert delivery.status == DeliveryStatus.FAILED
        traveller.shift(timedelta(days=1))
        assert notifications_deliver()["webhooks_failed"] == 0
    assert len(hits) == 6


def test_an_unreachable_receiver_is_recorded_and_retried(db):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nobody listens there
    hook(f"http://127.0.0.1:{port}/hook")
    event()
    assert notifications_deliver(now=AT)["webhooks_retried"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code is None
    assert "refused" in delivery.last_error.lower()
    assert delivery.next_attempt_at == AT + timedelta(minutes=1)


def test_a_claimed_delivery_of_a_run_that_died_is_retried_after_the_lease(db):
    with webhook_server() as (url, hits):
        hook(url)
        event()
        assert len(notification_services._webhooks_claim(AT)) == 1  # the run dies here
        assert notifications_deliver(now=AT + timedelta(minutes=5))["webhooks_delivered"] == 0
        lease_over = AT + notification_services.CLAIM_LEASE
        assert notifications_deliver(now=lease_over)["webhooks_delivered"] == 1
    assert len(hits) == 1


def test_deliveries_of_a_deactivated_webhook_wait(db):
    with webhook_server() as (url, hits):
        webhook = hook(url)
        event()
        Webhook.objects.filter(pk=webhook.pk).update(active=False)
        assert notifications_deliver(now=AT)["webhooks_delivered"] == 0
        Webhook.objects.filter(pk=webhook.pk).update(active=True)
        assert notifications_deliver(now=AT)["webhooks_delivered"] == 1
    assert len(hits) == 1


def test_retry_resets_a_failed_delivery(db):
    webhook = hook("http://127.0.0.1:9/never")
    event()
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED, attempts=6)
    count = notification_services.webhook_deliveries_retry(
        delivery_ids=WebhookDelivery.objects.values_list("pk", flat=True), now=AT
    )
    assert count == 1
    delivery = webhook.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.PENDING, 0, AT)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliver_runs_post_each_delivery_once():
    from tests.tickets.test_notifications import _run_threads

    with webhook_server() as (url, hits):
        hook(url)
        for i in range(50):  # more than two claim batches
            event(dedupe_key=f"evt:{i}")
        results = _run_threads(4, lambda i: notifications_deliver(now=AT)["webhooks_delivered"])
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 50
    posted = [int(hit["headers"]["X-Aftersales-Delivery"]) for hit in hits]
    assert len(posted) == 50 and len(set(posted)) == 50


# --- API (admins only) ------------------------------------------------------------------


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin_user", roles=["admin"])


def test_admins_create_and_list_webhooks_without_seeing_the_secret(admin_user):
    client = api_for(admin_user)
    response = client.post(
        "/api/v1/webhooks/",
        {"name": "Ops", "url": "https://ops.example.com/hook", "secret": SECRET, "kinds": ["sla.breached"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secret" not in body
    assert (body["name"], body["kinds"], body["active"]) == ("Ops", ["sla.breached"], True)
    assert Webhook.objects.get().secret == SECRET
    listed = client.get("/api/v1/webhooks/").json()
    assert [w["name"] for w in listed["results"]] == ["Ops"]
    assert "secret" not in listed["results"][0]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "ftp://ops.example.com/hook", "secret": SECRET}, "url"),
        ({"url": "https://ops.example.com/hook", "secret": "short"}, "secret"),
    ],
)
def test_webhook_input_is_checked(admin_user, data, field):
    response = api_for(admin_user).post("/api/v1/webhooks/", {"name": "Bad", **data}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Webhook.objects.exists()


def test_the_delivery_log_is_listed_newest_first(admin_user):
    webhook = hook("https://ops.example.com/hook")
    event(dedupe_key="first")
    event(dedupe_key="second", at=AT + timedelta(minutes=1))
    response = api_for(admin_user).get(f"/api/v1/webhooks/{webhook.pk}/deliveries/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["dedupe_key"], r["status"], r["attempts"]) for r in rows] == [
        ("second", "pending", 0),
        ("first", "pending", 0),
    ]


def test_staff_may_use_the_webhook_api_but_other_roles_may_not(db, agent, manager):
    webhook = hook("https://ops.example.com/hook")
    for user in (agent, manager):
        client = api_for(user)
        assert client.get("/api/v1/webhooks/").status_code == 403
        assert client.get(f"/api/v1/webhooks/{webhook.pk}/deliveries/").status_code == 403
        assert client.post("/api/v1/webhooks/", {}, format="json").status_code == 403
    staff = UserFactory(username="staff", is_staff=True)
    assert api_for(staff).get("/api/v1/webhooks/").status_code == 200


# --- admin pages ------------------------------------------------------------------------


def test_admin_pages_show_webhooks_their_log_and_notifications(db):
    from django.test import Client

    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    webhook = hook("https://ops.example.com/hook")
    event(recipients=[superuser], dedupe_key="evt:admin")
    delivery = webhook.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=6)
    client = Client()
    client.force_login(superuser)
    page = client.get(f"/admin/tickets/webhook/{webhook.pk}/change/")
    assert page.status_code == 200
    assert "evt:admin" not in page.content.decode() and "sla.breached" in page.content.decode()
    assert "sla.breached" in client.get("/admin/tickets/webhookdelivery/").content.decode()
    assert "Ticket T-1 breached" in client.get("/admin/tickets/notification/").content.decode()

    response = client.post(
        "/admin/tickets/webhookdelivery/", {"action": "retry", "_selected_action": [delivery.pk]}, follow=True
    )
    assert "1 delivery queued again." in response.content.decode()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
