"""The dashboard pages: login, every role in both languages, the filter state carried by
the query string (and handed to the scripts), the drill-down pages, the catalogue."""

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from quality.kpi.periods import grain_floor
from quality.kpi.registry import kpi_registry
from quality.views import range_dates
from tests.conftest import api_for
from tests.factories import ProductLineFactory, ProductModelFactory, RegionFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["agent", "supervisor", "quality_engineer", "committee_member", "manager", "admin"]
PAGES = [
    ("quality:overview", {}),
    ("quality:catalogue", {}),
    ("quality:kpi", {"code": "csat"}),
    ("quality:records", {"code": "csat"}),
]


@pytest.fixture
def user_with(team_a):
    def make(role):
        user = UserFactory(
            username=f"dash_{role}", roles=[role], is_superuser=role == "admin", is_staff=role == "admin"
        )
        if role in ("agent", "supervisor"):
            team_a.members.add(user)
        return user

    return make


def client_for(user, language="en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def page_config(response) -> dict:
    match = re.search(
        r'<script id="dashboard-config" type="application/json">(.*?)</script>', response.content.decode()
    )
    assert match, "the page has no dashboard-config"
    return json.loads(match.group(1))


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), [*PAGES, ("quality:home", {}), ("quality:records", {"code": "backlog"})])
def test_every_page_needs_a_login(client, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_pages_render_for_every_role_in_both_languages(user_with, role, language, name, kwargs):
    response = client_for(user_with(role), language).get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<html lang="{language}">' in body
    assert "vendor/chart.js/chart.umd.min.js" in body or name == "quality:catalogue"
    if name == "quality:kpi":
        assert ("客户满意度" if language == "zh-hans" else "Customer satisfaction (CSAT)") in body
        config = page_config(response)
        assert config["kpi"]["code"] == "csat" and config["labels"]["target"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("role", ROLES)
def test_home_shows_the_dashboard_of_the_role(user_with, role, language):
    user = user_with(role)
    response = client_for(user, language).get(reverse("quality:home"))
    if role in ("committee_member", "manager", "admin"):
        assert response.status_code == 302
        assert response.url == reverse("quality:overview")
        return
    assert response.status_code == 200
    body = response.content.decode()
    widgets = re.findall(r'data-widget="cards" data-codes="([^"]+)" data-filters="([^"]+)"', body)
    assert widgets
    codes, filters = widgets[0][0].split(","), json.loads(widgets[0][1].replace("&quot;", '"'))
    if role == "agent":
        assert codes == ["first_response_hours", "resolution_hours", "first_time_fix_rate", "sla_compliance", "csat",
                         "backlog"]  # fmt: skip
        assert filters == {"assignee": user.username}
        assert reverse("tickets:queue") in body and 'class="row row-cols-2 row-cols-md-4 g-3 queue-summary"' in body
    elif role == "supervisor":
        assert "csat" in codes and "backlog" in codes and "sla_compliance" in codes
        assert "failures_per_1000" not in codes
        assert filters == {"team": "Team A"}
        assert 'data-kpi="backlog" data-by="assignee"' in body
    else:
        assert codes == [
            "first_failure_rate", "failures_per_1000", "repeat_failure_rate", "recall_completion_rate", "recall_rate"
        ]  # fmt: skip
        assert filters == {}
        assert 'data-widget="breakdown" data-kpi="failures_per_1000" data-by="batch"' in body


def test_home_keeps_the_filters_when_it_sends_to_the_overview(manager):
    response = client_for(manager).get(reverse("quality:home"), {"grain": "week", "region": "East"})
    assert response.status_code == 302
    assert response.url == reverse("quality:overview") + "?grain=week&region=East"


def test_the_navbar_links_to_the_dashboards(agent):
    body = client_for(agent).get(reverse("tickets:queue")).content.decode()
    assert f'href="{reverse("quality:home")}"' in body and "Dashboards" in body


def test_agents_do_not_see_kpis_outside_their_tickets(agent, manager):
    # failures_per_1000 counts units sold, which no ticket scope reaches (the API hides it too).
    for name in ("quality:kpi", "quality:records"):
        url = reverse(name, kwargs={"code": "failures_per_1000"})
        assert client_for(agent).get(url).status_code == 404
        assert client_for(manager).get(url).status_code == 200
    assert api_for(agent).get("/api/v1/kpis/failures_per_1000/values/").status_code == 404
    assert client_for(manager).get(reverse("quality:kpi", kwargs={"code": "no_such_kpi"})).status_code == 404


# --- the filter state -------------------------------------------------------------------------


def test_the_overview_opens_on_the_last_twelve_months():
    start, end = range_dates("last_12_months", dt.date(2026, 11, 23))
    assert (start, end) == (dt.date(2025, 12, 1), dt.date(2026, 12, 1))
    assert range_dates("last_4_quarters", dt.date(2026, 11, 23)) == (dt.date(2026, 1, 1), dt.date(2027, 1, 1))
    assert range_dates("last_13_weeks", dt.date(2026, 11, 25)) == (dt.date(2026, 8, 31), dt.date(2026, 11, 30))
    assert range_dates("last_30_days", dt.date(2026, 11, 23)) == (dt.date(2026, 10, 25), dt.date(2026, 11, 24))


def test_default_state_is_a_relative_range(manager):
    response = client_for(manager).get(reverse("quality:overview"))
    state = page_config(response)["state"]
    today = timezone.localdate()
    start, end = range_dates("last_12_months", today)
    assert state == {
        "range": "last_12_months",
        "grain": "month",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "filters": {},
    }
    assert grain_floor(today, "month") < end


def test_filters_round_trip_into_the_page(manager, team_a):
    RegionFactory(name="East")
    ProductModelFactory(code="WM200", product_line=ProductLineFactory(code="washer", name="Washer"))
    query = {
        "range": "",
        "start": "2026-01-01",
        "end": "2026-04-01",
        "grain": "week",
        "region": "East",
        "product_line": "washer",
        "product_model": "WM200",
        "channel": "phone",
        "team": "Team A",
        "assignee": "bob",  # a drill-down filter: not a field of the bar
    }
    response = client_for(manager).get(reverse("quality:overview"), query)
    assert response.status_code == 200
    state = page_config(response)["state"]
    assert state["range"] == "" and state["grain"] == "week"
    assert (state["start"], state["end"]) == ("2026-01-01", "2026-04-01")
    assert state["filters"] == {
        "region": "East",
        "product_line": "washer",
        "product_model": "WM200",
        "channel": "phone",
        "team": "Team A",
        "assignee": "bob",
    }
    body = response.content.decode()
    for name, value in [("region", "East"), ("product_model", "WM200"), ("channel", "phone"), ("team", "Team A")]:
        assert re.search(rf'<select name="{name}"[^>]*>.*?<option value="{value}" selected>', body, re.S), name
    assert 'name="start" value="2026-01-01"' in body and 'name="end" value="2026-04-01"' in body
    assert '<option value="week" selected>' in body
    # The drill-down filter rides along in the form and shows as a chip that removes it.
    assert '<input type="hidden" name="assignee" value="bob">' in body
    chip = re.search(r'data-chip="assignee".*?href="([^"]+)"', body, re.S).group(1)
    assert "assignee" not in chip and "region=East" in chip


def test_a_member_not_offered_is_kept(manager):
    response = client_for(manager).get(reverse("quality:overview"), {"team": "(none)", "region": "Atlantis"})
    state = page_config(response)["state"]
    assert state["filters"] == {"team": "(none)", "region": "Atlantis"}


def test_a_relative_range_wins_over_dates_and_bad_dates_fall_back(manager):
    client = client_for(manager)
    state = page_config(client.get(reverse("quality:overview"), {"range": "this_year", "start": "2020-01-01"}))["state"]
    year = timezone.localdate().year
    assert (state["start"], state["end"]) == (f"{year}-01-01", f"{year + 1}-01-01")
    assert state["grain"] == "month"

    response = client.get(reverse("quality:overview"), {"start": "2026-05-01", "end": "2026-02-01"})
    state = page_config(response)["state"]
    assert state["range"] == "last_12_months"
    assert "The end must be after the start." in response.content.decode()

    state = page_config(client.get(reverse("quality:overview"), {"grain": "decade", "start": "nonsense"}))["state"]
    assert state["grain"] == "month" and state["range"] == "last_12_months"


def test_htmx_gets_the_dashboard_body_only(manager):
    response = client_for(manager).get(
        reverse("quality:overview"), {"grain": "quarter"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body and 'data-widget="cards"' in body
    assert page_config(response)["state"]["grain"] == "quarter"
    assert "HX-Request" in response["Vary"]


def test_the_page_state_is_what_the_api_accepts(manager):
    """The scripts send the page's state to the API as it is: it must be a valid request."""
    config = page_config(client_for(manager).get(reverse("quality:overview"), {"region": "East", "grain": "week"}))
    state = config["state"]
    params = {"grain": state["grain"], "start": state["start"], "end": state["end"], **state["filters"]}
    response = api_for(manager).get(config["api"]["overview"], params)
    assert response.status_code == 200, response.content
    values = config["api"]["values"].replace("__code__", "csat")
    assert api_for(manager).get(values, {**params, "by": "team"}).status_code == 200


def test_pages_compute_nothing(manager):
    """The values come from the API; a page reads only the catalogue and the choices."""
    client = client_for(manager)
    client.get(reverse("quality:overview"))  # session, content types
    for name, kwargs in PAGES:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(name, kwargs=kwargs)).status_code == 200
        assert len(queries) <= 12, [q["sql"] for q in queries]


# --- the KPI page and the record list ---------------------------------------------------------


def test_kpi_page_offers_the_kpis_dimensions_and_its_definition(manager):
    response = client_for(manager).get(reverse("quality:kpi", kwargs={"code": "failures_per_1000"}))
    body = response.content.decode()
    config = page_config(response)
    kpi = kpi_registry()["failures_per_1000"]
    assert config["kpi"]["dims"] == list(kpi.dims)
    assert config["state"]["by"] == kpi.dims[0]
    assert config["state"]["pareto"] == "failure_mode"
    assert kpi.definition_en in body and kpi.definition_zh in body
    for widget in ("trend", "breakdown", "pareto"):
        assert f'data-widget="{widget}"' in body
    assert body.count('data-export="csv"') == 3 and body.count('data-export="xlsx"') == 3
    # The bar offers only the dimensions this KPI has: no channel, no team.
    assert 'name="region"' in body and 'name="channel"' not in body and 'name="team"' not in body


def test_kpi_page_drops_filters_the_kpi_cannot_take(manager):
    query = {"team": "Team A", "region": "East", "by": "segment", "pareto": "nonsense", "period": "2024-02-01"}
    response = client_for(manager).get(reverse("quality:kpi", kwargs={"code": "complaint_rate"}), query)
    state = page_config(response)["state"]
    assert state["filters"] == {"region": "East"}
    assert state["by"] == "segment" and state["pareto"] == "segment"  # region is filtered: segment is left
    assert state["period"] == ""  # not a period of the default range
    assert "cannot be sliced by" in response.content.decode()


def test_kpi_page_keeps_a_period_of_the_range_and_the_drill_state(manager):
    query = {"start": "2026-01-01", "end": "2026-07-01", "grain": "month", "period": "2026-03-01",
             "region": "East", "team": "Team A", "by": "assignee", "pareto": "channel"}  # fmt: skip
    response = client_for(manager).get(reverse("quality:kpi", kwargs={"code": "backlog"}), query)
    state = page_config(response)["state"]
    assert state["period"] == "2026-03-01" and state["by"] == "assignee" and state["pareto"] == "channel"
    body = response.content.decode()
    # by and pareto survive a change of the filter bar.
    assert 'name="by" value="assignee" data-keep="by"' in body
    assert 'name="pareto" value="channel" data-keep="pareto"' in body
    assert 'data-chip="team"' not in body  # team is a field of the bar, not a chip


@pytest.mark.parametrize(
    ("code", "side", "sides"),
    [("failures_per_1000", "numerator", 2), ("csat", "denominator", 2), ("backlog", "numerator", 0)],
)
def test_record_list_picks_a_side_and_a_period(manager, code, side, sides):
    url = reverse("quality:records", kwargs={"code": code})
    response = client_for(manager).get(url, {"start": "2026-01-01", "end": "2026-04-01", "grain": "month"})
    state = page_config(response)["state"]
    assert state["side"] == side
    assert state["period_start"] == "2026-03-01"  # the last period of the range
    assert response.content.decode().count("data-side=") == sides


def test_record_list_state_is_what_the_records_api_accepts(manager):
    url = reverse("quality:records", kwargs={"code": "backlog"})
    query = {"start": "2026-01-01", "end": "2026-04-01", "grain": "month", "period_start": "2026-02-01",
             "team": "Team A", "side": "denominator", "page": "2"}  # fmt: skip
    response = client_for(manager).get(url, query)
    config = page_config(response)
    state = config["state"]
    assert state["period_start"] == "2026-02-01" and state["side"] == "numerator" and state["page"] == 2
    assert state["filters"] == {"team": "Team A"}
    body = response.content.decode()
    assert 'data-chip="team"' in body
    back = re.search(r'href="(/dashboards/kpi/backlog/\?[^"]+)"', body).group(1)
    assert "period=2026-02-01" in back and "period_start" not in back and "page" not in back
    records = config["api"]["records"].replace("__code__", "backlog")
    params = {key: state[key] for key in ("grain", "period_start", "start", "end", "side")}
    response = api_for(manager).get(records, {**params, **state["filters"], "page_size": config["page_size"]})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0


# --- the catalogue ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["agent", "manager"])
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_catalogue_lists_every_kpi_of_the_api(user_with, role, language):
    user = user_with(role)
    api = api_for(user).get("/api/v1/kpis/").json()
    response = client_for(user, language).get(reverse("quality:catalogue"))
    body = response.content.decode()
    listed = re.findall(r'<tr id="kpi-[^"]+" data-kpi="([^"]+)">', body)
    assert sorted(listed) == sorted(kpi["code"] for kpi in api)
    assert len(listed) == len(set(listed))
    for kpi in api:
        # Both names and the definition in both languages, side by side.
        for text in (kpi["name_en"], kpi["name_zh"], kpi["definition_en"], kpi["definition_zh"]):
            assert str(escape(text)) in body, (kpi["code"], text)
    if role == "agent":
        assert "failures_per_1000" not in listed and "csat" in listed


def escape(text):
    from django.utils.html import escape as html_escape

    return html_escape(text)


def test_team_choices_follow_the_users_scope(agent, manager, team_b):
    TeamFactory(name="Team C")
    agent_body = client_for(agent).get(reverse("quality:overview")).content.decode()
    manager_body = client_for(manager).get(reverse("quality:overview")).content.decode()
    assert '<option value="Team A">' in agent_body and '<option value="Team B">' not in agent_body
    assert '<option value="Team B">' in manager_body and '<option value="Team C">' in manager_body


def test_chips_name_members_as_people_read_them(manager):
    response = client_for(manager).get(reverse("quality:overview"), {"type": "complaint", "assignee": "(none)"})
    body = response.content.decode()
    chips = dict(re.findall(r'data-chip="(\w+)">.*?</span>\s*([^<]+?)\s*<a', body, re.S))
    assert chips == {"type": "Complaint", "assignee": "(none)"}
    assert page_config(response)["state"]["filters"] == {"type": "complaint", "assignee": "(none)"}
