"""Issue 10, API fuzzing: schemathesis over every operation of the OpenAPI schema
(/api/schema/), in process through the WSGI app, against a `seed_demo --scale tiny`
database, as a superuser and as the demo agent, with a token. Checks: not_a_server_error and
response_schema_conformance. The last test asserts that at least 1,000 requests ran."""

import json
import os
from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance


def _openapi() -> dict:
    # The schema view needs a login; the generator gives the same document without one.
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


# CI: random (but derandomized, so reproducible) valid and invalid requests, about ten
# per operation. FUZZ_COVERAGE=1 adds schemathesis's coverage phase, every boundary and
# wrong type of every parameter: ~17,000 requests, ~6 minutes, run by hand.
DEEP = os.environ.get("FUZZ_COVERAGE") == "1"
config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": DEEP}}, "generation": {"mode": "all"}})
schema = schemathesis.openapi.from_dict(_openapi(), config=config)
schema.app = get_wsgi_application()

CHECKS = [not_a_server_error, response_schema_conformance]
SENT: list[str] = []  # one entry per request, across the module
KNOWN: dict[tuple[str, str], object] = {}  # (path, parameter) -> a value that names a seeded object


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, swap a generated id for one that exists, so that detail and
    action views run past their lookup."""
    if not path_parameters:
        return st.just(path_parameters)
    path = context.operation.path
    known = {name: KNOWN[(path, name)] for name in path_parameters if (path, name) in KNOWN}
    if not known:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One tiny demo data set for the module, in a transaction rolled back at the end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
                call_command("seed_demo", "--scale", "tiny", "--seed", "42", stdout=StringIO())
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # The seeded rows are invisible to autovacuum (never committed): without
                    # this, plans follow whatever earlier tests left in the statistics (in
                    # CI, an export as the agent ran for over ten minutes). The timeout turns
                    # any slow plan into a failing request instead of a hung run.
                    cursor.execute("ANALYZE")
                    cursor.execute("SET LOCAL statement_timeout = '60s'")
            _collect_known()
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _collect_known() -> None:
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True, is_staff=True))
    for path, item in schema.raw_schema["paths"].items():
        for method in item.values():
            for parameter in method.get("parameters", []):
                if parameter["in"] != "path":
                    continue
                name = parameter["name"]
                listing = path.split("{")[0]
                response = client.get(listing)
                if response.status_code != 200:
                    continue
                body = response.json()
                rows = body.get("results", body) if isinstance(body, dict) else body
                if rows and isinstance(rows, list) and isinstance(rows[0], dict) and name in rows[0]:
                    KNOWN[(path, name)] = rows[0][name]


@pytest.fixture(params=["superuser", "agent"])
def token(request, seeded, db):
    """Every operation twice: as a superuser (every code path past the permissions) and
    as the demo agent (team-scoped lists and objects, 403s and 404s: their bodies are
    checked against the declared error shape too)."""
    from rest_framework.authtoken.models import Token

    from catalog.models import User
    from tests.factories import UserFactory

    if request.param == "agent":
        user = User.objects.get(username="agent")
    else:
        user = UserFactory(username="fuzz_admin", is_superuser=True, is_staff=True)
    return Token.objects.get_or_create(user=user)[0].key


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Django's WSGI handler closes the connection after each request (a test
    transaction with it); the test client disconnects that signal too."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=10,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api(case, token):
    SENT.append(case.operation.label)
    # Each request in a savepoint rolled back after it: a delete or a transition does
    # not take the seeded objects away from the next example, and a database error
    # cannot leave the test's transaction unusable.
    with transaction.atomic():
        try:
            case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
        finally:
            transaction.set_rollback(True)


# What the fuzzing found, pinned as plain tests (each failed before its fix).


@pytest.fixture
def admin_api(seeded, db):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory(username="fuzz_pinned", is_superuser=True, is_staff=True))
    return client


def test_id_beyond_64_bits_is_a_400(admin_api):
    # The ids went into `pk__in`, which Django does not guard: OverflowError (SQLite) /
    # DataError (PostgreSQL), a 500.
    response = admin_api.post("/api/v1/improvement-issues/from-records/", {"tickets": [2**63]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["tickets"]


def test_offset_postgresql_refuses_is_moved_to_utc(admin_api):
    from tickets.models import Ticket

    # 2026-01-01T20:55+20:55 is 2026-01-01T00:00Z; PostgreSQL refused the +20:55 itself.
    expected = Ticket.objects.filter(created_at__gte="2026-01-01T00:00:00Z").count()
    response = admin_api.get("/api/v1/tickets/", {"created_after": "2026-01-01T20:55:00+20:55"})
    assert response.status_code == 200
    assert response.json()["count"] == expected
    # Year 1 minus an hour cannot be a datetime at all: the filter's 400, not an OverflowError.
    response = admin_api.get("/api/v1/tickets/", {"created_after": "0001-01-01T00:00:00+01:00"})
    assert response.status_code == 400


def test_paged_lists_are_documented_as_pages():
    paths = _openapi()["paths"]
    for path in ("/api/v1/alert-rules/", "/api/v1/metrics/", "/api/v1/failures/", "/api/v1/recalls/{code}/units/"):
        ref = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.startswith("#/components/schemas/Paginated"), path


def test_at_least_1000_requests():
    # Last in the module: the fuzzing above has run.
    print(f"requests sent: {len(SENT)} over {len(set(SENT))} operations")
    assert len(set(SENT)) == len(list(schema.get_all_operations()))
    assert len(SENT) >= 1000
