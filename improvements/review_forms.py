"""Forms of the review-meeting pages. They only parse input; the services validate
and their reasons are put back on the fields."""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from catalog.roles import ADMIN, COMMITTEE_MEMBER, MANAGER, QUALITY_ENGINEER
from tickets.forms import BootstrapMixin

from .models import Decision, ImprovementIssue

MEETING_ROLES = (COMMITTEE_MEMBER, QUALITY_ENGINEER, MANAGER, ADMIN)


def _people():
    """Who can sit in a review: the committee, quality engineers, managers and admins."""
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=MEETING_ROLES) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("username")
    )


class UserChoiceMixin:
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.username


class UserChoiceField(UserChoiceMixin, forms.ModelChoiceField):
    pass


class UsersChoiceField(UserChoiceMixin, forms.ModelMultipleChoiceField):
    pass


class MeetingForm(BootstrapMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=255)
    held_on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    location = forms.CharField(label=_("Location"), max_length=255, required=False)
    chair = UserChoiceField(label=_("Chair"), queryset=None, required=False)
    attendees = UsersChoiceField(
        label=_("Attendees"),
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chair"].queryset = _people()
        self.fields["attendees"].queryset = _people()


class DecisionForm(BootstrapMixin, forms.Form):
    decision = forms.ChoiceField(label=pgettext_lazy("review", "Decision"), choices=Decision.choices)
    minutes = forms.CharField(
        label=pgettext_lazy("review", "Minutes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Closing without an effective verification, or reopening: the minutes give the reason."),
    )

    def __init__(self, *args, fitting: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if fitting is not None:
            self.fields["decision"].choices = [(value, Decision(value).label) for value in fitting]


class AgendaItemForm(BootstrapMixin, forms.Form):
    issue = forms.ModelChoiceField(
        label=_("Improvement issue"),
        queryset=ImprovementIssue.objects.none(),
        empty_label=_("Choose an issue to discuss…"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["issue"].queryset = ImprovementIssue.objects.order_by("-code").only("pk", "code", "title")
        self.fields["issue"].label_from_instance = lambda issue: f"{issue.code} {issue.title}"


class MinutesForm(BootstrapMixin, forms.Form):
    minutes = forms.CharField(label=_("General minutes"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
