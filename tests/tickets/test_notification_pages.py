"""The bell, the notification list page, read marks, and the notifications API:
only one's own delivered notifications, anyone else's is a 404, bounded queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import api_for
from tickets.models import Notification

pytestmark = pytest.mark.django_db


def client_for(user, language="en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def notice(user, title="Notice", *, minutes_ago=0, read=False, url="", **kwargs) -> Notification:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return Notification.objects.create(
        recipient=user,
        kind="test",
        title=title,
        url=url,
        created_at=at,
        deliver_after=at,
        read_at=at if read else None,
        **kwargs,
    )


def later(user, title="Waits for Monday") -> Notification:
    """A notice still waiting for the recipient's working hours."""
    return notice(user, title, minutes_ago=-600)


# --- the bell ---------------------------------------------------------------------------


def test_every_page_has_the_bell_which_loads_its_count_by_htmx(agent):
    page = client_for(agent).get(reverse("tickets:queue")).content.decode()
    badge_url = reverse("tickets:notification_badge")
    assert f'hx-get="{badge_url}"' in page
    assert 'hx-trigger="load, every 60s"' in page
    assert f'href="{reverse("tickets:notifications")}"' in page


def test_the_bell_counts_delivered_unread_notices_only(agent, agent_b):
    notice(agent, "one")
    notice(agent, "two")
    notice(agent, "seen", read=True)
    later(agent)
    notice(agent_b, "someone else's")
    client = client_for(agent)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("tickets:notification_badge"))
    assert response.status_code == 200
    assert 'data-count="2"' in response.content.decode()
    assert "no-cache" in response["Cache-Control"]
    counts = [q["sql"] for q in queries.captured_queries if "tickets_notification" in q["sql"]]
    assert len(counts) == 1 and "COUNT" in counts[0].upper()


def test_no_badge_without_unread_and_caps_at_99(agent):
    client = client_for(agent)
    assert "badge" not in client.get(reverse("tickets:notification_badge")).content.decode()
    Notification.objects.bulk_create(
        [Notification(recipient=agent, kind="t", title=f"n{i}", deliver_after=timezone.now()) for i in range(120)]
    )
    assert ">99+<" in client.get(reverse("tickets:notification_badge")).content.decode()


def test_a_signed_out_poll_gets_nothing_to_swap_in(db):
    response = Client().get(reverse("tickets:notification_badge"))
    assert response.status_code == 204
    assert response.content == b""


# --- the list page ----------------------------------------------------------------------


def test_the_list_shows_own_delivered_notices_newest_first_unread_highlighted(agent, agent_b):
    notice(agent, "Old and read", minutes_ago=30, read=True)
    notice(agent, "Newest", minutes_ago=1)
    notice(agent, "Middle", minutes_ago=10, url="/tickets/1/")
    later(agent)
    notice(agent_b, "Not yours")
    response = client_for(agent).get(reverse("tickets:notifications"))
    assert response.status_code == 200
    page = response.content.decode()
    titles = [n.title for n in response.context["page"].object_list]
    assert titles == ["Newest", "Middle", "Old and read"]
    assert "Not yours" not in page and "Waits for Monday" not in page
    assert page.count("notification-unread") == 2
    middle = Notification.objects.get(title="Middle")
    assert reverse("tickets:notification_open", args=[middle.pk]) in page


def test_the_unread_filter(agent):
    notice(agent, "Unread one")
    notice(agent, "Read one", read=True)
    response = client_for(agent).get(reverse("tickets:notifications"), {"unread": "1"})
    assert [n.title for n in response.context["page"].object_list] == ["Unread one"]


def test_the_list_page_costs_the_same_queries_for_3_or_60_notices(agent):
    client = client_for(agent)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("tickets:notifications")).status_code == 200
        return len(queries)

    for i in range(3):
        notice(agent, f"n{i}", minutes_ago=i)
    few = queries_for_page()
    for i in range(3, 60):
        notice(agent, f"n{i}", minutes_ago=i)
    assert queries_for_page() == few
    assert few <= 12, few
    response = client.get(reverse("tickets:notifications"), {"page": 3})
    assert [n.title for n in response.context["page"].object_list] == [f"n{i}" for i in range(50, 60)]


