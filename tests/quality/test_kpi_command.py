"""`manage.py kpi` (INTERFACES.md): --json is the REST body, text mode prints the rows,
usage errors exit with 2."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import api_for
from tests.quality import kpi_fixtures
from tests.quality.kpi_fixtures import EXPECTED, assert_rows

# The shared fixtures (kpi_fixtures.py), under their own names for pytest.
kpi_settings = kpi_fixtures.kpi_settings
world = kpi_fixtures.world

ARGS = ["--grain", "month", "--start", "2026-01-01", "--end", "2026-03-01"]
JSON_KEYS = {"kpi", "grain", "unit", "direction", "start", "end", "by", "rows"}
ROW_EXTRAS = ("target", "status")


def kpi(*args) -> str:
    out = io.StringIO()
    call_command("kpi", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("code", "by"),
    [
        ("csat", ()),
        ("csat", ("region",)),
        ("failures_per_1000", ("product_model", "component")),
        ("backlog", ("team",)),
        ("repeat_failure_rate", ("component",)),
        ("first_response_hours", ("channel",)),
    ],
)
def test_json_equals_the_api_body(world, manager, code, by):
    by_arg = ["--by", ",".join(by)] if by else []
    printed = json.loads(kpi(code, *ARGS, *by_arg, "--json"))
    assert set(printed) == JSON_KEYS
    api = api_for(manager).get(
        f"/api/v1/kpis/{code}/values/",
        {"grain": "month", "start": "2026-01-01", "end": "2026-03-01", "by": ",".join(by)},
    )
    body = api.json()
    body = {k: v for k, v in body.items() if k in JSON_KEYS}
    body["rows"] = [{k: v for k, v in row.items() if k not in ROW_EXTRAS} for row in body["rows"]]
    assert printed == body
    assert_rows(printed["rows"], EXPECTED[(code, by)])


def test_json_shape_of_a_row(world):
    printed = json.loads(kpi("csat", *ARGS, "--by", "region", "--json"))
    assert printed["by"] == ["region"]
    assert list(printed["rows"][0]) == ["period_start", "region", "value", "numerator", "denominator", "provisional"]
    assert printed["rows"][0] == {
        "period_start": "2026-01-01",
        "region": "East",
        "value": 50.0,
        "numerator": 1,
        "denominator": 2,
        "provisional": False,
    }


def test_text_mode_prints_one_line_per_row(world):
    out = kpi("first_response_hours", *ARGS)
    lines = out.strip().splitlines()
    assert lines[0].startswith("first_response_hours")
    assert len(lines) == 3
    assert lines[1].startswith("2026-01-01") and "3.7500" in lines[1] and "(15.0/4)" in lines[1]
    assert lines[2].startswith("2026-02-01") and "2.0000" in lines[2] and "(4.0/2)" in lines[2]


def test_text_mode_shows_members_and_missing_values(world):
    out = kpi("failures_per_1000", *ARGS, "--by", "product_model")
    assert any("R1" in line and " - " in line for line in out.splitlines())  # value None
    assert any("M2" in line and "2000.0000" in line for line in out.splitlines())


@pytest.mark.parametrize(
    "args",
    [
        ["complaint_rate", *ARGS, "--by", "channel"],
        ["csat", *ARGS, "--by", "component"],
        ["recall_rate", *ARGS, "--by", "region,segment"],
        ["csat", *ARGS, "--by", "region,region"],
        ["no_such_kpi", *ARGS],
        ["csat", "--grain", "month", "--start", "2026-03-01", "--end", "2026-01-01"],
        ["csat", "--grain", "month", "--start", "2026-13-01", "--end", "2026-03-01"],
        ["csat", "--grain", "month", "--start", "0001-01-01", "--end", "2026-03-01"],
    ],
)
def test_usage_errors_exit_with_2(world, args):
    with pytest.raises(CommandError) as caught:
        kpi(*args)
    assert caught.value.returncode == 2
    assert str(caught.value)


def test_unsupported_dimension_message(world):
    with pytest.raises(CommandError) as caught:
        kpi("complaint_rate", *ARGS, "--by", "channel")
    assert "channel" in str(caught.value) and "region" in str(caught.value)
