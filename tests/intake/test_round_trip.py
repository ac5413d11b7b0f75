"""The done-when of the intake issue: the demo data set, exported as standard-template
CSV files (export_data), imported through the web page into an installation holding
only accounts and reference data (seed_demo --reference-only), gives the same KPI
figures (every catalogue KPI, by month, in total and by each supported dimension)."""

import io
import re
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from catalog.models import Batch, Component, Customer, ProductLine, ProductModel, Region, Supplier, Unit, User
from intake.models import ENTITY_ORDER, ImportRun, ImportStatus
from quality.kpi.engine import kpi_compute
from quality.kpi.registry import kpi_registry
from quality.models import Failure, FailureMode, KpiSnapshot, Recall, RecallEvent, RecallUnit
from tests.factories import audit_rows_wipe
from tickets.models import Survey, Team, Ticket, TicketEvent

from .web_support import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake_env")]

AS_OF = date(2026, 3, 18)
NOW = datetime(2026, 3, 17, 16, 0, tzinfo=UTC)


def figures() -> dict:
    if connection.vendor == "postgresql":
        # Fresh statistics: after earlier tests, autovacuum may have left the planner
        # believing these tables empty, and nested loops then took minutes on a tiny set.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    out = {}
    for code, kpi in kpi_registry().items():
        for by in ((), *((d,) for d in kpi.dims)):
            rows = kpi_compute(kpi=kpi, grain="month", start=date(2024, 1, 1), end=AS_OF, by=by, now=NOW)
            out[code, by] = rows
    return out


def wipe_template_data() -> None:
    """Everything the template carries; accounts, teams and reference data stay."""
    audit_rows_wipe(TicketEvent, RecallEvent)  # append-only rows; a test reset
    RecallUnit.objects.all().delete()
    Recall.objects.all().delete()
    Survey.objects.all().delete()
    Failure.objects.all().delete()
    KpiSnapshot.objects.all().delete()
    Ticket.objects.all().delete()
    Unit.objects.all().delete()
    Batch.objects.all().delete()
    Component.objects.all().delete()
    Supplier.objects.all().delete()
    ProductModel.objects.all().delete()
    Customer.objects.all().delete()


def test_demo_data_exported_and_imported_through_the_web_page_gives_the_same_figures(
    engineer, tmp_path, django_capture_on_commit_callbacks
):
    call_command("seed_demo", "--scale", "tiny", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())
    before = figures()
    assert sum(len(rows) for rows in before.values()) > 500  # a real data set, not an empty one
    counts = {m: m.objects.count() for m in (Customer, Unit, Ticket, Failure, Survey, RecallUnit)}
    call_command("export_data", str(tmp_path / "export"), stdout=io.StringIO())
    wipe_template_data()
    assert figures() != before

    client = client_for(engineer)
    for entity in ENTITY_ORDER:
        content = (tmp_path / "export" / f"{entity}.csv").read_bytes()
        upload = SimpleUploadedFile(f"{entity}.csv", content, content_type="text/csv")
        response = client.post(
            reverse("intake:upload"), {"entity": entity, "mode": "strict", "profile": "", "file": upload}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                response["Location"].split("?")[0],
                {"entity": entity, "profile": "", "mode": "strict", "action": "import"},
            )
        run = ImportRun.objects.get(pk=int(re.search(r"/runs/(\d+)/", response["Location"]).group(1)))
        assert (run.status, run.rejected) == (ImportStatus.SUCCEEDED, 0), (entity, run.message)

    assert {m: m.objects.count() for m in counts} == counts
    after = figures()
    assert after.keys() == before.keys()
    assert [k for k in before if after[k] != before[k]] == []


def test_reference_only_seed_writes_what_the_template_does_not_carry():
    out = io.StringIO()
    call_command("seed_demo", "--scale", "tiny", "--as-of", AS_OF.isoformat(), "--reference-only", stdout=out)
    assert User.objects.filter(username__in=["agent", "supervisor", "manager"]).count() == 3
    assert Team.objects.count() >= 3 and Team.members.through.objects.count() > 0
    assert Region.objects.count() > 0 and ProductLine.objects.count() > 0 and FailureMode.objects.count() > 5
    for model in (Customer, ProductModel, Unit, Ticket, Failure, Survey, Recall):
        assert not model.objects.exists(), model
    assert "tickets.Ticket" not in out.getvalue()
