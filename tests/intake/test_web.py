"""The import pages: upload -> preview -> dry run / import (a Celery task, eager here) ->
run page; the errors CSV; the import history; mapping profiles."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Customer
from intake.models import ImportRowError, ImportRun, ImportSource, ImportStatus, MappingProfile
from intake.selectors import PROGRESS_KEY, TOTAL_KEY
from tests.factories import UserFactory

from .web_support import (
    CUSTOMERS_BAD_CSV,
    CUSTOMERS_CSV,
    client_for,
    csv_file,
    xlsx_file,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake_env")]

UPLOAD = reverse("intake:upload")


def upload(client, file, *, entity="customers", mode="strict", profile=""):
    return client.post(UPLOAD, {"entity": entity, "mode": mode, "profile": profile, "file": file})


def preview_url(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def start(client, url, *, action, entity="customers", mode="strict", profile="", capture):
    """Press Dry run / Import on the preview page; the task runs when the request commits."""
    with capture(execute=True):
        response = client.post(
            url.split("?")[0], {"entity": entity, "profile": profile, "mode": mode, "action": action}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    return ImportRun.objects.get(pk=int(re.search(r"/runs/(\d+)/", response["Location"]).group(1)))


# --- access -----------------------------------------------------------------------------------


def test_pages_need_the_import_permissions(agent, manager):
    assert client_for(agent).get(UPLOAD).status_code == 403
    assert client_for(agent).get(reverse("intake:run_list")).status_code == 403
    # Managers read the history but do not import.
    assert client_for(manager).get(reverse("intake:run_list")).status_code == 200
    assert client_for(manager).get(UPLOAD).status_code == 403
    assert client_for(manager).get(reverse("intake:profile_create")).status_code == 403


def test_navbar_import_link_follows_the_permission(agent, manager, engineer):
    assert "/intake/" not in client_for(agent).get(reverse("tickets:queue")).content.decode()
    queue = client_for(manager).get(reverse("tickets:queue")).content.decode()
    assert f'href="{reverse("intake:run_list")}"' in queue
    queue = client_for(engineer).get(reverse("tickets:queue")).content.decode()
    assert f'href="{UPLOAD}"' in queue


# --- upload and preview -----------------------------------------------------------------------


def test_upload_stores_the_file_under_a_fresh_folder_with_a_safe_name(engineer):
    response = upload(client_for(engineer), csv_file(CUSTOMERS_CSV, name="../../客户 名单;rm -rf.CSV"))
    token = re.search(r"/uploads/([0-9a-f]{32})/", preview_url(response)).group(1)
    stored = list((Path(settings.MEDIA_ROOT) / "imports" / token).iterdir())
    assert [p.name for p in stored] == ["客户_名单rm_-rf.csv"]
    assert stored[0].read_text(encoding="utf-8") == CUSTOMERS_CSV


def test_preview_shows_the_header_its_mapping_and_the_first_ten_rows(engineer):
    rows = "".join(f"C-{n},Name {n},East,2025-01-{n:02d},x{n}\n" for n in range(1, 13))
    text = "External_ID , name,Region,created_at,Loyalty\n" + rows
    url = preview_url(upload(client_for(engineer), csv_file(text)))
    assert "entity=customers" in url

    page = client_for(engineer).get(url)
    body = page.content.decode()
    mapping = {(m.header, m.column, m.how) for m in page.context["mapping"]}
    assert mapping == {
        ("External_ID", "external_id", "contract"),  # case and spaces do not matter
        ("name", "name", "contract"),
        ("Region", "region", "contract"),
        ("created_at", "created_at", "contract"),
        ("Loyalty", "", "unknown"),
    }
    assert "unknown: ignored" in body
    assert page.context["missing"] == []
    head = page.context["head"]
    assert len(head.rows) == 10 and head.rows[0] == ["C-1", "Name 1", "East", "2025-01-01", "x1"]
    assert "Name 10" in body and "Name 11" not in body
    assert 'value="dry_run"' in body and 'value="import"' in body


def test_preview_flags_missing_required_columns_and_applies_the_profile(engineer):
    profile = MappingProfile.objects.create(name="CRM", entity="customers", column_map={"客户编号": "external_id"})
    text = "客户编号,name,created_at\nC-1,Zhang,2025-01-01\n"
    url = preview_url(upload(client_for(engineer), csv_file(text), profile=profile.pk))

    page = client_for(engineer).get(url)
    assert [(m.header, m.column, m.how) for m in page.context["mapping"]][0] == ("客户编号", "external_id", "renamed")
    assert page.context["missing"] == ["region"]
    body = page.content.decode()
    assert "renamed by the profile" in body and 'id="missing-columns"' in body
    # Without the profile the same header is unknown and external_id is missing too.
    page = client_for(engineer).get(url.replace(f"profile={profile.pk}", "profile="))
    assert page.context["missing"] == ["external_id", "region"]


def test_preview_of_an_xlsx_file(engineer):
    rows = [
        ["external_id", "name", "region", "created_at"],
        ["C-1", "Zhang", "East", "2025-01-01"],
        [None, None, None, None],
    ]
    page = client_for(engineer).get(preview_url(upload(client_for(engineer), xlsx_file(rows))))
    assert page.status_code == 200
    head = page.context["head"]
    assert head.header == ["external_id", "name", "region", "created_at"]
    assert head.rows == [["C-1", "Zhang", "East", "2025-01-01"]] and head.exact
    assert page.context["missing"] == []


def test_preview_reports_a_file_that_is_not_utf8(engineer):
    text = "external_id,name,region,created_at\nC-1,张伟,East,2025-01-01\n"
    file = SimpleUploadedFile("gbk.csv", text.encode("gb18030"), content_type="text/csv")
    page = client_for(engineer).get(preview_url(upload(client_for(engineer), file)))
    assert page.status_code == 200
    assert "not UTF-8" in page.context["head"].problem


@pytest.mark.parametrize("name", ["customers.txt", "customers.xls", "customers", "customers.csv.exe"])
def test_a_file_that_is_not_csv_or_xlsx_is_a_field_error(engineer, name):
    response = upload(client_for(engineer), csv_file(CUSTOMERS_CSV, name=name))
    assert response.status_code == 200
    assert response.context["form"].errors == {"file": ["Upload a .csv or .xlsx file."]}
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists()


def test_an_empty_or_oversized_file_is_a_field_error(engineer, settings):
    response = upload(client_for(engineer), csv_file("", name="customers.csv"))
    assert response.status_code == 200 and "file" in response.context["form"].errors
    assert "empty" in response.context["form"].errors["file"][0]

    settings.INTAKE_MAX_UPLOAD_BYTES = 100
    response = upload(client_for(engineer), csv_file(CUSTOMERS_CSV))
    assert response.status_code == 200
    assert "the limit is 100" in response.context["form"].errors["file"][0]
    assert ImportRun.objects.count() == 0


def test_a_profile_for_another_entity_is_refused(engineer):
    profile = MappingProfile.objects.create(name="Tickets CRM", entity="tickets")
    response = upload(client_for(engineer), csv_file(CUSTOMERS_CSV), profile=profile.pk)
    assert response.status_code == 200
    assert "This profile is for tickets" in response.context["form"].errors["profile"][0]


def test_an_unknown_upload_is_a_404(engineer):
    assert client_for(engineer).get(reverse("intake:preview", args=["0" * 32])).status_code == 404


# --- dry run, import, run page ----------------------------------------------------------------


def test_dry_run_then_import_for_real(engineer, django_capture_on_commit_callbacks):
    client = client_for(engineer)
    url = preview_url(upload(client, csv_file(CUSTOMERS_CSV)))

    dry = start(client, url, action="dry_run", capture=django_capture_on_commit_callbacks)
    assert (dry.status, dry.dry_run, dry.source, dry.user, dry.file_name) == (
        ImportStatus.DRY_RUN,
        True,
        ImportSource.WEB,
        engineer,
        "customers.csv",
    )
    assert (dry.rows, dry.created, dry.rejected) == (3, 3, 0)
    assert Customer.objects.count() == 0  # a dry run writes nothing

    page = client.get(reverse("intake:run_detail", args=[dry.pk]))
    body = page.content.decode()
    assert 'id="count-created">3<' in body and "Import for real" in body
    assert 'id="run-progress"' not in body  # finished: no polling

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("intake:run_import", args=[dry.pk]))
    real = ImportRun.objects.exclude(pk=dry.pk).get()
    assert response["Location"] == reverse("intake:run_detail", args=[real.pk])
    assert (real.status, real.dry_run, real.created, real.stored_file) == (
        ImportStatus.SUCCEEDED,
        False,
        3,
        dry.stored_file,
    )
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"C-1", "C-2", "C-3"}
    body = client.get(response["Location"]).content.decode()
    assert 'id="count-created">3<' in body and "Import for real" not in body


def test_import_straight_away_in_lenient_mode_shows_counts_and_errors(engineer, django_capture_on_commit_callbacks):
    client = client_for(engineer)
    url = preview_url(upload(client, csv_file(CUSTOMERS_BAD_CSV), mode="lenient"))
    run = start(client, url, action="import", mode="lenient", capture=django_capture_on_commit_callbacks)

    assert (run.status, run.rows, run.created, run.rejected) == (ImportStatus.SUCCEEDED, 3, 1, 2)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["C-10"]
    page = client.get(reverse("intake:run_detail", args=[run.pk]))
    errors = [(e.row, e.column) for e in page.context["errors"]]
    assert (2, "created_at") in errors and (3, "name") in errors
    body = page.content.decode()
    assert 'id="count-rejected">2<' in body and "2025-13-01" in body
    assert reverse("intake:run_errors_csv", args=[run.pk]) in body

    lines = b"".join(client.get(reverse("intake:run_errors_csv", args=[run.pk])).streaming_content).decode()
    assert lines.startswith("\ufefffile,row,column,value,reason\r\n")
    assert "customers.csv,2,created_at,2025-13-01," in lines


def test_strict_mode_rejects_the_file_and_writes_nothing(engineer, django_capture_on_commit_callbacks):
    client = client_for(engineer)
    url = preview_url(upload(client, csv_file(CUSTOMERS_BAD_CSV)))
    run = start(client, url, action="import", capture=django_capture_on_commit_callbacks)
    assert run.status == ImportStatus.REJECTED and run.rejected == 2
    assert Customer.objects.count() == 0
    assert "nothing was written" in client.get(reverse("intake:run_detail", args=[run.pk])).content.decode()


def test_a_dry_run_with_rejected_rows_in_strict_mode_offers_no_real_import(
    engineer, django_capture_on_commit_callbacks
):
    client = client_for(engineer)
    url = preview_url(upload(client, csv_file(CUSTOMERS_BAD_CSV)))
    run = start(client, url, action="dry_run", capture=django_capture_on_commit_callbacks)
    assert run.rejected == 2
    assert "Import for real" not in client.get(reverse("intake:run_detail", args=[run.pk])).content.decode()
    response = client.post(reverse("intake:run_import", args=[run.pk]))
    assert response.status_code == 302 and ImportRun.objects.count() == 1


def test_a_dry_run_of_a_file_missing_a_required_column_offers_no_real_import(
    engineer, django_capture_on_commit_callbacks
):
    client = client_for(engineer)
    text = CUSTOMERS_CSV.replace("created_at", "opened_at")
    url = preview_url(upload(client, csv_file(text), mode="lenient"))
    run = start(client, url, action="dry_run", mode="lenient", capture=django_capture_on_commit_callbacks)
    assert run.status == ImportStatus.DRY_RUN
    page = client.get(reverse("intake:run_detail", args=[run.pk]))
    assert [(e.row, e.column) for e in page.context["errors"]] == [(0, "created_at")]
    body = page.content.decode()
    assert "Import for real" not in body and "The file as a whole cannot be imported" in body


def _finished_run(user=None, **kwargs) -> ImportRun:
    values = {
        "entity": "customers",
        "file_name": "customers.csv",
        "source": ImportSource.WEB,
        "status": ImportStatus.SUCCEEDED,
        "user": user,
        "rows": 120,
        "created": 100,
        "updated": 10,
        "rejected": 10,
        "finished_at": timezone.now(),
        **kwargs,
    }
    return ImportRun.objects.create(**values)


def test_errors_csv_is_exact_and_defuses_formulas(engineer):
    run = _finished_run(file_name="=客户.csv")
    ImportRowError.objects.create(run=run, row=0, column="", value="", reason="the header row is empty")
    ImportRowError.objects.create(run=run, row=7, column="name", value="=HYPERLINK(1)", reason="too long")
    ImportRowError.objects.create(run=run, row=3, column="created_at", value='2025-13-01, "late"', reason="not a date")
    ImportRowError.objects.create(run=run, row=5, column="city", value="+1", reason="-bad @ once")
    ImportRowError.objects.create(run=run, row=6, column="@region", value="-5", reason="ok")

    response = client_for(engineer).get(reverse("intake:run_errors_csv", args=[run.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="import-{run.pk}-errors.csv"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).decode("utf-8") == (
        "\ufefffile,row,column,value,reason\r\n"
        "'=客户.csv,0,,,the header row is empty\r\n"
        '\'=客户.csv,3,created_at,"2025-13-01, ""late""",not a date\r\n'
        "'=客户.csv,5,city,'+1,'-bad @ once\r\n"
        "'=客户.csv,6,'@region,'-5,ok\r\n"
        "'=客户.csv,7,name,'=HYPERLINK(1),too long\r\n"
    )


