# ruff: noqa: F811  (fixtures imported from pages_fixtures are redefined as test arguments)
"""The issue's edit page (/improvements/issues/<pk>/edit/): prefilled with the problem's
fields, saved through issue_update; a refusal shows its reasons and writes nothing;
quality engineers and committee members only, and only while the issue is open."""

from __future__ import annotations

import pytest
from django.urls import reverse

from improvements.models import ImprovementEvent, ImprovementIssue, State
from tests.factories import FailureModeFactory, ProductModelFactory

from .conftest import T0, advance
from .pages_fixtures import batch, client_for  # noqa: F401

pytestmark = pytest.mark.django_db


def edit_url(issue):
    return reverse("improvements:issue-edit", args=[issue.pk])


def form_data(issue, **changes) -> dict:
    """What the page posts when nothing is touched, with `changes` applied."""
    data = {
        "title": issue.title,
        "description": issue.description,
        "severity": issue.severity,
        "owner": issue.owner_id or "",
        "team": issue.team_id or "",
        "product_line": issue.product_line_id or "",
        "product_model": issue.product_model_id or "",
        "batches": ", ".join(issue.batches.order_by("code").values_list("code", flat=True)),
        "component": issue.component_id or "",
        "supplier": issue.supplier_id or "",
        "region": issue.region_id or "",
        "failure_mode": issue.failure_mode_id or "",
        "baseline_kpi": issue.baseline_kpi,
    }
    data.update(changes)
    return data


def snapshot(issue) -> tuple:
    issue.refresh_from_db()
    return (
        issue.title,
        issue.severity,
        issue.product_line_id,
        issue.product_model_id,
        issue.failure_mode_id,
        issue.baseline_kpi,
        sorted(issue.batches.values_list("code", flat=True)),
        issue.events.count(),
    )


def test_the_page_is_prefilled_and_the_issue_page_links_to_it(issue, engineer, batch):
    issue.batches.add(batch)
    client = client_for(engineer)
    detail = client.get(reverse("improvements:issue-detail", args=[issue.pk])).content.decode()
    assert 'id="issue-edit"' in detail and edit_url(issue) in detail
    response = client.get(edit_url(issue))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="issue-edit-form"' in html
    assert 'value="Bearing noise"' in html and 'value="WM-L15"' in html
    # The create form's source and evidence fields are not on the edit page.
    assert 'name="source"' not in html and 'name="tickets"' not in html


def test_edit_through_the_page_sets_the_failure_mode_and_scope(issue, engineer, batch):
    """An issue made from a batch alert has no failure mode: the engineer sets it here."""
    mode = FailureModeFactory(code="MECH-BEARING")
    client = client_for(engineer)
    response = client.post(
        edit_url(issue),
        form_data(
            issue,
            title="Bearing noise on WM-L15",
            severity="critical",
            failure_mode=mode.pk,
            batches="WM-L15",
            baseline_kpi="failures_per_1000",
        ),
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("improvements:issue-detail", args=[issue.pk])
    assert "was saved" in response.content.decode()
    issue.refresh_from_db()
    assert issue.title == "Bearing noise on WM-L15"
    assert issue.severity == "critical"
    assert issue.failure_mode == mode
    assert issue.baseline_kpi == "failures_per_1000"
    assert list(issue.batches.values_list("code", flat=True)) == ["WM-L15"]
    event = issue.events.filter(kind="updated").get()
    assert event.actor == engineer
    for name in ("title", "severity", "failure_mode", "baseline_kpi", "batches"):
        assert name in event.comment


def test_saving_unchanged_batches_does_not_log_them(issue, engineer, batch):
    issue.batches.add(batch)
    client_for(engineer).post(edit_url(issue), form_data(issue, title="Bearing noise, drum side"))
    assert ImprovementEvent.objects.get(issue=issue, kind="updated").comment == "title"


def test_product_line_is_filled_from_the_model(issue, engineer):
    model = ProductModelFactory(code="WX300")
    client_for(engineer).post(edit_url(issue), form_data(issue, product_model=model.pk, product_line=""))
    issue.refresh_from_db()
    assert issue.product_model == model
    assert issue.product_line == model.product_line and issue.product_line is not None


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"title": ""}, "title", "This field is required."),
        ({"batches": "WM-L15, NOPE-1"}, "batches", "Not found: NOPE-1."),
        ({"severity": "apocalyptic"}, "severity", "Select a valid choice."),
    ],
)
def test_a_validation_error_is_shown_and_nothing_is_written(issue, engineer, batch, changes, field, reason):
    before = snapshot(issue)
    response = client_for(engineer).post(edit_url(issue), form_data(issue, **{"title": "Renamed", **changes}))
    assert response.status_code == 200
    html = response.content.decode()
    assert reason in html and f'name="{field}"' in html
    assert snapshot(issue) == before


def test_a_service_refusal_is_shown_on_its_field(issue, engineer, monkeypatch):
    """The service's check behind the form's (an unknown KPI): its reason on the field,
    its message on top, nothing written."""
    from improvements import forms as forms_module

    monkeypatch.setattr(
        forms_module.IssueEditForm,
        "service_kwargs",
        lambda self: {"title": "Renamed", "baseline_kpi": "no_such_kpi"},
    )
    before = snapshot(issue)
    response = client_for(engineer).post(edit_url(issue), form_data(issue, title="Renamed"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The improvement issue was not changed." in html
    assert "Unknown KPI “no_such_kpi”." in html
    assert snapshot(issue) == before


def test_a_manager_reads_the_issue_but_may_not_edit_it(issue, manager):
    client = client_for(manager)
    detail = client.get(reverse("improvements:issue-detail", args=[issue.pk]))
    assert detail.status_code == 200 and 'id="issue-edit"' not in detail.content.decode()
    before = snapshot(issue)
    assert client.get(edit_url(issue)).status_code == 403
    assert client.post(edit_url(issue), form_data(issue, title="Renamed")).status_code == 403
    assert snapshot(issue) == before


def test_the_committee_may_edit(issue, committee):
    response = client_for(committee).post(edit_url(issue), form_data(issue, severity="minor"))
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.severity == "minor"


def test_a_closed_issue_is_refused(issue, engineer, committee):
    issue = advance(issue, State.CLOSED, actor=engineer, committee=committee)
    client = client_for(engineer)
    detail = client.get(reverse("improvements:issue-detail", args=[issue.pk])).content.decode()
    assert 'id="issue-edit"' not in detail
    # The page itself sends back to the issue with the reason.
    response = client.get(edit_url(issue), follow=True)
    assert response.redirect_chain[-1][0] == reverse("improvements:issue-detail", args=[issue.pk])
    assert "A closed issue cannot be edited; reopen it first." in response.content.decode()
    # A POST (a page opened before the closure) gets the service's 409.
    before = snapshot(issue)
    response = client.post(edit_url(issue), form_data(issue, title="Renamed"))
    assert response.status_code == 409
    assert "A closed issue cannot be edited; reopen it first." in response.content.decode()
    assert snapshot(issue) == before
    assert ImprovementIssue.objects.get(pk=issue.pk).state == State.CLOSED


def test_an_issue_out_of_scope_is_a_404(engineer, committee):
    from improvements.services.issues import issue_create
    from tests.factories import UserFactory

    agent = UserFactory(username="someone", roles=["agent"])
    issue = issue_create(title="Door seal leaks", actor=committee, owner=committee, at=T0)
    assert client_for(agent).get(edit_url(issue)).status_code == 404
