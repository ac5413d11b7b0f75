"""Region matching (METRICS.md): trimmed, inner whitespace collapsed, case-folded key;
the alias table first; an unknown key becomes its own region labelled with the first
spelling seen (trimmed)."""

import threading

import pytest
from django.db import connection

from catalog.models import Region, RegionAlias, region_key
from catalog.services import region_resolve


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("East", "east"),
        (" east ", "east"),
        ("EAST", "east"),
        ("east  china", "east china"),
        ("\tEast \n China ", "east china"),
        ("Straße", "strasse"),  # case-folded, not just lower-cased
        ("华东", "华东"),
        ("", ""),
        (None, ""),
    ],
)
def test_region_key(spelling, key):
    assert region_key(spelling) == key


@pytest.mark.django_db
def test_spellings_of_one_key_share_one_region():
    east = region_resolve(name="East")
    assert (east.key, east.name) == ("east", "East")
    for spelling in [" east ", "EAST", "east", "\teAsT\n"]:
        assert region_resolve(name=spelling).pk == east.pk
    east.refresh_from_db()
    assert east.name == "East"  # the first spelling stays the label
    assert Region.objects.count() == 1


@pytest.mark.django_db
def test_an_alias_resolves_to_its_region():
    east = region_resolve(name="East")
    RegionAlias.objects.create(key="华东", region=east)
    RegionAlias.objects.create(key="  East   China ", region=east)  # stored by its key
    assert set(RegionAlias.objects.values_list("key", flat=True)) == {"华东", "east china"}

    assert region_resolve(name="华东").pk == east.pk
    assert region_resolve(name=" 华东 ").pk == east.pk
    assert region_resolve(name="east  china").pk == east.pk
    assert region_resolve(name="EAST CHINA").pk == east.pk
    assert Region.objects.count() == 1


@pytest.mark.django_db
def test_the_alias_table_wins_over_a_region_of_the_same_key():
    east = region_resolve(name="East")
    stray = region_resolve(name="East China")  # imported before the alias was configured
    assert stray.pk != east.pk
    RegionAlias.objects.create(key="east china", region=east)
    assert region_resolve(name="East China").pk == east.pk


@pytest.mark.django_db
def test_an_unknown_spelling_creates_its_region_labelled_with_the_first_spelling_trimmed():
    first = region_resolve(name="  North-West  ")
    assert (first.key, first.name) == ("north-west", "North-West")
    second = region_resolve(name="NORTH-WEST")
    assert second.pk == first.pk
    assert Region.objects.get(pk=first.pk).name == "North-West"

    inner = region_resolve(name=" South  West ")
    assert (inner.key, inner.name) == ("south west", "South  West")  # trimmed only, as the contract says
    assert region_resolve(name="south west").pk == inner.pk
    assert sorted(Region.objects.values_list("key", flat=True)) == ["north-west", "south west"]


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["", "   ", "\t\n"])
def test_an_empty_name_is_refused(spelling):
    with pytest.raises(ValueError, match="empty"):
        region_resolve(name=spelling)
    assert Region.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_first_spellings_create_one_region():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite serialises writers); set DATABASE_URL")
    barrier = threading.Barrier(10)
    results: list = [None] * 10
    spellings = ["Central", "central", " CENTRAL ", "Central ", "cEntral"] * 2

    def work(i):
        try:
            barrier.wait(timeout=30)
            results[i] = region_resolve(name=spellings[i]).pk
        except BaseException as error:  # noqa: BLE001 - reported below
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [r for r in results if not isinstance(r, int)] == []
    assert len(set(results)) == 1
    assert Region.objects.filter(key="central").count() == 1