def test_errors_are_paginated_fifty_per_page(engineer):
    run = _finished_run()
    ImportRowError.objects.bulk_create(
        ImportRowError(run=run, row=n, column="name", value=f"v{n}", reason="required") for n in range(1, 121)
    )
    client = client_for(engineer)
    page = client.get(reverse("intake:run_detail", args=[run.pk]))
    assert [e.row for e in page.context["errors"]] == list(range(1, 51))
    page = client.get(reverse("intake:run_detail", args=[run.pk]), {"page": 3})
    assert [e.row for e in page.context["errors"]] == list(range(101, 121))
    assert "120 errors" in page.content.decode()


def test_run_page_of_a_running_import_polls_its_progress(engineer):
    run = _finished_run(status=ImportStatus.RUNNING, finished_at=None, rows=0, created=0, updated=0, rejected=0)
    cache.set(PROGRESS_KEY.format(run_id=run.pk), 500, 60)
    cache.set(TOTAL_KEY.format(run_id=run.pk), 2000, 60)
    client = client_for(engineer)
    body = client.get(reverse("intake:run_detail", args=[run.pk])).content.decode()
    progress_url = reverse("intake:run_progress", args=[run.pk])
    assert f'hx-get="{progress_url}" hx-trigger="every 1s"' in body
    assert "500 of about 2,000 rows read" in body and "25%" in body

    cache.set(PROGRESS_KEY.format(run_id=run.pk), 1500, 60)
    partial = client.get(progress_url, headers={"HX-Request": "true"})
    assert "1,500 of about 2,000" in partial.content.decode() and "HX-Refresh" not in partial

    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.SUCCEEDED, rows=2000, finished_at=timezone.now())
    partial = client.get(progress_url, headers={"HX-Request": "true"})
    assert partial["HX-Refresh"] == "true"  # the whole page reloads with counts and errors
    assert "hx-trigger" not in partial.content.decode()  # polling stops


