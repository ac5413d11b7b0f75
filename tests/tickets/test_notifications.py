"""notification_send and the e-mail half of notifications_deliver: dedupe, recipients,
language per recipient, quiet hours on business calendars, e-mails sent exactly once."""

import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy

from tests.factories import TeamFactory, UserFactory
from tickets.models import BusinessCalendar, EmailStatus, Notification, WorkingWindow
from tickets.services import notification_send, notifications_deliver
from tickets.services import notifications as notification_services

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
# 2025-03-14 is a Friday, 2025-03-17 the Monday after; no public holiday near either.
FRIDAY_22 = datetime(2025, 3, 14, 22, 0, tzinfo=SHANGHAI)
MONDAY_9 = datetime(2025, 3, 17, 9, 0, tzinfo=SHANGHAI)


def office_calendar(name="Office", *, time_zone="Asia/Shanghai", is_default=False) -> BusinessCalendar:
    """Mon-Fri 09:00-12:00 and 13:00-18:00, no holidays."""
    calendar = BusinessCalendar.objects.create(
        name=name, time_zone=time_zone, holiday_country="", is_default=is_default
    )
    for weekday in range(5):
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=time(9), end=time(12))
        WorkingWindow.objects.create(calendar=calendar, weekday=weekday, start=time(13), end=time(18))
    return calendar


def send(recipients, **kwargs) -> list[Notification]:
    kwargs.setdefault("kind", "test.notice")
    kwargs.setdefault("title", "Ticket T-1 is at risk")
    return notification_send(recipients=recipients, **kwargs)


# --- recipients and dedupe --------------------------------------------------------------


def test_one_notification_per_recipient_with_the_rendered_text(db):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    created = send(
        [alice, bob],
        title="Ticket %(number)s is at risk",
        body="Due at %(due)s",
        params={"number": "T-7", "due": "10:00"},
        url="/tickets/7/",
        payload={"ticket": 7},
        urgent=True,
    )
    assert [n.recipient for n in created] == [alice, bob]
    assert all(n.pk for n in created)
    row = Notification.objects.get(recipient=bob)
    assert (row.kind, row.title, row.body, row.url, row.payload) == (
        "test.notice",
        "Ticket T-7 is at risk",
        "Due at 10:00",
        "/tickets/7/",
        {"ticket": 7},
    )
    assert row.dedupe_key is None
    assert row.read_at is None


def test_same_dedupe_key_twice_gives_one_row_per_recipient(db):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    first = send([alice, bob], dedupe_key="sla:1:resolution:2", urgent=True)
    again = send([alice, bob], dedupe_key="sla:1:resolution:2", urgent=True)
    assert len(first) == 2
    assert again == []
    assert sorted(Notification.objects.values_list("dedupe_key", flat=True)) == sorted(
        [f"sla:1:resolution:2:{alice.pk}", f"sla:1:resolution:2:{bob.pk}"]
    )
    # A new recipient for the same key still gets theirs.
    carol = UserFactory(username="carol")
    assert [n.recipient for n in send([alice, carol], dedupe_key="sla:1:resolution:2", urgent=True)] == [carol]
    assert Notification.objects.count() == 3


def test_repeated_key_inside_a_callers_transaction_keeps_it_usable(db):
    alice = UserFactory(username="alice")
    with transaction.atomic():
        send([alice], dedupe_key="k", urgent=True)
        # Force the insert path (not the pre-check) to meet the unique key.
        row = Notification(recipient=alice, kind="x", title="dup", dedupe_key=f"k:{alice.pk}")
        assert notification_services._insert_once(row) is False
        assert Notification.objects.count() == 1  # the transaction still answers
        send([alice], dedupe_key="other", urgent=True)
    assert Notification.objects.count() == 2


def test_repeats_none_and_inactive_users_are_skipped(db):
    alice = UserFactory(username="alice")
    gone = UserFactory(username="gone", is_active=False)
    created = send([alice, None, alice, gone], urgent=True)
    assert [n.recipient for n in created] == [alice]
    assert send([], urgent=True) == []
    assert Notification.objects.count() == 1


def test_long_dedupe_keys_are_stored_as_a_stable_digest(db):
    alice = UserFactory(username="alice")
    key = "x" * 300
    assert len(send([alice], dedupe_key=key, urgent=True)) == 1
    assert send([alice], dedupe_key=key, urgent=True) == []
    stored = Notification.objects.get().dedupe_key
    assert stored.startswith("sha256:") and len(stored) == 71


# --- language ---------------------------------------------------------------------------


