"""Project-level gates: production settings pass `check --deploy`, refuse to start
without a secret, no missing migrations, the app layering holds, and the OpenAPI schema
builds without warnings and is served with the bundled (not CDN) Swagger UI."""

import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.conftest import api_for

REPO = Path(__file__).resolve().parents[2]
LAYER_CHECK = REPO.parent / "shared" / "tools" / "check_layers.py"


def manage(*args: str, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def production_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}}
    env["DJANGO_SETTINGS_MODULE"] = "aftersales.settings.production"
    env.update(extra)
    return env


def random_secret(length: int = 60) -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def test_production_settings_pass_check_deploy():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env=production_env(SECRET_KEY=random_secret(), ALLOWED_HOSTS="example.com"),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "ERRORS" not in output
    assert "System check identified no issues" in output


@pytest.mark.parametrize("secret", [None, "", "too-short", "django-insecure-" + "x" * 60])
def test_production_settings_refuse_to_start_without_a_real_secret_key(secret):
    extra = {"ALLOWED_HOSTS": "example.com"}
    if secret is not None:
        extra["SECRET_KEY"] = secret
    result = manage("check", env=production_env(**extra))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_no_missing_migrations():
    # Raises SystemExit(1) when a model change has no migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_app_layering():
    if not LAYER_CHECK.is_file():
        pytest.skip(f"layer checker not found at {LAYER_CHECK} (shared/ is a sibling of the repository)")
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(LAYER_CHECK), str(REPO)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "layers: 0 upward import(s)" in result.stdout


def test_openapi_schema_builds_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = manage("spectacular", "--validate", "--fail-on-warn", "--file", str(out), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    schema = out.read_text()
    assert schema.startswith("openapi: 3")
    for path in ["/api/v1/tickets/", "/api/v1/tickets/{id}/transition/", "/api/v1/customers/"]:
        assert f"  {path}:" in schema


@pytest.mark.django_db
def test_schema_and_docs_are_served_with_local_assets(agent):
    client = api_for(agent)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3")

    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in html
    external = re.findall(r"""(?:src|href)\s*=\s*["'](https?:)?//""", html)
    assert external == [], "the Swagger UI must not load anything from a CDN"
    for cdn in ["cdn.jsdelivr", "unpkg.com", "cdnjs"]:
        assert cdn not in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_a_login(url):
    assert APIClient().get(url).status_code in (401, 403)


@pytest.mark.django_db
def test_an_unknown_api_route_is_a_json_404(agent):
    response = api_for(agent).get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