def test_run_page_of_an_unknown_run_is_404(engineer):
    assert client_for(engineer).get(reverse("intake:run_detail", args=[999])).status_code == 404


# --- history ----------------------------------------------------------------------------------


def test_history_lists_newest_first_and_filters(engineer, manager):
    first = _finished_run(user=engineer, entity="customers")
    second = _finished_run(user=engineer, entity="tickets", status=ImportStatus.REJECTED, source=ImportSource.API)
    third = _finished_run(entity="customers", source=ImportSource.COMMAND, dry_run=True, status=ImportStatus.DRY_RUN)
    client = client_for(manager)
    url = reverse("intake:run_list")

    assert list(client.get(url).context["page"]) == [third, second, first]
    assert list(client.get(url, {"entity": "customers"}).context["page"]) == [third, first]
    assert list(client.get(url, {"status": "rejected"}).context["page"]) == [second]
    assert list(client.get(url, {"source": "command", "entity": "customers"}).context["page"]) == [third]
    assert list(client.get(url, {"entity": "nonsense"}).context["page"]) == [third, second, first]
    partial = client.get(url, {"entity": "tickets"}, headers={"HX-Request": "true"})
    assert partial.templates[0].name == "intake/_run_results.html"
    body = client.get(url).content.decode()
    assert "Li Ming" in body and "Rejected (strict)" in body


