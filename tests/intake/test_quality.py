"""The data-quality report (intake.selectors.data_quality_*), its page and its API, with
expectations computed by hand on a small fixture. Time is frozen at 2025-06-15 12:00
Asia/Shanghai; the 7-day window is 2025-06-09 .. 2025-06-15."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Customer
from intake import selectors
from intake.models import ImportRowError, ImportRun, ImportStatus, MappingProfile
from tests.conftest import api_for
from tests.factories import CustomerFactory, ProductModelFactory, RegionFactory, UserFactory

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=SH)
URL = "/api/v1/data-quality/"


@pytest.fixture
def frozen(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    settings.DATA_FRESHNESS_HOURS = 48
    with time_machine.travel(NOW, tick=False):
        yield


def _run(entity, *, finished, profile=None, rows=0, created=0, updated=0, rejected=0, **extra):
    values = {"status": ImportStatus.SUCCEEDED, "dry_run": False, **extra}
    return ImportRun.objects.create(
        entity=entity,
        profile=profile,
        rows=rows,
        created=created,
        updated=updated,
        rejected=rejected,
        finished_at=finished,
        **values,
    )


@pytest.fixture
def data(db, frozen):
    east = RegionFactory(name="East")
    # 4 customers, C4 without a city: city completeness 3 / 4 = 75.0.
    # C1 + C2 share a phone (1 group of 2); C1 + C3 share name and city up to case (1 group of 2).
    CustomerFactory(external_id="C1", name="Wang Fang", city="Shanghai", phone="111", region=east)
    CustomerFactory(external_id="C2", name="Li Lei", city="Beijing", phone="111", region=east)
    CustomerFactory(external_id="C3", name=" wang fang", city="shanghai", phone="222", region=east)
    CustomerFactory(external_id="C4", name="Zhao Min", city="", phone="", region=east)
    ProductModelFactory(code="WM1", launched_on=None)  # launched_on completeness 0.0

    crm = MappingProfile.objects.create(name="CRM export", source_system="CRM")
    sheet = MappingProfile.objects.create(name="Legacy sheet", source_system="")
    # customers: CRM 6 rows / 2 rejected (fresh, 26 h), standard template 4 rows / 0 (stale, 98 h)
    r1 = _run("customers", profile=crm, finished=dt.datetime(2025, 6, 14, 10, tzinfo=SH), rows=6, created=4, rejected=2)
    _run("customers", finished=dt.datetime(2025, 6, 11, 10, tzinfo=SH), rows=4, created=1, updated=1)
    # Not counted in the 7-day window: a dry run, and a run before the window.
    dry = _run(
        "customers",
        finished=dt.datetime(2025, 6, 15, 9, tzinfo=SH),
        rows=100,
        rejected=50,
        dry_run=True,
        status=ImportStatus.DRY_RUN,
    )
    _run("customers", finished=dt.datetime(2025, 6, 1, 10, tzinfo=SH), rows=20, created=10, rejected=10)
    # The report counts by code, never by the reason's words (the Chinese reason counts too).
    ImportRowError.objects.create(
        run=r1, row=2, column="external_id", value="C1", reason="键值重复，首次出现在第 1 行", code="duplicate_key"
    )
    ImportRowError.objects.create(
        run=r1, row=5, column="region", value="Mars", reason="unknown region “Mars”", code="unknown_reference"
    )
    ImportRowError.objects.create(
        run=dry, row=3, column="city", value="x", reason="unknown city “x”", code="unknown_reference"
    )
    # product_models: one successful import 5 days ago (stale), from the "Legacy sheet" profile.
    _run("product_models", profile=sheet, finished=dt.datetime(2025, 6, 10, 12, tzinfo=SH), rows=3, created=1)
    return {"crm": crm}


def test_completeness(data):
    result = selectors.data_quality_completeness(entity="customers")["customers"]
    assert result["records"] == 4
    percent = {c["column"]: c["percent"] for c in result["columns"]}
    assert percent == {
        "external_id": 100.0,
        "name": 100.0,
        "region": 100.0,
        "segment": 100.0,
        "city": 75.0,
        "created_at": 100.0,
    }
    assert [c["column"] for c in result["columns"] if c["required"]] == ["external_id", "name", "region", "created_at"]
    models = selectors.data_quality_completeness(entity="product_models")["product_models"]
    assert {c["column"]: c["percent"] for c in models["columns"]}["launched_on"] == 0.0


def test_validity_broken_references_and_duplicates(data):
    validity = selectors.data_quality_validity(window_days=7, entity="customers")["customers"]
    assert (validity["runs"], validity["rows"], validity["rejected"], validity["rejection_rate"]) == (2, 10, 2, 20.0)
    assert validity["by_source"] == [
        {"source": "CRM", "runs": 1, "rows": 6, "rejected": 2, "rejection_rate": 33.3},
        {"source": "standard template", "runs": 1, "rows": 4, "rejected": 0, "rejection_rate": 0.0},
    ]
    assert validity["top_columns"] == [{"column": "external_id", "count": 1}, {"column": "region", "count": 1}]
    # 30 days: the run of June 1 too: 30 rows, 12 rejected.
    wide = selectors.data_quality_validity(window_days=30, entity="customers")["customers"]
    assert (wide["rows"], wide["rejected"], wide["rejection_rate"]) == (30, 12, 40.0)

    broken = selectors.data_quality_broken_references(window_days=7)
    assert broken["customers"] == [{"column": "region", "count": 1}]  # the dry run's error is not counted
    assert broken["tickets"] == []

    duplicates = selectors.data_quality_duplicates(window_days=7)
    assert duplicates["keys_rejected"]["customers"] == 1
    assert duplicates["customers"] == {"phone": {"groups": 1, "records": 2}, "name_city": {"groups": 1, "records": 2}}
    assert selectors.data_quality_duplicates(entity="tickets")["customers"] is None


def test_freshness(data):
    fresh = selectors.data_quality_freshness()
    customers = fresh["customers"]
    assert customers["status"] == selectors.FRESH
    assert customers["age_hours"] == 26.0
    assert [(s["source"], s["age_hours"], s["stale"]) for s in customers["by_source"]] == [
        ("CRM", 26.0, False),
        ("standard template", 98.0, True),
    ]
    assert fresh["product_models"]["status"] == selectors.STALE
    assert fresh["product_models"]["by_source"][0]["source"] == "Legacy sheet"
    assert fresh["tickets"]["status"] == selectors.NO_DATA


def test_never_imported(db, frozen):
    # Records, but no import at all: never imported (demo data or manual entry).
    CustomerFactory()
    result = selectors.data_quality_freshness(entity="customers")["customers"]
    assert result == {"status": selectors.NEVER_IMPORTED, "last_import": None, "age_hours": None, "by_source": []}
    # 50 % * mean(segment 100, city 0) + 30 % * 100 + 20 % * 100 = 25 + 30 + 20
    assert selectors.data_quality_score(entity="customers") == 75.0


def test_volume_fills_zero_days(data):
    volume = selectors.data_quality_volume(window_days=7, entity="customers")["customers"]
    assert [(day["date"].isoformat(), day["written"]) for day in volume] == [
        ("2025-06-09", 0),
        ("2025-06-10", 0),
        ("2025-06-11", 2),
        ("2025-06-12", 0),
        ("2025-06-13", 0),
        ("2025-06-14", 4),
        ("2025-06-15", 0),  # the dry run of today wrote nothing
    ]


def test_score_by_hand(data):
    # customers: completeness of the optional columns segment 100, city 75 -> 87.5;
    # validity 100 - 20 = 80 (7 days); fresh -> 100.  0.5*87.5 + 0.3*80 + 0.2*100 = 87.75
    assert selectors.data_quality_score(entity="customers", window_days=7) == pytest.approx(87.8)
    # 30 days: rejection rate 40 -> 0.5*87.5 + 0.3*60 + 0.2*100 = 81.75
    assert selectors.data_quality_score(entity="customers") == pytest.approx(81.8)
    # product_models: launched_on 0 -> 0; 3 rows, none rejected -> 100; stale -> 50: 0 + 30 + 10
    assert selectors.data_quality_score(entity="product_models") == 40.0
    assert selectors.data_quality_score(entity="tickets") is None

    report = selectors.data_quality_report(window_days=7)
    by_entity = {item["entity"]: item for item in report["entities"]}
    assert by_entity["customers"]["score"] == pytest.approx(87.8)
    assert by_entity["customers"]["score_parts"] == {"completeness": 87.5, "validity": 80.0, "freshness": 100.0}
    assert by_entity["customers"]["volume_total"] == 6
    assert report["since"] == dt.date(2025, 6, 9) and report["until"] == dt.date(2025, 6, 15)


def test_empty_database(db, frozen):
    report = selectors.data_quality_report()
    assert all(item["score"] is None for item in report["entities"])
    assert all(item["records"] == 0 for item in report["entities"])
    assert report["duplicate_customers"] == {
        "phone": {"groups": 0, "records": 0},
        "name_city": {"groups": 0, "records": 0},
    }
    assert selectors.data_quality_score(entity="recalls") is None


@pytest.mark.parametrize("role", ["manager", "quality_engineer"])
def test_page_renders(client, data, role):
    client.force_login(UserFactory(roles=[role]))
    response = client.get(reverse("intake:quality"), {"window_days": 7})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Data quality" in body
    assert "Score 87.8" in body
    assert "75.0%" in body  # the city's completeness
    assert "standard template" in body and "CRM" in body
    response = client.get(reverse("intake:quality"), {"entity": "customers", "window_days": 90})
    assert response.status_code == 200
    assert response.context["report"]["window_days"] == 90
    assert [item["entity"] for item in response.context["report"]["entities"]] == ["customers"]


def test_page_forbidden_without_permission(client, agent):
    client.force_login(agent)
    assert client.get(reverse("intake:quality")).status_code == 403
    client.logout()
    assert client.get(reverse("intake:quality")).status_code == 302


def test_api(data, manager):
    response = api_for(manager).get(URL, {"entity": "customers", "window_days": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["window_days"] == 7
    (customers,) = body["entities"]
    assert customers["score"] == pytest.approx(87.8)
    assert customers["validity"]["rejection_rate"] == 20.0
    assert customers["freshness"]["status"] == "fresh"
    assert body["duplicate_customers"]["phone"] == {"groups": 1, "records": 2}
    assert len(api_for(manager).get(URL).json()["entities"]) == 11


@pytest.mark.parametrize("query", [{"window_days": "abc"}, {"window_days": 0}, {"entity": "planets"}])
def test_api_bad_input(db, manager, query):
    response = api_for(manager).get(URL, query)
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "errors"}
    assert set(response.json()["errors"]) <= {"window_days", "entity"}


def test_api_forbidden(db, agent):
    assert api_for(agent).get(URL).status_code == 403


def _customers(count):
    region = RegionFactory(name="East")
    for n in range(count):
        CustomerFactory(region=region, city="Shanghai" if n % 2 else "", phone=str(n % 3))


def test_query_counts_do_not_grow(client, manager, frozen):
    client.force_login(manager)
    api = api_for(manager)
    api.get(URL)  # the user's permissions are cached on the first request
    counts = []
    for total in (5, 50):
        Customer.objects.all().delete()
        _customers(total)
        _run("customers", finished=NOW - dt.timedelta(hours=1), rows=total, created=total)
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("intake:quality")).status_code == 200
        with CaptureQueriesContext(connection) as api_queries:
            assert api.get(URL).status_code == 200
        counts.append((len(page), len(api_queries)))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("query", [{}, {"entity": "customers"}])
def test_the_window_select_shows_the_window_the_report_uses(client, data, manager, query):
    client.force_login(manager)
    response = client.get(reverse("intake:quality"), query)
    assert response.context["report"]["window_days"] == 30
    assert '<option value="30" selected>' in response.content.decode()


@pytest.mark.parametrize("url_name", ["intake:quality", "intake:run_list"])
def test_the_filter_bar_shows_every_field_and_resets_to_the_page(client, manager, url_name):
    client.force_login(manager)
    html = client.get(reverse(url_name)).content.decode()
    form = client.get(reverse(url_name)).context["form"]
    for field in form:
        assert f'for="{field.id_for_label}"' in html
    assert f'href="{reverse(url_name)}">Reset</a>' in html
    assert '<i class="bi bi-funnel" aria-hidden="true"></i> Filter</button>' in html
