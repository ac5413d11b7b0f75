"""The /analysis/ pages: shells that render for the global-read roles in both languages
and carry the scope and API URLs for analysis.js."""

import json

import pytest
from django.test import Client

from tests.factories import BatchFactory, ProductModelFactory, UserFactory

PAGES = ["index", "weibull", "nevada", "claims", "forecast", "pareto"]


@pytest.fixture
def browser(db):
    client = Client()
    client.force_login(UserFactory(username="qe_pages", roles=["quality_engineer"]))
    return client


def _config(response) -> dict:
    html = response.content.decode()
    start = html.index('id="analysis-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize("name", PAGES)
def test_pages_render(browser, name):
    model = ProductModelFactory(code="PG1")
    BatchFactory(code="PG1-A", product_model=model)
    response = browser.get(
        f"/analysis/{'' if name == 'index' else name + '/'}", {"product_model": "PG1", "as_of": "2025-06-30"}
    )
    assert response.status_code == 200
    config = _config(response)
    assert config["page"] == name
    assert config["params"] == {"product_model": "PG1", "as_of": "2025-06-30"} | (
        {"basis": "sale", "count": "all"} if name == "nevada" else {}
    )
    assert config["api"]["weibull"] == "/api/v1/analysis/scope/weibull/"
    assert b"js/analysis.js" in response.content


def test_pages_in_chinese(browser):
    response = browser.get("/analysis/weibull/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    assert _config(response)["lang"] == "zh-hans"


def test_invalid_scope_values_are_dropped(browser):
    response = browser.get("/analysis/claims/", {"product_model": "NOPE", "as_of": "garbage"})
    assert response.status_code == 200
    params = _config(response)["params"]
    assert "product_model" not in params and len(params["as_of"]) == 10


def test_agents_cannot_open_the_analyses(client, agent):
    client.force_login(agent)
    assert client.get("/analysis/").status_code == 403
    assert b"analysis/" not in client.get("/tickets/").content.split(b"<main")[0]


def test_anonymous_is_sent_to_login(client):
    response = client.get("/analysis/weibull/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_navbar_links_the_analyses(browser):
    html = browser.get("/analysis/").content.decode()
    assert 'href="/analysis/"' in html.split("<main")[0]
