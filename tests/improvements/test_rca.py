"""Root-cause analysis: fishbone causes, verification with evidence, 5-why chains and
the recall launched from a verified cause."""

import datetime as dt

import pytest

from catalog.exceptions import ApplicationError, ConflictError
from improvements.models import Cause, FishboneSet, ImprovementEvent, State, Why
from improvements.services import (
    cause_add,
    cause_delete,
    cause_recall_launch,
    cause_unverify,
    cause_update,
    cause_verify,
    why_set,
)
from quality.models import Recall, RecallState
from tests.factories import BatchFactory, FailureFactory

from .conftest import T0, advance

pytestmark = pytest.mark.django_db


def events(issue, kind=None):
    qs = ImprovementEvent.objects.filter(issue=issue)
    return qs.filter(kind=kind) if kind else qs


def test_fishbone_sets_are_installed():
    # A flushing test run earlier (transactional tests) removes the migration's rows;
    # the same install the migration runs puts them back.
    from improvements.services.issues import fishbone_sets_install

    fishbone_sets_install()
    default = FishboneSet.objects.get(is_default=True)
    assert [c["code"] for c in default.categories] == ["people", "process", "technology", "customer", "environment"]
    six_m = FishboneSet.objects.get(code="6m")
    assert [c["code"] for c in six_m.categories] == [
        "man",
        "machine",
        "material",
        "method",
        "measurement",
        "environment",
    ]


def test_cause_on_a_bone_of_the_issue_set(issue, engineer):
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description=" Bearing too small ")
    assert (cause.category, cause.description, cause.verified) == ("technology", "Bearing too small", False)
    event = events(issue, "cause_added").get()
    assert (event.to_value, event.comment, event.actor) == ("technology", "Bearing too small", engineer)


def test_category_must_be_of_the_issue_set(issue, engineer):
    before = events(issue).count()
    with pytest.raises(ApplicationError) as info:
        cause_add(issue_id=issue.pk, actor=engineer, category="machine", description="Press worn")
    assert set(info.value.errors) == {"category"}
    issue.fishbone_set = FishboneSet.objects.get(code="6m")
    issue.save(update_fields=["fishbone_set"])
    cause_add(issue_id=issue.pk, actor=engineer, category="machine", description="Press worn")
    with pytest.raises(ApplicationError):
        cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="x")
    assert Cause.objects.filter(issue=issue).count() == 1
    assert events(issue).count() == before + 1


def test_description_required(issue, engineer):
    with pytest.raises(ApplicationError) as info:
        cause_add(issue_id=issue.pk, actor=engineer, category="people", description="  ")
    assert set(info.value.errors) == {"description"}
    assert not Cause.objects.exists()


def test_no_cause_on_a_closed_issue(issue, engineer):
    from improvements.services import issue_transition

    issue_transition(issue_id=issue.pk, to_state=State.REJECTED, actor=engineer, reason="not a problem")
    with pytest.raises(ConflictError):
        cause_add(issue_id=issue.pk, actor=engineer, category="people", description="x")
    assert not Cause.objects.exists()


def test_update_moves_and_rewords(issue, engineer):
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="people", description="Training")
    cause_update(cause_id=cause.pk, actor=engineer, category="process", description="No work instruction")
    cause.refresh_from_db()
    assert (cause.category, cause.description) == ("process", "No work instruction")
    event = events(issue, "cause_changed").get()
    assert (event.from_value, event.to_value) == ("people", "process")
    # Nothing changes: nothing written.
    cause_update(cause_id=cause.pk, actor=engineer, category="process")
    assert events(issue, "cause_changed").count() == 1
    with pytest.raises(ApplicationError):
        cause_update(cause_id=cause.pk, actor=engineer, category="nope")


def test_verify_needs_evidence_and_existing_failures(issue, engineer):
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Bearing")
    with pytest.raises(ApplicationError) as info:
        cause_verify(cause_id=cause.pk, actor=engineer, evidence=" ")
    assert set(info.value.errors) == {"evidence"}
    with pytest.raises(ApplicationError) as info:
        cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown", failure_ids=[987654])
    assert info.value.errors == {"failure_ids": ["Not found: 987654."]}
    cause.refresh_from_db()
    assert not cause.verified
    assert events(issue, "cause_verified").count() == 0

    failure = FailureFactory()
    at = T0 + dt.timedelta(hours=3)
    cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown of 12 units", failure_ids=[failure.pk], at=at)
    cause.refresh_from_db()
    assert (cause.verified, cause.verified_at, cause.verified_by, cause.evidence) == (
        True,
        at,
        engineer,
        "Teardown of 12 units",
    )
    assert list(cause.evidence_failures.values_list("pk", flat=True)) == [failure.pk]
    assert events(issue, "cause_verified").count() == 1