def test_opening_a_notice_marks_it_read_and_follows_its_link(agent):
    target = notice(agent, "Go", url="/tickets/42/")
    response = client_for(agent).get(reverse("tickets:notification_open", args=[target.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/tickets/42/"
    target.refresh_from_db()
    assert target.read_at is not None


def test_an_offsite_link_is_not_followed(agent):
    target = notice(agent, "Phish", url="https://evil.example.net/")
    response = client_for(agent).get(reverse("tickets:notification_open", args=[target.pk]))
    assert response["Location"] == reverse("tickets:notifications")


def test_someone_elses_or_a_waiting_notice_is_404(agent, agent_b):
    theirs = notice(agent_b, "Theirs")
    waiting = later(agent)
    client = client_for(agent)
    for pk in (theirs.pk, waiting.pk):
        assert client.get(reverse("tickets:notification_open", args=[pk])).status_code == 404
        assert client.post(reverse("tickets:notification_read", args=[pk])).status_code == 404
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_mark_one_and_mark_all_read(agent, agent_b):
    one = notice(agent, "one")
    notice(agent, "two")
    waiting = later(agent)
    theirs = notice(agent_b, "theirs")
    client = client_for(agent)
    response = client.post(
        reverse("tickets:notification_read", args=[one.pk]), {"next": "/tickets/notifications/?unread=1"}
    )
    assert response["Location"] == "/tickets/notifications/?unread=1"
    assert Notification.objects.filter(recipient=agent, read_at__isnull=True).count() == 2

    response = client.post(reverse("tickets:notification_read_all"), {"next": "https://evil.example.net/"}, follow=True)
    assert response.redirect_chain[0][0] == reverse("tickets:notifications")
    assert "1 notification marked read." in response.content.decode()
    waiting.refresh_from_db()
    theirs.refresh_from_db()
    assert waiting.read_at is None and theirs.read_at is None  # not delivered yet / not yours
    assert client.get(reverse("tickets:notification_read_all")).status_code == 405


def test_the_list_page_in_chinese(agent):
    notice(agent, "Hello")
    page = client_for(agent, "zh-hans").get(reverse("tickets:notifications")).content.decode()
    assert '<html lang="zh-hans">' in page


def test_the_list_needs_a_login(db):
    response = Client().get(reverse("tickets:notifications"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- API --------------------------------------------------------------------------------


def test_api_lists_own_delivered_notifications(agent, agent_b):
    notice(agent, "Older", minutes_ago=5, read=True, payload={"ticket": 3}, urgent=True)
    notice(agent, "Newer", minutes_ago=1)
    later(agent)
    notice(agent_b, "Theirs")
    client = api_for(agent)
    body = client.get("/api/v1/notifications/").json()
    assert body["count"] == 2
    assert [n["title"] for n in body["results"]] == ["Newer", "Older"]
    assert body["results"][1]["payload"] == {"ticket": 3}
    assert body["results"][1]["urgent"] is True
    assert [n["title"] for n in client.get("/api/v1/notifications/?unread=1").json()["results"]] == ["Newer"]


def test_api_marks_read(agent, agent_b):
    mine = notice(agent, "Mine")
    notice(agent, "Also mine")
    theirs = notice(agent_b, "Theirs")
    client = api_for(agent)
    response = client.post(f"/api/v1/notifications/{mine.pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"] is not None
    first_read = response.json()["read_at"]
    assert client.post(f"/api/v1/notifications/{mine.pk}/read/").json()["read_at"] == first_read

    response = client.post(f"/api/v1/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": {}}
    assert client.post("/api/v1/notifications/abc/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None

    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 0}
    assert api_for(agent_b).get("/api/v1/notifications/?unread=1").json()["count"] == 1


def test_api_needs_a_login(api):
    assert api.get("/api/v1/notifications/").status_code in {401, 403}
