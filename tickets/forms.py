"""Forms of the agent pages. They only parse input; the services decide (and their
ApplicationError.errors are put back on the fields with add_error)."""

from django import forms
from django.urls import reverse_lazy
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from catalog.exceptions import ApplicationError
from catalog.models import Customer, Segment, Unit
from catalog.selectors import customer_list, unit_list

from . import selectors
from .models import Channel, Priority, Status, Ticket, TicketType


def person_label(user) -> str:
    """A user as people know them: full name, else username."""
    return user.get_full_name() or user.get_username()


def customer_label(customer: Customer) -> str:
    """How a customer is offered in the type-ahead (needs its region selected)."""
    return " · ".join(filter(None, [customer.name, customer.external_id, customer.phone, customer.region.name]))


def unit_label(unit: Unit, *, with_owner: bool = False) -> str:
    """How a unit is offered: serial, model, batch (and owner when searched by serial)."""
    parts = [unit.serial, unit.product_model.code, unit.batch.code if unit.batch else ""]
    if with_owner and unit.customer:
        parts.append(unit.customer.name)
    return " · ".join(filter(None, parts))


def _label(name: str):
    """A form label from the model field's (already translated) verbose name."""
    return capfirst(Ticket._meta.get_field(name).verbose_name)


class BootstrapMixin:
    """Bootstrap classes on every widget, and `is-invalid` on the fields in error."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{css} {widget.attrs.get('class', '')}".strip()

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()

    def add_application_error(self, error: ApplicationError) -> None:
        """Put a service's refusal on the form: reasons on their fields, the rest on top."""
        placed = False
        for name, reasons in error.errors.items():
            for reason in reasons if isinstance(reasons, list | tuple) else [reasons]:
                self.add_error(name if name in self.fields else None, str(reason))
                placed = placed or name in self.fields
        if not placed:
            self.add_error(None, error.message)


class QueueFilterForm(BootstrapMixin, forms.Form):
    DEFAULT = {"status": "open"}

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Number, subject or customer"), "type": "search"}),
    )
    status = forms.ChoiceField(
        label=_label("status"),
        required=False,
        choices=[("", _("Any status")), ("open", _("Open (any)")), *Status.choices],
    )
    priority = forms.ChoiceField(
        label=_label("priority"), required=False, choices=[("", _("Any priority")), *Priority.choices]
    )
    type = forms.ChoiceField(label=_label("type"), required=False, choices=[("", _("Any type")), *TicketType.choices])
    team = forms.ModelChoiceField(label=_label("team"), required=False, queryset=None, empty_label=_("Any team"))
    mine = forms.BooleanField(label=_("Mine only"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("", _("Default order")),
            ("-created", _("Newest first")),
            ("created", _("Oldest first")),
            ("priority", _("Priority")),
            ("status", _("Status")),
            ("due", _("Resolution due")),
            ("sla_due", _("Nearest due time")),
        ],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = selectors.teams_for_user(user)

    @classmethod
    def from_query(cls, query, *, user) -> "QueueFilterForm":
        """The form of the queue and its export. Only its own fields bind it: `?page=2` or
        `?format=csv` alone keep the defaults (the open tickets), as the first page has them."""
        bound = any(name in query for name in cls.base_fields)
        return cls(query if bound else None, user=user, initial=cls.DEFAULT)

    def filters(self) -> dict:
        """The valid filters as keyword arguments of selectors.ticket_queue; invalid ones are
        ignored. An unbound form gives the defaults."""
        if not self.is_bound:
            return dict(self.DEFAULT)
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value not in ("", None)}