def test_unverify_needs_a_reason_and_is_refused_past_root_cause(issue, engineer, committee):
    issue = advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Bearing")
    cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown")
    with pytest.raises(ApplicationError):
        cause_unverify(cause_id=cause.pk, actor=engineer, reason="")
    cause_unverify(cause_id=cause.pk, actor=engineer, reason="Teardown was of another batch")
    cause.refresh_from_db()
    assert (cause.verified, cause.verified_at) == (False, None)
    assert events(issue, "cause_unverified").get().comment == "Teardown was of another batch"

    cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown of the right batch")
    issue = advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    with pytest.raises(ConflictError):
        cause_unverify(cause_id=cause.pk, actor=engineer, reason="changed my mind")
    cause.refresh_from_db()
    assert cause.verified


def test_delete_of_a_verified_cause_refused_past_root_cause(issue, engineer, committee):
    issue = advance(issue, State.ROOT_CAUSE, actor=engineer, committee=committee)
    loose = cause_add(issue_id=issue.pk, actor=engineer, category="people", description="Guess")
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Bearing")
    cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown")
    issue = advance(issue, State.ACTION_PLAN, actor=engineer, committee=committee)
    with pytest.raises(ConflictError):
        cause_delete(cause_id=cause.pk, actor=engineer)
    assert Cause.objects.filter(pk=cause.pk).exists()
    cause_delete(cause_id=loose.pk, actor=engineer)  # an unverified cause may go
    assert not Cause.objects.filter(pk=loose.pk).exists()
    assert events(issue, "cause_deleted").get().comment == "Guess"


def test_why_chain_replaced_in_one_step(issue, engineer):
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Bearing")
    why_set(cause_id=cause.pk, actor=engineer, whys=["Noise", "Bearing worn", "Too small"])
    why_set(cause_id=cause.pk, actor=engineer, whys=["Noise", "Bearing worn"])
    assert list(Why.objects.filter(cause=cause).values_list("position", "text")) == [
        (1, "Noise"),
        (2, "Bearing worn"),
    ]
    assert events(issue, "whys").count() == 2


@pytest.mark.parametrize("whys", [[], ["a", "b", "c", "d", "e", "f"], ["a", " ", "c"]])
def test_why_chain_limits(issue, engineer, whys):
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Bearing")
    why_set(cause_id=cause.pk, actor=engineer, whys=["kept"])
    with pytest.raises(ApplicationError) as info:
        why_set(cause_id=cause.pk, actor=engineer, whys=whys)
    assert set(info.value.errors) == {"whys"}
    assert list(Why.objects.filter(cause=cause).values_list("text", flat=True)) == ["kept"]
    assert events(issue, "whys").count() == 1


def test_recall_from_a_verified_cause(issue, engineer):
    batch_a, batch_b = BatchFactory(code="WM200-L15"), BatchFactory(code="WM200-L16")
    issue.batches.set([batch_b, batch_a])
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Undersized bearing")
    with pytest.raises(ApplicationError) as info:
        cause_recall_launch(cause_id=cause.pk, actor=engineer)
    assert set(info.value.errors) == {"cause"}
    cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown of 12 returns")
    Recall.objects.create(code="RC-0007", title="Old", severity="class_ii", opened_at=T0)
    at = T0 + dt.timedelta(days=2)
    recall = cause_recall_launch(cause_id=cause.pk, actor=engineer, at=at)
    assert recall.code == "RC-0008"
    assert recall.state == RecallState.DRAFT
    assert recall.title == f"{issue.code}: Bearing noise"
    assert recall.reason == "Undersized bearing\n\nEvidence: Teardown of 12 returns"
    assert sorted(recall.batches.values_list("code", flat=True)) == ["WM200-L15", "WM200-L16"]
    assert list(issue.recalls.all()) == [recall]
    assert events(issue, "recall").get().to_value == "RC-0008"


def test_recall_needs_batches(issue, engineer):
    cause = cause_add(issue_id=issue.pk, actor=engineer, category="technology", description="Bearing")
    cause_verify(cause_id=cause.pk, actor=engineer, evidence="Teardown")
    with pytest.raises(ApplicationError) as info:
        cause_recall_launch(cause_id=cause.pk, actor=engineer)
    assert set(info.value.errors) == {"batches"}
    assert not Recall.objects.exists()
    assert events(issue, "recall").count() == 0
