"""Reads of the service operation, scoped to what a user may see. Agents and
supervisors see their teams' tickets and those assigned to them; the global-read
roles see all. Anything outside the scope is simply absent (the views answer 404)."""

from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from catalog.exports import ExportColumn, ExportTable, export_table
from catalog.models import Customer, Unit, User
from catalog.roles import user_has_global_read
from catalog.selectors import customer_list, unit_list

from .models import OPEN_STATUSES, Channel, Priority, Status, Team, Ticket, TicketEvent, TicketType


def tickets_for_user(user) -> QuerySet[Ticket]:
    qs = Ticket.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if user_has_global_read(user):
        return qs
    # A subquery, not a join: no duplicates to DISTINCT away on a large table.
    return qs.filter(Q(team_id__in=Team.objects.filter(members=user).values("pk")) | Q(assignee=user))


def ticket_list(*, user) -> QuerySet[Ticket]:
    return tickets_for_user(user).select_related(
        "customer__region", "unit__product_model", "unit__batch", "team", "assignee"
    )


def ticket_get_for_user(*, user, pk) -> Ticket:
    try:
        return ticket_list(user=user).get(pk=pk)
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise Http404("No such ticket.") from None


def ticket_timeline(*, ticket: Ticket, public_only: bool = False) -> QuerySet[TicketEvent]:
    qs = ticket.events.select_related("actor")
    return qs.filter(public=True) if public_only else qs


def teams_for_user(user) -> QuerySet[Team]:
    if user_has_global_read(user):
        return Team.objects.all()
    return Team.objects.filter(members=user)


# Reads of the agent web UI: the queue, and the look-ups of the create form.

# Sort keys of the queue -> ORDER BY. Priority and status sort by their rank (the order
# of their choices), not alphabetically; the pk breaks ties so pages are stable.
_PRIORITY_RANK = Case(
    *(When(priority=v, then=Value(i)) for i, v in enumerate(Priority.values)),
    default=Value(len(Priority.values)),
    output_field=IntegerField(),
)
_STATUS_RANK = Case(
    *(When(status=v, then=Value(i)) for i, v in enumerate(Status.values)),
    default=Value(len(Status.values)),
    output_field=IntegerField(),
)


def _queue_order(sort: str, user, *, open_only: bool) -> list:
    if sort == "created":
        return ["created_at", "id"]
    if sort == "-created":
        return ["-created_at", "-id"]
    if sort == "priority":
        return [_PRIORITY_RANK, "-created_at", "-id"]
    if sort == "status":
        return [_STATUS_RANK, "-created_at", "-id"]
    if sort == "due":
        return [F("resolution_due_at").asc(nulls_last=True), "id"]
    if not open_only:
        # Over every status the default is newest first: the created_at index serves it,
        # where ranking a million rows by a CASE took seconds (bench/RESULTS.md).
        return ["-created_at", "-id"]
    # Open tickets: the user's own first, then the others; newest first within each.
    bucket = Case(When(assignee=user, then=Value(0)), default=Value(1), output_field=IntegerField())
    return [bucket, "-created_at", "-id"]


def ticket_queue(
    *,
    user,
    status: str = "",
    priority: str = "",
    type: str = "",
    team: Team | None = None,
    q: str = "",
    mine: bool = False,
    sort: str = "",
) -> QuerySet[Ticket]:
    """The queue page: ticket_list filtered and sorted. status "open" means any open status;
    q searches the number, the subject and the customer's name."""
    qs = ticket_list(user=user)
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if priority:
        qs = qs.filter(priority=priority)
    if type:
        qs = qs.filter(type=type)
    if team is not None:
        qs = qs.filter(team=team)
    if mine:
        qs = qs.filter(assignee=user)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(external_id__icontains=q) | Q(subject__icontains=q) | Q(customer__name__icontains=q))
    open_only = status == "open" or status in OPEN_STATUSES
    return qs.order_by(*_queue_order(sort, user, open_only=open_only))


def customer_search(*, q: str, limit: int = 10) -> QuerySet[Customer]:
    """Type-ahead over customers by name, external ID or phone."""
    q = (q or "").strip()
    if not q:
        return Customer.objects.none()
    return customer_list().filter(Q(name__icontains=q) | Q(external_id__icontains=q) | Q(phone__icontains=q))[:limit]


def unit_search(*, customer: Customer | None = None, q: str = "", limit: int = 10) -> QuerySet[Unit]:
    """The customer's units (optionally narrowed by serial), or any unit by serial."""
    q = (q or "").strip()
    qs = unit_list()
    if customer is not None:
        qs = qs.filter(customer=customer)
    elif not q:
        return qs.none()
    if q:
        qs = qs.filter(serial__icontains=q)
    return qs.order_by("serial")[:limit]


def assignee_choices(*, user, team: Team | None = None) -> QuerySet[User]:
    """Who a ticket can be assigned to: the members of its team, or without a team the
    members of the user's teams."""
    teams = Team.objects.filter(pk=team.pk) if team is not None else teams_for_user(user)
    return User.objects.filter(is_active=True, pk__in=teams.values("members")).order_by("username")


# Exports of the queue page and of GET /api/v1/tickets/export/. `name` is the field's name
# in the API (and the import template's column); `label` the page export's header.


def _field(name: str, **kwargs) -> ExportColumn:
    label = capfirst(Ticket._meta.get_field(name).verbose_name)
    return ExportColumn(name, name, label=label, **kwargs)


TICKET_EXPORT_COLUMNS = (
    ExportColumn("external_id", "external_id", label=_("Number")),
    _field("subject"),
    ExportColumn("customer", "customer__external_id", label=_("Customer ID")),
    ExportColumn("customer_name", "customer__name", label=_("Customer name")),
    ExportColumn("region", "customer__region__name", label=_("Region")),
    ExportColumn("unit", "unit__serial", label=_("Serial number")),
    ExportColumn(
        "product_model", "unit__product_model__code", label=capfirst(Unit._meta.get_field("product_model").verbose_name)
    ),
    _field("type", choices=TicketType),
    _field("channel", choices=Channel),
    _field("priority", choices=Priority),
    _field("status", choices=Status),
    ExportColumn("team", "team__name", label=_("Team")),
    ExportColumn("assignee", "assignee__username", label=_("Assignee")),
    _field("created_at", timestamp=True),
    _field("assigned_at", timestamp=True),
    _field("first_response_at", timestamp=True),
    _field("response_due_at", timestamp=True),
    _field("resolution_due_at", timestamp=True),
    _field("resolved_at", timestamp=True),
    _field("closed_at", timestamp=True),
    _field("follow_up_at", timestamp=True),
    _field("visits"),
    _field("reopened_count"),
    _field("reassignments"),
)


def ticket_export_table(queryset: QuerySet[Ticket], *, translated: bool = False) -> ExportTable:
    """The tickets of `queryset` (already scoped and filtered), in its order, as export rows.
    `translated`: the page export's headers, in the user's language, with enum labels."""
    return export_table(queryset, TICKET_EXPORT_COLUMNS, translated=translated)