def test_each_recipient_reads_the_text_in_their_language(db):
    english = UserFactory(username="en_user", language="en")
    chinese = UserFactory(username="zh_user", language="zh-hans")
    site_default = UserFactory(username="no_pref", language="")
    send(
        [english, chinese, site_default],
        title=gettext_lazy("Ticket %(number)s was created."),
        body=gettext_lazy("Urgent"),
        params={"number": "T-9"},
        urgent=True,
    )
    by_user = {n.recipient.username: (n.title, n.body) for n in Notification.objects.select_related("recipient")}
    assert by_user == {
        "en_user": ("Ticket T-9 was created.", "Urgent"),
        "zh_user": ("工单 T-9 已创建。", "紧急"),
        "no_pref": ("Ticket T-9 was created.", "Urgent"),  # LANGUAGE_CODE is en
    }
    # The caller's language is left as it was.
    assert translation.get_language() == "en"


def test_lazy_text_is_rendered_under_the_recipients_language(db):
    language_now = lazy(lambda: f"rendered in {translation.get_language()}", str)()
    chinese = UserFactory(username="zh_user", language="zh-hans")
    english = UserFactory(username="en_user", language="en")
    send([chinese, english], title=language_now, urgent=True)
    assert dict(Notification.objects.values_list("recipient__username", "title")) == {
        "zh_user": "rendered in zh-hans",
        "en_user": "rendered in en",
    }


# --- quiet hours ------------------------------------------------------------------------


def test_non_urgent_notice_at_friday_night_waits_for_monday_morning(db):
    office_calendar(is_default=True)
    alice = UserFactory(username="alice")
    with time_machine.travel(FRIDAY_22, tick=False):
        (notice,) = send([alice])
        (urgent,) = send([alice], urgent=True)
    assert notice.created_at == FRIDAY_22
    assert notice.deliver_after == MONDAY_9
    assert urgent.deliver_after == FRIDAY_22


def test_quiet_hours_follow_the_calendar_of_the_recipients_team(db):
    office_calendar(is_default=True)  # Shanghai
    berlin = office_calendar("Berlin office", time_zone="Europe/Berlin")
    team = TeamFactory(name="Berlin", calendar=berlin)
    hans = UserFactory(username="hans")
    team.members.add(hans)
    wang = UserFactory(username="wang")
    # Friday 2025-03-14 18:30 in Berlin is Saturday 01:30 in Shanghai.
    at = datetime(2025, 3, 14, 18, 30, tzinfo=BERLIN)
    send([hans, wang], at=at)
    due = dict(Notification.objects.values_list("recipient__username", "deliver_after"))
    assert due["hans"] == datetime(2025, 3, 17, 9, 0, tzinfo=BERLIN)
    assert due["wang"] == MONDAY_9


def test_a_notice_inside_working_hours_and_lunch_break(db):
    office_calendar(is_default=True)
    alice = UserFactory(username="alice")
    during = datetime(2025, 3, 17, 10, 15, tzinfo=SHANGHAI)
    lunch = datetime(2025, 3, 17, 12, 20, tzinfo=SHANGHAI)
    assert send([alice], at=during)[0].deliver_after == during
    assert send([alice], at=lunch)[0].deliver_after == datetime(2025, 3, 17, 13, 0, tzinfo=SHANGHAI)


def test_without_any_calendar_a_notice_is_delivered_at_once(db):
    alice = UserFactory(username="alice")
    assert not BusinessCalendar.objects.exists()
    with time_machine.travel(FRIDAY_22, tick=False):
        (notice,) = send([alice])
    assert notice.deliver_after == FRIDAY_22


# --- e-mail -----------------------------------------------------------------------------


def test_email_status_follows_the_address_and_the_flag(db):
    with_mail = UserFactory(username="with_mail")
    no_mail = UserFactory(username="no_mail", email="")
    send([with_mail, no_mail], urgent=True)
    send([with_mail], urgent=True, email=False, title="in-app only")
    assert sorted(Notification.objects.values_list("recipient__username", "title", "email_status")) == [
        ("no_mail", "Ticket T-1 is at risk", EmailStatus.NONE),
        ("with_mail", "Ticket T-1 is at risk", EmailStatus.PENDING),
        ("with_mail", "in-app only", EmailStatus.NONE),
    ]


