"""The admin configures fishbone category sets; issues are shown read-only there (their
changes go through the gate)."""

from django.urls import reverse

from improvements.models import FishboneSet
from tests.factories import UserFactory


def test_fishbone_sets_are_configured_in_the_admin_and_issues_are_read_only(client, db, issue):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    six_m = FishboneSet.objects.get(code="6m")
    assert client.get(reverse("admin:improvements_fishboneset_change", args=[six_m.pk])).status_code == 200
    response = client.post(
        reverse("admin:improvements_fishboneset_add"),
        {"code": "4p", "name_en": "4P", "name_zh": "4P", "categories": '[{"code": "people", "name_en": "People"}]'},
    )
    assert response.status_code == 302 and FishboneSet.objects.filter(code="4p").exists()
    assert client.get(reverse("admin:improvements_improvementissue_changelist")).status_code == 200
    assert client.get(reverse("admin:improvements_improvementissue_add")).status_code == 403
    page = client.get(reverse("admin:improvements_improvementissue_change", args=[issue.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
