"""Forms of the customer pages (survey and progress). They only parse input; the
services validate (ranges, at least one score) and their errors are put back here."""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.exceptions import ApplicationError

CSAT_CHOICES = [
    (1, _("Very dissatisfied")),
    (2, _("Dissatisfied")),
    (3, _("Neutral")),
    (4, _("Satisfied")),
    (5, _("Very satisfied")),
]


class ServiceErrorsMixin:
    def add_application_error(self, error: ApplicationError) -> None:
        """A service's refusal on the form: reasons on their fields ("__all__" on top);
        when none fits a field, the message (reasons such as "closed" mean nothing to a
        customer on their own)."""
        placed = False
        for name, reasons in error.errors.items():
            if name not in self.fields and name != "__all__":
                continue
            for reason in reasons if isinstance(reasons, list | tuple) else [reasons]:
                self.add_error(name if name in self.fields else None, str(reason))
                placed = True
        if not placed:
            self.add_error(None, error.message)


class SurveyForm(ServiceErrorsMixin, forms.Form):
    csat = forms.TypedChoiceField(
        label=_("How satisfied are you with how we handled your request?"),
        choices=CSAT_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend or colleague?"),
        choices=[(i, str(i)) for i in range(11)],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )


class ReplyForm(ServiceErrorsMixin, forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )
