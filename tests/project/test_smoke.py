import pytest

from tests.conftest import api_for


@pytest.mark.django_db
def test_ticket_list_api_answers_for_an_agent(agent):
    response = api_for(agent).get("/api/v1/tickets/")
    assert response.status_code == 200
    assert response.json()["count"] == 0