def test_history_query_count_does_not_grow_with_the_runs(engineer):
    profile = MappingProfile.objects.create(name="CRM")
    client = client_for(engineer)
    url = reverse("intake:run_list")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    _finished_run(user=engineer, profile=profile)
    few = count()
    for n in range(20):
        _finished_run(user=UserFactory(), profile=MappingProfile.objects.create(name=f"P{n}"))
    assert count() == few


# --- mapping profiles -------------------------------------------------------------------------


def _profile_data(**overrides):
    return {
        "name": "CRM export",
        "source_system": "Old CRM",
        "entity": "tickets",
        "column_map": "工单号 => external_id\n\nCustomer No => customer",
        "value_map": "channel: 微信 => wechat\nchannel: 电话 => phone\npriority: 紧急 => urgent",
        "datetime_formats": "%Y/%m/%d %H:%M\n%d.%m.%Y",
        "time_zone": "Asia/Shanghai",
        **overrides,
    }


def test_profile_is_created_and_edited(engineer):
    client = client_for(engineer)
    response = client.post(reverse("intake:profile_create"), _profile_data())
    assert response.status_code == 302
    profile = MappingProfile.objects.get()
    assert profile.column_map == {"工单号": "external_id", "Customer No": "customer"}
    assert profile.value_map == {"channel": {"微信": "wechat", "电话": "phone"}, "priority": {"紧急": "urgent"}}
    assert profile.datetime_formats == ["%Y/%m/%d %H:%M", "%d.%m.%Y"]
    assert (profile.entity, profile.time_zone, profile.source_system) == ("tickets", "Asia/Shanghai", "Old CRM")

    edit = reverse("intake:profile_edit", args=[profile.pk])
    form = client.get(edit).context["form"]
    assert form.initial["column_map"] == "工单号 => external_id\nCustomer No => customer"
    response = client.post(edit, _profile_data(column_map="", time_zone=""))
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.column_map == {} and profile.time_zone == ""
    assert "CRM export" in client.get(reverse("intake:profile_list")).content.decode()


