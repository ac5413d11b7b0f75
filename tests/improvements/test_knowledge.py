"""The knowledge base: search, suggestions on an open issue, the page and the API."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from improvements.knowledge import knowledge_search, knowledge_suggestions
from improvements.models import Action, Cause, ImprovementIssue, State, Verification
from tests.conftest import api_for
from tests.factories import ComponentFactory, FailureModeFactory, ProductModelFactory, UserFactory

SH = ZoneInfo("Asia/Shanghai")


def t(*args):
    return dt.datetime(*args, tzinfo=SH)


@pytest.fixture
def kb(db):
    bearing = FailureModeFactory(code="BEARING", name_en="Bearing wear")
    seal = FailureModeFactory(code="SEAL", name_en="Seal leak")
    brg = ComponentFactory(code="BRG-02")
    other = ComponentFactory(code="BRG-09")
    wm = ProductModelFactory(code="WM200")
    owner = UserFactory(username="qe", roles=["quality_engineer"])

    def closed(code, *, mode, component=None, closed_at, title="Issue"):
        return ImprovementIssue.objects.create(
            code=code,
            title=title,
            state=State.CLOSED,
            failure_mode=mode,
            component=component,
            product_model=wm,
            product_line=wm.product_line,
            detected_at=t(2024, 1, 1),
            closed_at=closed_at,
            owner=owner,
        )

    old = closed("IMP-1", mode=bearing, component=other, closed_at=t(2024, 6, 1), title="Noisy drum")
    new = closed("IMP-2", mode=bearing, component=brg, closed_at=t(2024, 9, 1), title="Bearing wear of lot 15")
    other_mode = closed("IMP-3", mode=seal, closed_at=t(2024, 10, 1), title="Door seal leaks")
    Cause.objects.create(
        issue=old, category="technology", description="Grease dried out", verified=True, evidence="lab"
    )
    Cause.objects.create(issue=new, category="people", description="Not the cause", verified=False)
    Cause.objects.create(
        issue=new, category="technology", description="Undersized cage", verified=True, evidence="teardown of 12 units"
    )
    Action.objects.create(
        issue=new,
        kind="corrective",
        title="Replace supplier HLB",
        owner=owner,
        due_on=dt.date(2024, 7, 1),
        current_due_on=dt.date(2024, 7, 1),
        status="done",
        completed_on=dt.date(2024, 7, 1),
    )
    Action.objects.create(
        issue=new,
        kind="preventive",
        title="Dropped idea",
        owner=owner,
        due_on=dt.date(2024, 7, 1),
        current_due_on=dt.date(2024, 7, 1),
        status="cancelled",
    )
    window = dict(
        kpi="failures_per_1000",
        before_start=dt.date(2024, 1, 1),
        before_end=dt.date(2024, 4, 1),
        after_start=dt.date(2024, 7, 1),
        after_end=dt.date(2024, 8, 1),
        test="poisson_rate_ratio",
    )
    Verification.objects.create(issue=new, verdict="not_effective", created_at=t(2024, 8, 1), **window)
    Verification.objects.create(
        issue=new,
        verdict="effective",
        before_value=120.0,
        after_value=20.0,
        p_value=0.001,
        created_at=t(2024, 8, 20),
        **window,
    )
    opened = ImprovementIssue.objects.create(
        code="IMP-9", title="Bearings again", state=State.TRIAGE, failure_mode=bearing, component=other, owner=owner
    )
    return {"old": old, "new": new, "seal": other_mode, "open": opened, "owner": owner}


def codes(issues):
    return [i.code for i in issues]


def test_search_by_keywords_scope_and_annotations(kb):
    assert codes(knowledge_search()) == ["IMP-3", "IMP-2", "IMP-1"]  # closed only, newest first
    assert codes(knowledge_search(q="cage")) == ["IMP-2"]  # a verified cause's description
    assert codes(knowledge_search(q="teardown")) == ["IMP-2"]  # its evidence
    assert codes(knowledge_search(q="supplier hlb")) == ["IMP-2"]  # an action's title, every word
    assert codes(knowledge_search(q="drum")) == ["IMP-1"]
    assert codes(knowledge_search(q="nothing-like-this")) == []
    assert codes(knowledge_search(failure_mode="BEARING")) == ["IMP-2", "IMP-1"]
    assert codes(knowledge_search(component="BRG-02")) == ["IMP-2"]
    assert codes(knowledge_search(product_model="WM200", failure_mode="SEAL")) == ["IMP-3"]
    [found] = knowledge_search(q="cage")
    assert found.verdict == "effective"  # the latest verification
    assert (found.verified_before, found.verified_after) == (120.0, 20.0)
    assert [c.description for c in found.root_causes] == ["Undersized cage"]
    assert [a.title for a in found.kept_actions] == ["Replace supplier HLB"]


def test_suggestions_same_failure_mode_same_component_first(kb):
    opened = kb["open"]
    assert codes(knowledge_suggestions(opened)) == ["IMP-1", "IMP-2"]  # IMP-1 shares the component
    opened.component = None
    assert codes(knowledge_suggestions(opened)) == ["IMP-2", "IMP-1"]  # newest first
    assert codes(knowledge_suggestions(kb["new"])) == ["IMP-1"]  # never itself
    assert codes(knowledge_suggestions(opened, limit=1)) == ["IMP-2"]
    opened.failure_mode = None
    assert knowledge_suggestions(opened) == []


def test_knowledge_page(kb):
    client = Client()
    client.force_login(kb["owner"])
    response = client.get("/improvements/knowledge/", {"failure_mode": "BEARING", "q": "cage"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-knowledge="IMP-2"' in body and 'data-knowledge="IMP-1"' not in body
    assert "Undersized cage" in body and "Replace supplier HLB" in body
    assert "120.00" in body and "20.00" in body


def test_knowledge_page_needs_the_read_permission(kb):
    client = Client()
    client.force_login(UserFactory(username="someone", roles=["agent"]))
    assert client.get("/improvements/knowledge/").status_code == 403


def test_knowledge_api(kb):
    response = api_for(kb["owner"]).get("/api/v1/improvement-knowledge/", {"failure_mode": "BEARING"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["code"] for r in rows] == ["IMP-2", "IMP-1"]
    assert rows[0]["root_causes"] == [
        {"category": "technology", "description": "Undersized cage", "evidence": "teardown of 12 units"}
    ]
    assert rows[0]["verification"]["verdict"] == "effective"
    assert rows[1]["verification"] is None


def test_suggestions_on_the_issue_page(kb):
    client = Client()
    client.force_login(kb["owner"])
    body = client.get(f"/improvements/issues/{kb['open'].pk}/").content.decode()
    assert 'data-suggestion="IMP-1"' in body and 'data-suggestion="IMP-2"' in body
    assert 'data-suggestion="IMP-3"' not in body
