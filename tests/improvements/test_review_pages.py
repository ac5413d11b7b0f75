"""Review-meeting pages: access, the agenda, deciding through the page, the issue page's section."""

import datetime as dt

import pytest
from django.template import Context, Template
from django.urls import reverse

from improvements import services
from improvements.models import AgendaItem, AgendaKind, Decision, MeetingStatus, ReviewMeeting, State, Verdict
from improvements.review_selectors import issue_url
from tests.improvements import review_fixtures as fx

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return fx.users()


@pytest.fixture
def meeting(people):
    return services.meeting_create(
        actor=people["committee"],
        title="March review",
        held_on=fx.MEETING_DAY,
        location="Room 3",
        chair=people["committee"],
        attendees=[people["qe"]],
    )


def _client(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("who", ["committee", "qe", "manager"])
def test_pages_open_for_the_review_roles(client, people, meeting, who):
    _client(client, people[who])
    assert client.get(reverse("improvements:meeting-list")).status_code == 200
    page = client.get(reverse("improvements:meeting-detail", args=[meeting.pk]))
    assert page.status_code == 200
    assert "March review" in page.content.decode()
    pdf = client.get(reverse("improvements:meeting-minutes-pdf", args=[meeting.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_agent_is_refused_everywhere(client, people, meeting):
    _client(client, people["agent"])
    for url in (
        reverse("improvements:meeting-list"),
        reverse("improvements:meeting-create"),
        reverse("improvements:meeting-detail", args=[meeting.pk]),
        reverse("improvements:meeting-minutes-pdf", args=[meeting.pk]),
    ):
        assert client.get(url).status_code in (403, 404), url
    assert client.post(reverse("improvements:meeting-agenda", args=[meeting.pk])).status_code == 403


def test_anonymous_is_sent_to_login(client, meeting):
    response = client.get(reverse("improvements:meeting-list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_manager_reads_but_cannot_create_or_build(client, people, meeting):
    _client(client, people["manager"])
    page = client.get(reverse("improvements:meeting-detail", args=[meeting.pk])).content.decode()
    assert 'id="build-agenda"' not in page
    assert client.get(reverse("improvements:meeting-create")).status_code == 403
    assert client.post(reverse("improvements:meeting-agenda", args=[meeting.pk])).status_code == 403


def test_list_splits_upcoming_and_past_with_item_counts(client, people, meeting, time_machine):
    time_machine.move_to(dt.datetime(2025, 3, 5, 12, tzinfo=dt.UTC))
    old = services.meeting_create(actor=people["committee"], title="February review", held_on=dt.date(2025, 2, 10))
    issue = fx.issue("IMP-2025-0001", State.TRIAGE)
    services.agenda_item_add(meeting_id=old.pk, actor=people["qe"], issue_id=issue.pk)
    _client(client, people["qe"])

    page = client.get(reverse("improvements:meeting-list"))

    upcoming = [m.title for m in page.context["upcoming"]]
    past = {m.title: (m.item_count, m.decided_count) for m in page.context["past"]}
    assert upcoming == ["March review"]
    assert past == {"February review": (1, 0)}


def test_create_through_the_form(client, people):
    _client(client, people["qe"])
    response = client.post(
        reverse("improvements:meeting-create"),
        {
            "title": "April review",
            "held_on": "2025-04-14",
            "location": "",
            "chair": people["committee"].pk,
            "attendees": [people["committee"].pk, people["manager"].pk],
        },
    )
    meeting = ReviewMeeting.objects.get(title="April review")
    assert response.status_code == 302
    assert response["Location"] == reverse("improvements:meeting-detail", args=[meeting.pk])
    assert meeting.held_on == dt.date(2025, 4, 14)
    assert set(meeting.attendees.values_list("username", flat=True)) == {"committee", "boss"}


def test_create_form_shows_errors(client, people):
    _client(client, people["qe"])
    response = client.post(reverse("improvements:meeting-create"), {"title": "", "held_on": "not a date"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "held_on"}
    assert not ReviewMeeting.objects.exists()


def test_build_agenda_button_and_grouped_agenda(client, people, meeting):
    fx.issue("IMP-2025-0001", State.TRIAGE, title="Drum noise")
    verifying = fx.issue("IMP-2025-0008", State.VERIFICATION, title="Bearing wear")
    fx.verification(verifying, Verdict.EFFECTIVE)
    _client(client, people["committee"])

    response = client.post(reverse("improvements:meeting-agenda", args=[meeting.pk]), follow=True)

    page = response.content.decode()
    assert meeting.items.count() == 2
    assert 'data-agenda-kind="new_problem"' in page and 'data-agenda-kind="awaiting_verification"' in page
    assert page.index("IMP-2025-0001") < page.index("IMP-2025-0008")
    assert f'href="{issue_url(verifying.pk)}"' in page
    # The decision select offers only what fits: the verification item can be accepted.
    item = meeting.items.get(issue=verifying)
    options = [value for value, _label in response.context["groups"][1]["items"][0].form.fields["decision"].choices]
    assert options == [Decision.MORE_ANALYSIS, Decision.ACCEPT_VERIFICATION, Decision.CLOSE, Decision.NOTED]
    assert f'name="item{item.pk}-decision"' in page


def test_decide_through_the_page(client, people, meeting):
    verifying = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(verifying, Verdict.EFFECTIVE)
    item = services.agenda_item_add(
        meeting_id=meeting.pk, actor=people["qe"], issue_id=verifying.pk, kind=AgendaKind.AWAITING_VERIFICATION
    )
    _client(client, people["committee"])

    response = client.post(
        reverse("improvements:meeting-item-decide", args=[meeting.pk, item.pk]),
        {f"item{item.pk}-decision": "accept_verification", f"item{item.pk}-minutes": "Rate halved; accepted."},
    )

    assert response.status_code == 302
    item.refresh_from_db()
    verifying.refresh_from_db()
    assert (item.decision, item.minutes) == (Decision.ACCEPT_VERIFICATION, "Rate halved; accepted.")
    assert verifying.state == State.CLOSED
    page = client.get(reverse("improvements:meeting-detail", args=[meeting.pk])).content.decode()
    assert 'data-decision="accept_verification"' in page and "Rate halved; accepted." in page


def test_refused_decision_is_shown_inline_and_changes_nothing(client, people, meeting):
    verifying = fx.issue("IMP-2025-0008", State.VERIFICATION)
    fx.verification(verifying, Verdict.NOT_EFFECTIVE)
    item = services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=verifying.pk)
    _client(client, people["committee"])

    response = client.post(
        reverse("improvements:meeting-item-decide", args=[meeting.pk, item.pk]),
        {f"item{item.pk}-decision": "close", f"item{item.pk}-minutes": ""},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Closing needs an effective verification" in page
    assert page.index("Closing needs an effective verification") > page.index(f'id="item-{item.pk}"')
    item.refresh_from_db()
    verifying.refresh_from_db()
    assert item.decision == "" and verifying.state == State.VERIFICATION


def test_quality_engineer_sees_no_decision_form_and_cannot_post_one(client, people, meeting):
    new = fx.issue("IMP-2025-0001", State.TRIAGE)
    item = services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=new.pk)
    _client(client, people["qe"])
    page = client.get(reverse("improvements:meeting-detail", args=[meeting.pk])).content.decode()
    assert f'name="item{item.pk}-decision"' not in page
    response = client.post(
        reverse("improvements:meeting-item-decide", args=[meeting.pk, item.pk]),
        {f"item{item.pk}-decision": "noted"},
    )
    assert response.status_code == 403
    assert AgendaItem.objects.get(pk=item.pk).decision == ""


def test_add_item_and_mark_held(client, people, meeting):
    closed = fx.issue("IMP-2025-0007", State.CLOSED, closed_at=fx.T0)
    _client(client, people["committee"])

    client.post(reverse("improvements:meeting-item-add", args=[meeting.pk]), {"issue": closed.pk})
    duplicate = client.post(reverse("improvements:meeting-item-add", args=[meeting.pk]), {"issue": closed.pk})
    held = client.post(reverse("improvements:meeting-hold", args=[meeting.pk]), {"minutes": "Next: April."})

    assert meeting.items.filter(issue=closed, kind=AgendaKind.OTHER).count() == 1
    assert "already on the agenda" in duplicate.content.decode()
    assert held.status_code == 302
    meeting.refresh_from_db()
    assert (meeting.status, meeting.minutes) == (MeetingStatus.HELD, "Next: April.")


def test_issue_page_section_shows_cycles_and_decisions(people, meeting):
    issue = fx.issue("IMP-2025-0001", State.TRIAGE)
    item = services.agenda_item_add(meeting_id=meeting.pk, actor=people["qe"], issue_id=issue.pk)
    services.agenda_item_decide(item_id=item.pk, actor=people["committee"], decision="noted", minutes="Start RCA.")

    html = Template("{% load review_ui %}{% issue_reviews issue user %}").render(
        Context({"issue": issue, "user": people["manager"]})
    )

    assert 'data-review-cycles="1"' in html
    assert "March review" in html and "Start RCA." in html
    assert reverse("improvements:meeting-detail", args=[meeting.pk]) in html
    assert 'data-decision="noted"' in html
