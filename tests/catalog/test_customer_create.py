"""Registering a new caller: one service behind the API and the agent page."""

import pytest
from django.urls import reverse

from catalog.exceptions import ApplicationError
from catalog.models import Customer, Region, RegionAlias
from catalog.services import customer_create
from tests.conftest import api_for
from tests.factories import CustomerFactory, RegionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def east():
    region = RegionFactory(name="East")
    RegionAlias.objects.create(key="华东", region=region)
    return region


def test_a_customer_is_created_in_the_region_its_alias_names(east):
    customer = customer_create(name=" Wang Fang ", region="华东", segment="vip", phone="138 0000 0000")
    assert (customer.name, customer.region, customer.segment) == ("Wang Fang", east, "vip")
    assert customer.external_id.startswith("C") and customer.created_at is not None


def test_bad_fields_are_all_reported_and_nothing_is_written(east):
    with pytest.raises(ApplicationError) as refused:
        customer_create(name=" ", region="", segment="gold", email="not-an-address")
    assert set(refused.value.errors) == {"name", "region", "segment", "email"}
    assert not Customer.objects.exists()
    assert Region.objects.count() == 1


def test_a_taken_external_id_is_refused(east):
    CustomerFactory(external_id="C-1", region=east)
    with pytest.raises(ApplicationError) as refused:
        customer_create(name="Other", region="East", external_id="C-1")
    assert refused.value.errors == {"external_id": ["A customer with this ID already exists."]}
    assert Customer.objects.count() == 1


def test_api_creates_a_customer_for_an_agent(agent, east):
    response = api_for(agent).post(
        "/api/v1/customers/", {"name": "Li Na", "region": "east", "external_id": "C-NEW"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["external_id"], body["region"], body["segment"]) == ("C-NEW", "East", "consumer")


def test_api_refuses_bad_input_with_the_fields(agent, east):
    response = api_for(agent).post("/api/v1/customers/", {"region": "East", "email": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "email"}
    assert not Customer.objects.exists()


def test_a_manager_cannot_create_customers(manager, east):
    response = api_for(manager).post("/api/v1/customers/", {"name": "Li Na", "region": "East"}, format="json")
    assert response.status_code == 403
    assert not Customer.objects.exists()


def test_the_page_registers_a_caller_and_returns_to_the_ticket_form(client, agent, east):
    client.force_login(agent)
    url = reverse("tickets:customer_create")
    assert client.get(url).status_code == 200
    response = client.post(url, {"name": "Zhao Lei", "region": "华东", "segment": "consumer"})
    customer = Customer.objects.get(name="Zhao Lei")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('tickets:create')}?customer={customer.pk}"
    form_page = client.get(response["Location"])
    assert f'<option value="{customer.pk}" selected>' in form_page.content.decode()


def test_the_page_shows_field_errors_and_writes_nothing(client, agent, east):
    client.force_login(agent)
    response = client.post(reverse("tickets:customer_create"), {"name": "", "region": "East", "segment": "x"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "segment"}
    assert not Customer.objects.exists()


def test_the_page_says_above_the_form_why_nothing_was_saved(client, agent, east):
    client.force_login(agent)
    for language, expected in [("en", "The customer was not registered."), ("zh-hans", "客户未登记")]:
        client.cookies["django_language"] = language
        html = client.post(reverse("tickets:customer_create"), {"name": "", "region": "East"}).content.decode()
        assert 'class="alert alert-danger"' in html and expected in html
