"""Creating an issue: the default fishbone set comes back when a flushed database lost
the migration's rows; detected_at is the earliest evidence; the product line follows the
model."""

import datetime as dt

from improvements.models import FishboneSet
from improvements.services import issue_create
from tests.factories import FailureFactory, ProductModelFactory

from .conftest import T0


def test_a_lost_default_fishbone_set_is_reinstalled(db, engineer):
    FishboneSet.objects.all().delete()
    issue = issue_create(title="Door seal leaks", actor=engineer, at=T0)
    assert issue.fishbone_set.code == "default"
    assert [c["code"] for c in issue.fishbone_set.categories] == [
        "people",
        "process",
        "technology",
        "customer",
        "environment",
    ]
    assert FishboneSet.objects.filter(code="6m").exists()


def test_detected_at_is_the_earliest_evidence_and_the_line_follows_the_model(db, engineer):
    early = FailureFactory(occurred_at=T0 - dt.timedelta(days=30))
    late = FailureFactory(occurred_at=T0 - dt.timedelta(days=3))
    model = ProductModelFactory()
    issue = issue_create(
        title="Bearing noise", actor=engineer, failures=[late.pk, early.pk], product_model=model, at=T0
    )
    assert issue.detected_at == early.occurred_at
    assert issue.product_line == model.product_line
    assert issue_create(title="No evidence", actor=engineer, at=T0).detected_at == T0
