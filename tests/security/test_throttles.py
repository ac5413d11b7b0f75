"""Throttles: login posts per client address (LOGIN_RATE), CSV/XLSX exports per user
(EXPORT_RATE for pages, DEFAULT_THROTTLE_RATES["export"] for the API), the customer
pages per address (PUBLIC_LINK_RATE). The request after the limit gets 429 with
Retry-After; another address or user is not affected. Counters are in the cache, which
conftest empties before each test."""

import pytest
from django.test import Client, RequestFactory

from catalog.throttles import UNKNOWN_ADDRESS, client_ip
from tests.conftest import api_for
from tests.factories import TicketFactory, UserFactory


@pytest.fixture
def export_rate_2(settings):
    settings.EXPORT_RATE = "2/m"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "export": "2/min"},
    }


def test_login_posts_are_limited_per_address(db, settings):
    settings.LOGIN_RATE = "3/m"
    client = Client()
    for n in range(3):
        # A different user name each time: axes' lock (per name + address) never applies.
        response = client.post("/login/", {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="192.0.2.1")
        assert response.status_code == 200
    response = client.post("/login/", {"username": "guess9", "password": "x"}, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many requests" in response.content.decode()
    # Showing the form is not counted, and another address still signs in.
    assert client.get("/login/", REMOTE_ADDR="192.0.2.1").status_code == 200
    UserFactory(username="fine")
    other = Client().post("/login/", {"username": "fine", "password": "pass-1234"}, REMOTE_ADDR="192.0.2.2")
    assert other.status_code == 302


def test_the_admin_sign_in_shares_the_login_budget(db, settings):
    settings.LOGIN_RATE = "2/m"
    client = Client()
    assert client.post("/login/", {"username": "a", "password": "x"}, REMOTE_ADDR="192.0.2.3").status_code == 200
    assert client.post("/admin/login/", {"username": "b", "password": "x"}, REMOTE_ADDR="192.0.2.3").status_code == 200
    assert client.post("/admin/login/", {"username": "c", "password": "x"}, REMOTE_ADDR="192.0.2.3").status_code == 429


def test_page_exports_are_limited_per_user(agent, agent_b, export_rate_2):
    TicketFactory(team=agent.teams.first())
    client = Client()
    client.force_login(agent)
    assert client.get("/tickets/export/?format=csv").status_code == 200
    assert client.get("/tickets/export/?format=xlsx").status_code == 200
    refused = client.get("/tickets/export/?format=csv")
    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode()
    assert refused["Retry-After"].isdigit()
    # The queue itself is not an export; another user has their own budget.
    assert client.get("/tickets/").status_code == 200
    other = Client()
    other.force_login(agent_b)
    assert other.get("/tickets/export/?format=csv").status_code == 200


def test_the_recall_export_shares_the_page_budget(db, export_rate_2):
    from tests.security.test_csp import csp_world

    world = csp_world()
    client = Client()
    client.force_login(world["user"])
    recall_export = world["pages"]["recall"] + "units/export/?format=csv"
    assert client.get(recall_export).status_code == 200
    assert client.get("/tickets/export/?format=csv").status_code == 200
    assert client.get(recall_export).status_code == 429


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tickets/export/?format=csv",
        "/api/v1/customers/export/?format=csv",
        "/api/v1/failures/export/?format=csv",
        "/api/v1/kpis/csat/values/export/?format=csv&grain=month&start=2025-01-01&end=2025-04-01",
    ],
)
def test_api_exports_are_limited_per_user(path, manager, export_rate_2):
    api = api_for(manager)
    assert api.get(path).status_code == 200
    assert api.get(path).status_code == 200
    refused = api.get(path)
    assert refused.status_code == 429
    body = refused.json()
    assert set(body) == {"detail", "errors"} and body["errors"] == {}
    assert "throttled" in body["detail"]
    assert refused["Retry-After"].isdigit()
    # Lists are not exports; another user is not affected.
    assert api.get("/api/v1/tickets/").status_code == 200
    assert api_for(UserFactory(username="manager2", roles=["manager"])).get(path).status_code == 200


def test_customer_pages_are_limited_per_address(db, settings):
    settings.PUBLIC_LINK_RATE = "2/m"
    client = Client()
    # Progress and survey pages share one budget (an unknown token is the plain 404).
    assert client.get("/c/p/nonsense/", REMOTE_ADDR="192.0.2.10").status_code == 404
    assert client.get("/c/s/nonsense/", REMOTE_ADDR="192.0.2.10").status_code == 404
    assert client.post("/c/s/nonsense/", REMOTE_ADDR="192.0.2.10").status_code == 429
    assert client.get("/c/p/nonsense/", REMOTE_ADDR="192.0.2.11").status_code == 404


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "192.0.2.5", "203.0.113.1", "192.0.2.5"),  # no proxy: the header is the client's claim
        (1, "10.0.0.1", "203.0.113.1, 192.0.2.5", "192.0.2.5"),  # what our proxy appended
        (2, "10.0.0.1", "203.0.113.1, 192.0.2.5, 10.0.0.2", "192.0.2.5"),
        (1, "10.0.0.1", "", "10.0.0.1"),  # reached the app directly
        (1, "10.0.0.1", "not-an-address", UNKNOWN_ADDRESS),
        (0, "", "", UNKNOWN_ADDRESS),  # a Unix-socket peer
        (0, "2001:db8::1", "", "2001:db8::1"),
    ],
)
def test_client_ip(settings, proxies, remote, forwarded, expected):
    settings.NUM_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