def test_email_is_sent_once_at_the_start_of_working_hours(db):
    office_calendar(is_default=True)
    alice = UserFactory(username="alice", email="alice@example.com")
    (notice,) = send([alice], at=FRIDAY_22, url="/tickets/5/", body="Please look at it.")

    assert notifications_deliver(now=FRIDAY_22 + timedelta(hours=1))["emails_sent"] == 0
    assert notifications_deliver(now=MONDAY_9 - timedelta(seconds=1))["emails_sent"] == 0
    assert mail.outbox == []

    assert notifications_deliver(now=MONDAY_9)["emails_sent"] == 1
    assert notifications_deliver(now=MONDAY_9 + timedelta(minutes=1))["emails_sent"] == 0
    assert notifications_deliver(now=MONDAY_9 + timedelta(hours=2))["emails_sent"] == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "Ticket T-1 is at risk"
    assert "Please look at it." in message.body
    assert "http://testserver.example/tickets/5/" in message.body
    assert message.alternatives[0][1] == "text/html"
    notice.refresh_from_db()
    assert (notice.email_status, notice.email_attempts) == (EmailStatus.SENT, 1)
    assert notice.emailed_at is not None


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "http://testserver.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_email_is_written_in_the_recipients_language(db):
    chinese = UserFactory(username="zh_user", language="zh-hans", email="zh@example.com")
    send([chinese], title=gettext_lazy("Ticket %(number)s was created."), params={"number": "T-3"}, urgent=True)
    notifications_deliver()
    (message,) = mail.outbox
    assert message.subject == "工单 T-3 已创建。"
    assert "工单 T-3 已创建。" in message.body
    assert translation.get_language() == "en"


def test_a_claimed_email_of_a_run_that_died_is_sent_after_the_lease(db):
    alice = UserFactory(username="alice")
    at = datetime(2025, 3, 17, 10, 0, tzinfo=SHANGHAI)
    send([alice], urgent=True, at=at)
    # A run claims the e-mail and is killed before sending it.
    assert len(notification_services._emails_claim(at)) == 1
    assert notifications_deliver(now=at + timedelta(minutes=1))["emails_sent"] == 0
    lease_over = at + notification_services.CLAIM_LEASE
    assert notifications_deliver(now=lease_over)["emails_sent"] == 1
    assert notifications_deliver(now=lease_over + timedelta(hours=1))["emails_sent"] == 0
    assert len(mail.outbox) == 1


def test_a_failing_backend_retries_then_gives_up(db, settings, monkeypatch):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    alice = UserFactory(username="alice")
    at = datetime(2025, 3, 17, 10, 0, tzinfo=SHANGHAI)
    (notice,) = send([alice], urgent=True, at=at)

    def broken(self, *args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)
    lease = notification_services.CLAIM_LEASE
    results = [notifications_deliver(now=at + lease * i)["emails_failed"] for i in range(4)]
    assert results == [1, 1, 1, 0]
    notice.refresh_from_db()
    assert (notice.email_status, notice.email_attempts) == (EmailStatus.FAILED, 3)


def test_urgent_send_queues_a_delivery_after_the_commit(db, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    alice = UserFactory(username="alice")
    with django_capture_on_commit_callbacks() as callbacks:
        send([alice], email=False)  # not urgent: the beat task's business
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        send([alice], urgent=True, title="Breached")
        send([alice], urgent=True, title="Also breached")
    assert len(callbacks) == 1  # one deliver run for the whole transaction
    assert [m.subject for m in mail.outbox] == ["Breached", "Also breached"]


def test_a_broker_that_cannot_be_reached_does_not_fail_the_send(db, monkeypatch, django_capture_on_commit_callbacks):
    from tickets.tasks import notifications_deliver_task

    def unreachable(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(notifications_deliver_task, "delay", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        created = send([UserFactory(username="alice")], urgent=True)
    assert len(created) == 1
    assert Notification.objects.get().email_status == EmailStatus.PENDING


# --- concurrency (PostgreSQL) -----------------------------------------------------------


def _run_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_key_create_one_row_per_recipient():
    users = [UserFactory(username=f"u{i}") for i in range(3)]

    def work(i):
        # Inside a caller's transaction that goes on after the send.
        with transaction.atomic():
            created = send(users, dedupe_key="sla:42:resolution:2", urgent=True)
            Notification.objects.count()
        return len(created)

    results = _run_threads(8, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 3
    assert Notification.objects.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliver_runs_send_each_email_once():
    # More than two claim batches, so the runs really interleave.
    users = [UserFactory(username=f"u{i}") for i in range(120)]
    send(users, urgent=True)
    results = _run_threads(4, lambda i: notifications_deliver()["emails_sent"])
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 120
    assert len(mail.outbox) == 120
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)
    assert Notification.objects.filter(email_status=EmailStatus.SENT).count() == 120
