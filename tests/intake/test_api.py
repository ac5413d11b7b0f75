"""REST bulk import (POST /api/v1/imports/{entity}/) and the import history endpoints."""

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.models import Customer
from intake.api.serializers import MAX_ROWS
from intake.models import ImportRowError, ImportRun, ImportSource, ImportStatus
from tests.conftest import api_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/imports/customers/"
GOOD = [
    {"external_id": "C-1", "name": "Zhang Wei", "region": "East", "created_at": "2025-01-05T09:30:00+08:00"},
    {"external_id": "C-2", "name": "Li Na", "region": "华东", "segment": "vip", "created_at": "2025-02-01"},
]
BAD = [
    *GOOD,
    {"external_id": "C-3", "name": "Bad Date", "region": "East", "created_at": "2025-13-01"},
]


def post(client: APIClient, rows, url=URL, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"{url}?{query}" if query else url, rows, format="json")


def test_strict_import_writes_and_answers_201_with_the_summary(engineer):
    response = post(api_for(engineer), GOOD)
    assert response.status_code == 201, response.json()
    body = response.json()
    run = ImportRun.objects.get()
    assert body == {
        "id": run.pk,
        "status": "succeeded",
        "entity": "customers",
        "file": run.file_name,
        "mode": "strict",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "rejected": 0,
        "unchanged": 0,
        "errors": [],
        "warnings": [],
    }
    assert (run.source, run.user, run.dry_run) == (ImportSource.API, engineer, False)
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C-1", "C-2"}

    # The same rows again change nothing (idempotent upsert); a changed row is updated.
    again = post(api_for(engineer), GOOD).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    changed = post(api_for(engineer), [{**GOOD[0], "name": "Zhang Wei (VIP)"}]).json()
    assert (changed["created"], changed["updated"]) == (0, 1)
    assert Customer.objects.get(external_id="C-1").name == "Zhang Wei (VIP)"
    assert Customer.objects.count() == 2


def test_lenient_import_writes_the_good_rows_and_reports_the_bad_ones(engineer):
    response = post(api_for(engineer), BAD, mode="lenient")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["created"], body["rejected"]) == ("succeeded", 2, 1)
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [(3, "created_at", "2025-13-01")]
    assert Customer.objects.count() == 2


def test_strict_rejection_is_a_400_in_the_api_error_shape_with_the_summary(engineer):
    response = post(api_for(engineer), BAD, mode="strict")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors", "summary"}
    assert "nothing was written" in body["detail"]
    assert list(body["errors"]) == ["created_at"] and body["errors"]["created_at"][0].startswith("row 3: ")
    assert body["summary"]["status"] == "rejected" and body["summary"]["rejected"] == 1
    assert body["summary"]["id"] == ImportRun.objects.get().pk
    assert Customer.objects.count() == 0


def test_dry_run_answers_200_and_writes_nothing(engineer):
    response = post(api_for(engineer), GOOD, dry_run="true")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["created"]) == ("dry_run", 2)
    assert Customer.objects.count() == 0
    assert ImportRun.objects.get().dry_run is True


def test_more_than_ten_thousand_rows_is_a_400(engineer):
    rows = [{"external_id": f"C-{n}"} for n in range(MAX_ROWS + 1)]
    response = post(api_for(engineer), rows)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert "At most 10,000 rows per request; this one has 10,001" in body["errors"]["rows"][0]
    assert ImportRun.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"external_id": "C-1"}, "Send a JSON array of row objects."),
        ("C-1,Zhang", "Send a JSON array of row objects."),
        (42, "Send a JSON array of row objects."),
        ([], "The array is empty"),
        ([GOOD[0], ["C-2", "Li"]], "Row 2 is not a JSON object"),
        ([GOOD[0], "C-2"], "Row 2 is not a JSON object"),
        ([{**GOOD[0], "name": {"first": "Wei"}}], "Row 1, column name: a cell must be"),
        ([{**GOOD[0], "name": ["Wei"]}], "Row 1, column name: a cell must be"),
    ],
)
def test_malformed_bodies_are_400(engineer, payload, reason):
    response = post(api_for(engineer), payload)
    assert response.status_code == 400
    assert reason in response.json()["errors"]["rows"][0]
    assert ImportRun.objects.count() == 0


