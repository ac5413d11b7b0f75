import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _roles(db):
    """Role groups exist in every test database (post_migrate creates them; a flushed
    transactional test database needs them again)."""
    from catalog.roles import roles_sync

    roles_sync()


@pytest.fixture(autouse=True)
def _isolated_process_state(settings):
    """Each test starts in the site language with an empty private cache: a request
    served in zh-hans must not leave Chinese active for the next test, and tests must
    not write cache files under var/."""
    from django.core.cache import cache
    from django.utils import translation

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The factories set a password for every user; the default PBKDF2 costs ~0.2 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team_a(db):
    return TeamFactory(name="Team A")


@pytest.fixture
def team_b(db):
    return TeamFactory(name="Team B")


@pytest.fixture
def agent(team_a):
    user = UserFactory(username="agent_a", roles=["agent"])
    team_a.members.add(user)
    return user


@pytest.fixture
def agent_b(team_b):
    user = UserFactory(username="agent_b", roles=["agent"])
    team_b.members.add(user)
    return user


@pytest.fixture
def supervisor(team_a):
    user = UserFactory(username="super_a", roles=["supervisor"])
    team_a.members.add(user)
    return user


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", roles=["manager"])


@pytest.fixture
def api(db):
    return APIClient()


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def is_postgres(db):
    return connection.vendor == "postgresql"


def pytest_runtest_setup(item):
    """`@pytest.mark.postgres` tests skip on other databases, unless CI demands them
    (REQUIRE_POSTGRES=1), where a skip would hide that they never ran."""
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail("REQUIRE_POSTGRES is set but the test database is not PostgreSQL")
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
