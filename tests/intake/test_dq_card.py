"""The data-quality score intake registers into the KPI cards (quality's provider hook)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intake.selectors import data_quality_card, data_quality_score
from quality.kpi.registry import kpi_lookup
from quality.selectors import kpi_data_quality
from tests.factories import CustomerFactory, TicketFactory

pytestmark = [pytest.mark.django_db]


def test_a_kpi_gets_the_score_of_the_entity_its_records_come_from():
    TicketFactory(description="")  # an empty optional column lowers completeness
    TicketFactory(description="noisy fan")
    card = kpi_data_quality(kpi_lookup("backlog"))
    assert card is not None
    assert card["entity"] == "tickets"
    assert card["score"] == data_quality_score(entity="tickets") < 100
    assert card["url"].endswith("?entity=tickets")


def test_no_card_without_records_or_for_a_model_outside_the_template():
    assert data_quality_card("tickets.Ticket") is None  # no tickets yet
    CustomerFactory()
    assert data_quality_card("tickets.Team") is None
    assert data_quality_card("catalog.Customer")["entity"] == "customers"


def test_the_score_is_cached_so_the_overview_does_not_rescan_the_table():
    CustomerFactory()
    first = data_quality_card("catalog.Customer")
    with CaptureQueriesContext(connection) as queries:
        assert data_quality_card("catalog.Customer") == first
    assert len(queries) == 0
