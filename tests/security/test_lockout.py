"""Login lockout (django-axes): 5 wrong passwords for one user name from one address lock
that pair for AXES_COOLOFF_TIME (15 minutes); the page says so with 429 and
Retry-After; a success resets the count; another address is not locked; axes's own
`axes_reset_username` unlocks. The API takes no passwords (session and token only)."""

import base64
import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client

from tests.factories import UserFactory

ADDRESS, OTHER_ADDRESS = "198.51.100.7", "198.51.100.8"


@pytest.fixture
def user(db):
    return UserFactory(username="lock_me", roles=["agent"])


def sign_in(client, password, *, address=ADDRESS, username="lock_me", path="/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_even_the_right_one(user):
    client = Client()
    for _ in range(4):
        response = sign_in(client, "wrong")
        assert response.status_code == 200  # the form again, with its error
    response = sign_in(client, "wrong")  # the fifth
    assert response.status_code == 429
    response = sign_in(client, "pass-1234")
    assert response.status_code == 429 and not signed_in(client)
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Sign-in locked" in page
    assert "after 5 failed sign-ins" in page
    assert "Try again in 15 minutes." in page


def test_four_wrong_passwords_do_not_lock(user):
    client = Client()
    for _ in range(4):
        sign_in(client, "wrong")
    response = sign_in(client, "pass-1234")
    assert response.status_code == 302 and signed_in(client)


def test_a_success_resets_the_count(user):
    client = Client()
    for _ in range(4):
        sign_in(client, "wrong")
    assert sign_in(client, "pass-1234").status_code == 302
    client.post("/logout/", REMOTE_ADDR=ADDRESS)
    for _ in range(4):
        assert sign_in(client, "wrong").status_code == 200  # counted from 0 again: 4 < 5
    assert sign_in(client, "pass-1234").status_code == 302


def test_another_address_and_another_user_name_are_not_locked(user):
    UserFactory(username="neighbour", roles=["agent"])
    for _ in range(5):
        sign_in(Client(), "wrong")
    assert sign_in(Client(), "pass-1234").status_code == 429
    assert sign_in(Client(), "pass-1234", address=OTHER_ADDRESS).status_code == 302
    assert sign_in(Client(), "pass-1234", username="neighbour").status_code == 302


def test_the_lock_ends_after_the_cool_off(user):
    for _ in range(5):
        sign_in(Client(), "wrong")
    assert sign_in(Client(), "pass-1234").status_code == 429
    # 16 minutes later (the attempts' clock moved back instead of the test's).
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    assert sign_in(Client(), "pass-1234").status_code == 302


def test_axes_reset_username_unlocks(user):
    for _ in range(5):
        sign_in(Client(), "wrong")
    call_command("axes_reset_username", "lock_me")
    assert sign_in(Client(), "pass-1234").status_code == 302


def test_the_admin_login_is_locked_too(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    for _ in range(5):
        sign_in(client, "wrong", path="/admin/login/")
    response = sign_in(client, "pass-1234", path="/admin/login/")
    assert response.status_code == 429 and not signed_in(client)


def test_behind_the_proxy_the_lock_follows_the_address_the_proxy_saw(user, settings):
    settings.NUM_PROXIES = 1
    for n in range(5):
        # The client forges a different first entry each time; the proxy appends the real one.
        Client().post(
            "/login/",
            {"username": "lock_me", "password": "wrong"},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, {ADDRESS}",
        )
    locked = Client().post(
        "/login/",
        {"username": "lock_me", "password": "pass-1234"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=ADDRESS,
    )
    assert locked.status_code == 429
    other = Client().post(
        "/login/",
        {"username": "lock_me", "password": "pass-1234"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR=OTHER_ADDRESS,
    )
    assert other.status_code == 302


def test_the_api_accepts_no_password(user, api):
    # Session and token authentication only: no API path checks a password, so none can
    # be used to guess one around the lockout.
    credentials = base64.b64encode(b"lock_me:pass-1234").decode()
    response = api.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code in (401, 403)
    assert not any(path.startswith("/api/") and "token" in path for path in _all_paths())


def _all_paths() -> list[str]:
    from django.urls import get_resolver

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return ["/" + path for path in walk(get_resolver().url_patterns)]