@pytest.mark.parametrize("body", [b"[{", b"not json", b"\xff\xfe", b'[{"a": 1}]]'])
def test_garbage_json_is_400(engineer, body):
    response = api_for(engineer).post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"detail", "errors"}


def test_a_form_encoded_body_is_400(engineer):
    response = api_for(engineer).post(URL, {"external_id": "C-1"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["rows"] == ["Send a JSON array of row objects."]


@pytest.mark.parametrize("query", ["mode=fast", "dry_run=perhaps"])
def test_bad_query_parameters_are_400(engineer, query):
    response = api_for(engineer).post(f"{URL}?{query}", GOOD, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [query.split("=")[0]]


@pytest.mark.parametrize("entity", ["widgets", "Customers", "customers.csv", "12abc"])
def test_an_unknown_entity_is_a_json_404(engineer, entity):
    response = post(api_for(engineer), GOOD, url=f"/api/v1/imports/{entity}/")
    assert response.status_code == 404
    assert response.json()["errors"] == {} and "Unknown entity" in response.json()["detail"]


def test_posting_needs_the_add_permission(agent, manager):
    assert post(api_for(agent), GOOD).status_code == 403
    assert post(api_for(manager), GOOD).status_code == 403
    assert post(APIClient(), GOOD).status_code in (401, 403)
    assert ImportRun.objects.count() == 0


def test_reading_the_history_needs_the_view_permission(agent, manager):
    assert api_for(agent).get("/api/v1/imports/").status_code == 403
    assert api_for(manager).get("/api/v1/imports/").status_code == 200


def _run(**kwargs) -> ImportRun:
    values = {"entity": "customers", "file_name": "customers.csv", "status": ImportStatus.SUCCEEDED, **kwargs}
    return ImportRun.objects.create(finished_at=timezone.now(), **values)


def test_history_lists_runs_newest_first_with_filters(manager):
    first = _run(source=ImportSource.COMMAND)
    second = _run(entity="tickets", status=ImportStatus.REJECTED, source=ImportSource.API)
    third = _run(source=ImportSource.WEB, dry_run=True, status=ImportStatus.DRY_RUN)
    client = api_for(manager)

    def ids(query=""):
        response = client.get(f"/api/v1/imports/{query}")
        assert response.status_code == 200, response.json()
        return [r["id"] for r in response.json()["results"]]

    assert ids() == [third.pk, second.pk, first.pk]
    assert ids("?entity=customers") == [third.pk, first.pk]
    assert ids("?status=rejected") == [second.pk]
    assert ids("?source=web") == [third.pk]
    assert ids("?entity=customers&source=command") == [first.pk]
    assert client.get("/api/v1/imports/?status=bogus").status_code == 400
    row = client.get("/api/v1/imports/").json()["results"][0]
    assert {"id", "entity", "file_name", "mode", "dry_run", "source", "status", "rows", "created", "user"} <= set(row)
    assert "errors" not in row


def test_run_detail_lists_the_first_thousand_errors_and_counts_them(manager):
    run = _run(rejected=1200)
    ImportRowError.objects.bulk_create(
        ImportRowError(run=run, row=n, column="name", value="", reason="required") for n in range(1200, 0, -1)
    )
    response = api_for(manager).get(f"/api/v1/imports/{run.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["error_count"] == 1200
    assert len(body["errors"]) == 1000
    assert body["errors"][0] == {"row": 1, "column": "name", "value": "", "reason": "required"}
    assert body["errors"][-1]["row"] == 1000


@pytest.mark.parametrize("run_id", ["999", "abc"])
def test_an_unknown_run_is_a_json_404(manager, run_id):
    response = api_for(manager).get(f"/api/v1/imports/{run_id}/")
    assert response.status_code in (404, 405)
    assert set(response.json()) == {"detail", "errors"}


def test_a_run_id_does_not_accept_posts(engineer):
    run = _run()
    response = post(api_for(engineer), GOOD, url=f"/api/v1/imports/{run.pk}/")
    assert response.status_code == 405
    assert json.loads(response.content)["errors"] == {}
