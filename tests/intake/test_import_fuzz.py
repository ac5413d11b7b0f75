"""Property: whatever a file or a record batch holds (random text, numbers, dates, nulls in
every column of tickets and customers, headers in any order and case, unknown columns),
the importer does not crash. It returns a finished run whose created + updated +
unchanged + rejected equals its rows."""

import csv
import datetime as dt
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.contract import ENTITIES
from intake.models import ImportStatus
from intake.services import import_file, import_records, import_run_summary
from tests.intake.import_helpers import make_master

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FINISHED = {ImportStatus.SUCCEEDED, ImportStatus.REJECTED}

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
short = st.text(alphabet=string.ascii_letters + string.digits + " -_.:+T", max_size=30)
cells = st.one_of(
    st.none(),
    text,
    short,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates().map(dt.date.isoformat),
    st.datetimes(timezones=st.none() | st.timezones()).map(dt.datetime.isoformat),
    st.sampled_from(
        ["C1", "C2", "T1", "T2", "U1", "East", "华东", "repair", "wechat", "normal", "li.na", "East Service", "x" * 300]
    ),
)


def _columns(entity: str):
    names = [c.name for c in ENTITIES[entity].columns]
    extra = st.lists(st.sampled_from(["notes", "Colour", "", "external id"]), max_size=2)
    return st.tuples(st.permutations(names), st.lists(st.booleans(), min_size=len(names), max_size=len(names)), extra)


def _header(draw_columns):
    """A random header: the entity's columns in any order, some dropped, random case."""
    order, keep, extra = draw_columns
    header = []
    for name, kept in zip(order, keep, strict=True):
        if kept or name in ("external_id", "customer", "created_at"):
            header.append(name.upper() if len(name) % 2 else f" {name.title()} ")
    return header + extra


@pytest.fixture
def master(db):
    return make_master()


def _check(run):
    summary = import_run_summary(run)
    assert run.status in FINISHED
    if run.status == ImportStatus.REJECTED:
        # A rejected file wrote nothing: no row counts as created, updated or unchanged.
        assert summary["created"] == summary["updated"] == summary["unchanged"] == 0
        assert summary["rejected"] >= 1 or run.errors.filter(row=0).exists()
    else:
        assert summary["created"] + summary["updated"] + summary["unchanged"] + summary["rejected"] == run.rows
    assert run.finished_at is not None


@pytest.mark.parametrize("entity", ["customers", "tickets"])
def test_random_files_never_crash_the_importer(master, tmp_path, entity):
    @FUZZ
    @given(columns=_columns(entity), data=st.data(), lenient=st.booleans())
    def check(columns, data, lenient):
        header = _header(columns)
        rows = data.draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=6))
        path = tmp_path / f"{entity}.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows([["" if c is None else str(c) for c in row] for row in rows])
        run = import_file(entity=entity, path=path, mode="lenient" if lenient else "strict")
        _check(run)

    check()


@pytest.mark.parametrize("entity", ["customers", "tickets"])
def test_random_records_never_crash_the_importer(master, entity):
    @FUZZ
    @given(columns=_columns(entity), data=st.data(), lenient=st.booleans())
    def check(columns, data, lenient):
        header = _header(columns)
        records = data.draw(st.lists(st.fixed_dictionaries({name: cells for name in header}) | cells, max_size=6))
        run = import_records(entity=entity, records=records, mode="lenient" if lenient else "strict")
        assert run.rows == len(records)
        _check(run)

    check()
