"""Read-only master-data endpoints: lists, retrieves, filters, access and error shapes."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from catalog.models import Customer, User
from tests.conftest import api_for
from tests.factories import (
    BatchFactory,
    CustomerFactory,
    ProductLineFactory,
    ProductModelFactory,
    RegionFactory,
    UnitFactory,
    UserFactory,
)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"])
    return body["results"]


def keys(response, key: str) -> list[str]:
    return [item[key] for item in results(response)]


def assert_error(response, status: int, fields: list[str] | None = None) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["detail"]
    if fields is not None:
        assert sorted(body["errors"]) == sorted(fields)


@pytest.fixture
def master(db):
    east, west = RegionFactory(name="East"), RegionFactory(name="West")
    washer, dryer = ProductLineFactory(code="washer", name="Washer"), ProductLineFactory(code="dryer", name="Dryer")
    m1 = ProductModelFactory(code="WM-100", name="Washer 100", product_line=washer)
    m2 = ProductModelFactory(code="DR-200", name="Dryer 200", product_line=dryer)
    b1 = BatchFactory(code="B-1", product_model=m1, produced_on=dt.date(2025, 1, 10), plant="Suzhou")
    b2 = BatchFactory(code="B-2", product_model=m1, produced_on=dt.date(2025, 2, 10))
    b3 = BatchFactory(code="B-3", product_model=m2, produced_on=dt.date(2025, 1, 20))
    acme = CustomerFactory(external_id="C-1", name="Acme Laundry", region=east, phone="13800000001")
    zed = CustomerFactory(external_id="C-2", name="Zed Hotels", region=west, segment="business")
    u1 = UnitFactory(serial="SN-001", batch=b1, customer=acme, sold_on=dt.date(2025, 3, 1))
    u2 = UnitFactory(serial="SN-002", batch=b3, customer=zed, sold_on=dt.date(2025, 3, 5))
    u3 = UnitFactory(serial="XX-003", batch=b2, customer=None, sold_on=None)  # unsold stock
    return {"acme": acme, "zed": zed, "m1": m1, "m2": m2, "b1": b1, "u1": u1, "u2": u2, "u3": u3}


@pytest.mark.django_db
def test_customers_list_and_retrieve(agent, master):
    client = api_for(agent)
    items = results(client.get("/api/v1/customers/"))
    assert [(c["external_id"], c["name"], c["region"], c["segment"]) for c in items] == [
        ("C-1", "Acme Laundry", "East", "consumer"),
        ("C-2", "Zed Hotels", "West", "business"),
    ]
    response = client.get(f"/api/v1/customers/{master['zed'].pk}/")
    assert response.status_code == 200
    assert response.json()["external_id"] == "C-2"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "acme"}, ["C-1"]),
        ({"q": "c-2"}, ["C-2"]),
        ({"q": "13800000001"}, ["C-1"]),  # phone, exact
        ({"q": "1380000"}, []),
        ({"region": "east"}, ["C-1"]),
        ({"segment": "business"}, ["C-2"]),
        ({"external_id": "C-1"}, ["C-1"]),
        ({"ordering": "-name"}, ["C-2", "C-1"]),
    ],
)
def test_customer_filters(params, expected, agent, master):
    assert keys(api_for(agent).get("/api/v1/customers/", params), "external_id") == expected


@pytest.mark.django_db
def test_units_list_and_retrieve(agent, master):
    client = api_for(agent)
    items = results(client.get("/api/v1/units/"))
    assert [(u["serial"], u["product_model"], u["product_line"], u["batch"], u["customer"]) for u in items] == [
        ("SN-001", "WM-100", "washer", "B-1", "C-1"),
        ("SN-002", "DR-200", "dryer", "B-3", "C-2"),
        ("XX-003", "WM-100", "washer", "B-2", None),
    ]
    response = client.get(f"/api/v1/units/{master['u1'].pk}/")
    assert (response.status_code, response.json()["sold_on"]) == (200, "2025-03-01")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"customer": "C-1"}, ["SN-001"]),
        ({"customer": "C-9"}, []),
        ({"product_model": "WM-100"}, ["SN-001", "XX-003"]),
        ({"batch": "B-3"}, ["SN-002"]),
        ({"q": "sn-"}, ["SN-001", "SN-002"]),
        ({"serial": "XX-003"}, ["XX-003"]),
        ({"ordering": "-serial"}, ["XX-003", "SN-002", "SN-001"]),
    ],
)
def test_unit_filters(params, expected, agent, master):
    assert keys(api_for(agent).get("/api/v1/units/", params), "serial") == expected


@pytest.mark.django_db
def test_product_models(agent, master):
    client = api_for(agent)
    assert keys(client.get("/api/v1/product-models/"), "code") == ["DR-200", "WM-100"]
    assert keys(client.get("/api/v1/product-models/", {"product_line__code": "washer"}), "code") == ["WM-100"]
    assert keys(client.get("/api/v1/product-models/", {"code": "DR-200"}), "product_line") == ["dryer"]
    response = client.get(f"/api/v1/product-models/{master['m2'].pk}/")
    assert (response.status_code, response.json()["name"]) == (200, "Dryer 200")


@pytest.mark.django_db
def test_batches(agent, master):
    client = api_for(agent)
    assert keys(client.get("/api/v1/batches/"), "code") == ["B-2", "B-3", "B-1"]  # newest production first
    assert keys(client.get("/api/v1/batches/", {"product_model": "WM-100"}), "code") == ["B-2", "B-1"]
    assert keys(client.get("/api/v1/batches/", {"product_model": "DR-200"}), "code") == ["B-3"]
    assert keys(client.get("/api/v1/batches/", {"ordering": "code"}), "code") == ["B-1", "B-2", "B-3"]
    response = client.get(f"/api/v1/batches/{master['b1'].pk}/")
    assert response.json() == {
        "id": master["b1"].pk,
        "code": "B-1",
        "product_model": "WM-100",
        "produced_on": "2025-01-10",
        "quantity": 100,
        "plant": "Suzhou",
    }


ENDPOINTS = ["customers", "units", "product-models", "batches"]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_staff_role_reads_master_data(endpoint, master):
    for role in ["agent", "supervisor", "quality_engineer", "committee_member", "manager", "admin"]:
        user = UserFactory(username=f"{role}_reader", roles=[role])
        assert results(api_for(user).get(f"/api/v1/{endpoint}/")), role


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_user_without_a_role_gets_403(endpoint, master):
    client = api_for(UserFactory(username="norole"))
    assert_error(client.get(f"/api/v1/{endpoint}/"), 403)
    assert_error(client.get(f"/api/v1/{endpoint}/1/"), 403)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_anonymous_is_refused(endpoint, master):
    response = APIClient().get(f"/api/v1/{endpoint}/")
    assert response.status_code in (401, 403)
    assert_error(response, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("pk", ["999999", "abc", "1.5", "99999999999999999999999"])
def test_unknown_or_malformed_ids_are_404_json(endpoint, pk, agent, master):
    assert_error(api_for(agent).get(f"/api/v1/{endpoint}/{pk}/"), 404)


@pytest.mark.django_db
def test_master_data_is_read_only_over_the_api_but_for_new_customers(agent, master):
    # Agents register callers (tests/catalog/test_customer_create.py); nothing else is
    # writable here: edits and deletions go through intake and the admin.
    client = api_for(agent)
    assert_error(client.post("/api/v1/customers/", {"external_id": "C-3", "name": "New"}, format="json"), 400)
    assert_error(client.delete(f"/api/v1/customers/{master['acme'].pk}/"), 403)
    admin = UserFactory(username="admin_user", roles=["admin"])
    assert_error(api_for(admin).delete(f"/api/v1/customers/{master['acme'].pk}/"), 405)
    assert_error(api_for(admin).post("/api/v1/units/", {"serial": "X"}, format="json"), 405)
    assert_error(api_for(admin).put(f"/api/v1/customers/{master['acme'].pk}/", {"name": "X"}, format="json"), 405)
    assert Customer.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("endpoint", "params", "field"),
    [
        ("units", {"customer": "C\x00"}, "customer"),
        ("customers", {"q": "\x00"}, "q"),
        ("customers", {"segment": "whale"}, "segment"),
        ("batches", {"product_model": "\x00"}, "product_model"),
    ],
)
def test_bad_filter_values_are_400(endpoint, params, field, agent, master):
    assert_error(api_for(agent).get(f"/api/v1/{endpoint}/", params), 400, [field])


@pytest.mark.django_db
def test_unit_list_query_count_does_not_grow(agent, master):
    def count(page_size):
        user = User.objects.get(pk=agent.pk)
        with CaptureQueriesContext(connection) as queries:
            assert len(results_page(api_for(user).get("/api/v1/units/", {"page_size": page_size}))) == page_size
        return len(queries)

    def results_page(response):
        assert response.status_code == 200
        return response.json()["results"]

    small = count(3)
    for _ in range(30):
        UnitFactory()
    assert count(33) == small