class TicketCreateForm(BootstrapMixin, forms.Form):
    customer_q = forms.CharField(
        label=_("Find customer"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, customer ID or phone"),
                "autocomplete": "off",
                "hx-get": reverse_lazy("tickets:customer_lookup"),
                "hx-trigger": "input changed delay:300ms, search",
                "hx-target": "#id_customer",
            }
        ),
    )
    customer = forms.ModelChoiceField(
        label=_label("customer"),
        queryset=Customer.objects.all(),
        widget=forms.Select(
            attrs={
                "size": 5,
                "hx-get": reverse_lazy("tickets:unit_lookup"),
                "hx-trigger": "change",
                "hx-target": "#id_unit",
                "hx-include": "[name=unit_q]",
            }
        ),
    )
    unit_q = forms.CharField(
        label=_("Find unit"),
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Serial number"),
                "autocomplete": "off",
                "hx-get": reverse_lazy("tickets:unit_lookup"),
                "hx-trigger": "input changed delay:300ms, search",
                "hx-target": "#id_unit",
                "hx-include": "[name=customer]",
            }
        ),
    )
    unit = forms.ModelChoiceField(
        label=_label("unit"), queryset=Unit.objects.all(), required=False, widget=forms.Select(attrs={"size": 4})
    )
    type = forms.ChoiceField(label=_label("type"), choices=[("", _("Choose…")), *TicketType.choices])
    channel = forms.ChoiceField(label=_label("channel"), choices=[("", _("Choose…")), *Channel.choices])
    priority = forms.ChoiceField(label=_label("priority"), choices=Priority.choices, initial=Priority.NORMAL)
    subject = forms.CharField(label=_label("subject"), max_length=255)
    description = forms.CharField(label=_label("description"), required=False, widget=forms.Textarea(attrs={"rows": 5}))
    team = forms.ModelChoiceField(
        label=_label("team"),
        queryset=None,
        empty_label=_("Choose…"),
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("tickets:assignee_lookup"),
                "hx-trigger": "change",
                "hx-target": "#id_assignee",
            }
        ),
    )
    assignee = forms.ModelChoiceField(
        label=_label("assignee"), queryset=None, required=False, empty_label=_("Nobody yet (dispatch later)")
    )

    # Routes the ticket through the dispatch rules (e.g. "compressor").
    skill = forms.CharField(
        label=_label("skill"), max_length=64, required=False, help_text=_("Optional: matched by the dispatch rules.")
    )

    # The form fields that are handed to services.ticket_create.
    SERVICE_FIELDS = (
        "customer",
        "unit",
        "type",
        "channel",
        "priority",
        "subject",
        "description",
        "skill",
        "team",
        "assignee",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = selectors.teams_for_user(user)
        self.fields["team"].queryset = teams
        if not self.is_bound and "team" not in self.initial and len(teams) == 1:
            self.initial["team"] = teams[0].pk
        team = self._chosen("team", teams)
        self.fields["assignee"].queryset = selectors.assignee_choices(user=user, team=team)
        self.fields["assignee"].label_from_instance = person_label
        # Customers and units are found by type-ahead: render only the chosen one, never the whole table.
        customer = self._chosen("customer", customer_list())
        unit = self._chosen("unit", unit_list())
        self.fields["customer"].widget.choices = [(obj.pk, customer_label(obj)) for obj in [customer] if obj]
        self.fields["unit"].widget.choices = [("", _("No unit")), *((obj.pk, unit_label(obj)) for obj in [unit] if obj)]

    def _chosen(self, name: str, queryset):
        raw = self.data.get(name) if self.is_bound else self.initial.get(name)
        if hasattr(raw, "pk"):
            return raw
        if not raw:
            return None
        try:
            return queryset.filter(pk=raw).first()
        except (ValueError, TypeError):
            return None

    def service_kwargs(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.SERVICE_FIELDS}


class _VersionedForm(BootstrapMixin, forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class CommentForm(_VersionedForm):
    PUBLIC, INTERNAL = "public", "internal"

    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Write a reply to the customer or an internal note")}),
    )
    # Set by the button pressed: "Send reply to customer" or "Add internal note".
    visibility = forms.ChoiceField(choices=[(PUBLIC, _("Reply to customer")), (INTERNAL, _("Internal note"))])


class AssignForm(_VersionedForm):
    assignee = forms.ModelChoiceField(label=_label("assignee"), queryset=None)

    def __init__(self, *args, user, ticket: Ticket, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = selectors.assignee_choices(user=user, team=ticket.team)
        self.fields["assignee"].label_from_instance = person_label


class TransitionForm(_VersionedForm):
    to_status = forms.ChoiceField(choices=Status.choices, widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Comment (optional)")}),
    )


class CustomerCreateForm(BootstrapMixin, forms.Form):
    """A new caller, registered while logging their ticket (catalog.services.customer_create)."""

    name = forms.CharField(label=capfirst(Customer._meta.get_field("name").verbose_name), max_length=200)
    region = forms.CharField(
        label=capfirst(Customer._meta.get_field("region").verbose_name),
        max_length=120,
        widget=forms.TextInput(attrs={"list": "region-options", "autocomplete": "off"}),
        help_text=_("Any spelling of a known region is matched (e.g. 华东 or East)."),
    )
    segment = forms.ChoiceField(
        label=capfirst(Customer._meta.get_field("segment").verbose_name), choices=Segment.choices
    )
    phone = forms.CharField(
        label=capfirst(Customer._meta.get_field("phone").verbose_name), max_length=32, required=False
    )
    email = forms.EmailField(label=capfirst(Customer._meta.get_field("email").verbose_name), required=False)
    city = forms.CharField(
        label=capfirst(Customer._meta.get_field("city").verbose_name), max_length=120, required=False
    )


class ServiceTaskCompleteForm(BootstrapMixin, forms.Form):
    """Records a follow-up or callback (services.followups.service_task_complete)."""

    outcome = forms.CharField(
        label=_("Outcome"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("What did the customer say?")}),
    )
