"""`manage.py import_data` (INTERFACES.md): exit codes 0/1/2, the exact --json object,
the readable summary and --dir in contract order."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Customer
from intake.models import ImportRun, MappingProfile
from tests.intake.import_helpers import make_master, write_csv
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TICKETS = ["external_id", "customer", "type", "channel", "subject", "created_at"]


@pytest.fixture
def master(db):
    return make_master()


def run_command(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("import_data", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_json_output_is_the_interfaces_object(tmp_path, master):
    path = write_csv(
        tmp_path / "tickets.csv",
        TICKETS,
        [
            ["T1", "C1", "repair", "phone", "No water", "2025-03-01T09:00:00+08:00"],
            ["T2", "C1", "repair", "phone", "Noise", "2025-13-01"],
            ["T3", "C2", "inquiry", "web", "Manual", "2025-03-02"],
        ],
    )

    code, out, _err = run_command("tickets", str(path), "--mode", "lenient", "--json")

    assert code == 0
    assert json.loads(out) == {
        "entity": "tickets",
        "file": "tickets.csv",
        "mode": "lenient",
        "rows": 3,
        "created": 2,
        "updated": 0,
        "rejected": 1,
        "errors": [{"row": 2, "column": "created_at", "value": "2025-13-01", "reason": "not a valid timestamp"}],
        "unchanged": 0,
        "status": "succeeded",
        "warnings": [],
    }
    assert Ticket.objects.count() == 2


def test_strict_rejection_exits_1_and_writes_nothing(tmp_path, master):
    path = write_csv(
        tmp_path / "tickets.csv",
        TICKETS,
        [["T1", "C1", "repair", "phone", "ok", "2025-03-01"], ["T2", "C404", "repair", "phone", "x", "2025-03-01"]],
    )

    code, out, _err = run_command("tickets", str(path), "--json")

    assert code == 1
    summary = json.loads(out)
    assert (summary["status"], summary["created"], summary["rejected"]) == ("rejected", 0, 1)
    assert summary["errors"] == [{"row": 2, "column": "customer", "value": "C404", "reason": "unknown customer “C404”"}]
    assert Ticket.objects.count() == 0


def test_a_clean_dry_run_exits_0_and_a_dirty_one_1(tmp_path, master):
    good = write_csv(tmp_path / "good.csv", TICKETS, [["T1", "C1", "repair", "phone", "ok", "2025-03-01"]])
    bad = write_csv(tmp_path / "bad.csv", TICKETS, [["T1", "C1", "repair", "phone", "ok", "March"]])

    assert run_command("tickets", str(good), "--dry-run")[0] == 0
    assert run_command("tickets", str(bad), "--dry-run")[0] == 1
    assert Ticket.objects.count() == 0
    assert set(ImportRun.objects.values_list("status", flat=True)) == {"dry_run"}


@pytest.mark.parametrize(
    "args",
    [
        ("gadgets", "x.csv"),  # unknown entity
        ("tickets", "does-not-exist.csv"),  # missing file
        ("tickets",),  # no file
        (),  # nothing
        ("tickets", "x.csv", "--dir", "."),  # both
        ("tickets", "__FILE__", "--profile", "nope"),  # unknown profile
    ],
)
def test_usage_errors_exit_2(tmp_path, master, args):
    path = write_csv(tmp_path / "t.csv", TICKETS, [])
    args = [str(path) if a == "__FILE__" else a for a in args]

    code, _out, _err = run_command(*args)

    assert code == 2
    assert ImportRun.objects.count() == 0


def test_a_profile_for_another_entity_is_a_usage_error(tmp_path, master):
    MappingProfile.objects.create(name="crm", entity="customers")
    path = write_csv(tmp_path / "t.csv", TICKETS, [])

    assert run_command("tickets", str(path), "--profile", "crm")[0] == 2


def test_the_readable_summary_lists_the_first_20_errors(tmp_path, master):
    rows = [[f"T{n}", "C1", "repair", "phone", "x", "bad"] for n in range(25)]
    path = write_csv(tmp_path / "tickets.csv", TICKETS, rows)

    code, out, _err = run_command("tickets", str(path), "--mode", "lenient")

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "tickets.csv (tickets, lenient): succeeded — 25 rows, 0 created, 0 updated, 0 unchanged, 25 rejected"
    )
    assert lines[1] == "  row 1, created_at = 'bad': not a valid timestamp"
    assert len([line for line in lines if line.startswith("  row ")]) == 20
    assert lines[-1] == "  ... 5 more (see the import history)"


def test_dir_imports_every_file_in_contract_order(tmp_path, master):
    write_csv(tmp_path / "tickets.csv", TICKETS, [["T1", "C77", "repair", "phone", "x", "2025-03-01"]])
    write_csv(
        tmp_path / "customers.csv",
        ["external_id", "name", "region", "created_at"],
        [["C77", "New", "East", "2025-01-01"]],
    )
    write_csv(tmp_path / "notes.csv", ["anything"], [["ignored"]])

    code, out, _err = run_command("--dir", str(tmp_path), "--json")

    assert code == 0
    summaries = json.loads(out)
    assert [(s["entity"], s["file"], s["created"]) for s in summaries] == [
        ("customers", "customers.csv", 1),
        ("tickets", "tickets.csv", 1),
    ]
    assert Ticket.objects.get().customer == Customer.objects.get(external_id="C77")


def test_dir_exits_1_when_one_file_is_rejected(tmp_path, master):
    write_csv(
        tmp_path / "customers.csv", ["external_id", "name", "region", "created_at"], [["C77", "New", "East", "x"]]
    )
    write_csv(tmp_path / "tickets.csv", TICKETS, [["T1", "C1", "repair", "phone", "x", "2025-03-01"]])

    code, out, _err = run_command("--dir", str(tmp_path), "--json")

    assert code == 1
    assert [s["status"] for s in json.loads(out)] == ["rejected", "succeeded"]


def test_the_command_line_exit_codes(tmp_path):
    """The real process: argparse and CommandError map to 2 and 1 (no database needed for
    usage errors)."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "VAR_DIR": str(tmp_path)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", "import_data", *args], cwd=ROOT, env=env, capture_output=True, text=True
        ).returncode

    assert run("tickets", "nope.csv") == 2
    assert run("tickets", "x.csv", "--mode", "sloppy") == 2
    assert run("gadgets", "x.csv") == 2