def test_profile_form_points_at_the_bad_lines(engineer):
    data = _profile_data(
        column_map="工单号 => external_id\nno arrow here\nFoo => not_a_column\n => customer",
        value_map="channel: 微信 => wechat\nchannel 电话 => phone\nflavour: x => y",
        datetime_formats="%Y/%m/%d\nno directive\n%Q-%m",
        time_zone="Mars/Olympus_Mons",
    )
    response = client_for(engineer).post(reverse("intake:profile_create"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["column_map"] == [
        "Line 2: write “source header => contract column”.",
        "Line 3: “not_a_column” is not a column of tickets.",
        "Line 4: write “source header => contract column”.",
    ]
    assert errors["value_map"] == [
        "Line 2: write “column: source value => contract value”.",
        "Line 3: “flavour” is not a column of tickets.",
    ]
    assert [e.split(":")[0] for e in errors["datetime_formats"]] == ["Line 2", "Line 3"]
    assert errors["time_zone"] == ["“Mars/Olympus_Mons” is not a time zone; use a name such as Asia/Shanghai or UTC."]
    assert MappingProfile.objects.count() == 0
    assert "is-invalid" in response.content.decode()


def test_profile_columns_are_checked_against_the_chosen_entity(engineer):
    client = client_for(engineer)
    # "region" is a column of customers, not of tickets; a profile for all entities accepts any contract column.
    response = client.post(reverse("intake:profile_create"), _profile_data(column_map="区域 => region"))
    assert response.context["form"].errors["column_map"] == ["Line 1: “region” is not a column of tickets."]
    response = client.post(reverse("intake:profile_create"), _profile_data(column_map="区域 => region", entity=""))
    assert response.status_code == 302


def test_profile_names_are_unique(engineer):
    MappingProfile.objects.create(name="CRM export")
    response = client_for(engineer).post(reverse("intake:profile_create"), _profile_data(name="crm EXPORT"))
    assert response.context["form"].errors["name"] == ["A profile with this name already exists."]


# --- languages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_name", ["intake:upload", "intake:run_list", "intake:profile_list", "intake:profile_create"]
)
def test_pages_render_in_chinese(engineer, url_name):
    response = client_for(engineer, language="zh-hans").get(reverse(url_name))
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
