"""Reads of the service operation, scoped to what a user may see. Agents and
supervisors see their teams' tickets and those assigned to them; the global-read
roles see all. Anything outside the scope is simply absent (the views answer 404)."""

from django.db.models import Case, CharField, DateTimeField, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from catalog.exports import ExportColumn, ExportTable, export_table
from catalog.models import Customer, Unit, User
from catalog.roles import user_has_global_read
from catalog.selectors import customer_list, unit_list

from .models import (
    OPEN_STATUSES,
    Channel,
    EventKind,
    Notification,
    Priority,
    ServiceTask,
    Status,
    Team,
    Ticket,
    TicketEvent,
    TicketType,
    Webhook,
    WebhookDelivery,
)


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


# What the customer's progress page shows: never notes, SLA, assignment or survey rows.
CUSTOMER_EVENT_KINDS = (EventKind.CREATED, EventKind.STATUS, EventKind.REPLY, EventKind.CUSTOMER_REPLY)


def ticket_customer_timeline(*, ticket: Ticket) -> QuerySet[TicketEvent]:
    return ticket.events.filter(public=True, kind__in=CUSTOMER_EVENT_KINDS).select_related("actor")


def ticket_service_tasks(*, ticket: Ticket, open_only: bool = False) -> QuerySet[ServiceTask]:
    """The ticket's follow-ups and callbacks, earliest due first."""
    qs = ticket.service_tasks.select_related("done_by").order_by("due_at", "id")
    return qs.filter(done_at__isnull=True) if open_only else qs


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
    if sort == "sla_due":
        return [F("sla_next_due_at").asc(nulls_last=True), "id"]
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
    if sort == "sla_due":
        qs = qs.annotate(sla_next_due_at=sla_next_due_expression())
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


# --- notifications: the bell, its list page and API; webhooks (admins only) -------------


def notifications_for_user(*, user, unread_only: bool = False, now=None) -> QuerySet[Notification]:
    """The user's delivered notifications (deliver_after <= now), newest first. A notice
    still waiting for the user's working hours is not shown yet."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    qs = Notification.objects.filter(recipient=user, deliver_after__lte=now or timezone.now())
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-deliver_after", "-id")


def notification_unread_count(*, user, now=None) -> int:
    """The bell's number: one indexed COUNT (recipient, read_at, deliver_after)."""
    return notifications_for_user(user=user, unread_only=True, now=now).count()


def notification_get_for_user(*, user, pk, now=None) -> Notification:
    try:
        return notifications_for_user(user=user, now=now).get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise Http404("No such notification.") from None


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.order_by("name", "id")


def webhook_deliveries(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return webhook.deliveries.order_by("-created_at", "-id")


# --- SLA state (issue 5): per ticket in Python, per queryset in the database --------------

# The badge of a list row: the most pressing state of the ticket's targets.
SLA_STATE_ORDER = ("breached", "at_risk", "paused", "ok", "met", "none")


def ticket_sla_state(ticket: Ticket, *, now=None, clock=None) -> dict:
    """{target: {"target", "state", "due_at", "business_minutes_left", ...}} for the
    response and resolution targets. state: none (no due time), met (also "met_late"),
    paused (waiting for the customer; the time left is frozen at the pause), breached
    (the due time passed: business_minutes_left is negative, the overdue time), at_risk
    (at least SLA_AT_RISK_RATIO of the target's business minutes consumed) or ok.
    Extra keys: met_at, met_late, paused_since, target_minutes. `clock`: the ticket's
    (tickets.services.sla.ticket_clock) when the caller has it."""
    from django.conf import settings

    from .services.sla import TARGETS, target_due, target_met_at, target_minutes, ticket_clock

    now = now or timezone.now()
    paused = ticket.sla_paused_at if ticket.status == Status.WAITING_CUSTOMER else None
    result = {}
    for target in TARGETS:
        due, met = target_due(ticket, target), target_met_at(ticket, target)
        item = {
            "target": target,
            "state": "none",
            "due_at": due,
            "business_minutes_left": None,
            "met_at": met,
            "met_late": False,
            "paused_since": None,
            "target_minutes": None,
        }
        result[target] = item
        if due is None:
            continue
        if met is not None:
            item.update(state="met", met_late=met > due)
            continue
        if ticket.status not in OPEN_STATUSES:
            continue
        clock = clock or ticket_clock(ticket)
        total = target_minutes(ticket, target, clock)
        ref = paused or now
        item["target_minutes"] = round(total, 1)
        if ref >= due:
            item.update(state="breached", business_minutes_left=-round(clock.minutes_between(due, ref), 1))
            continue
        left = clock.minutes_between(ref, due)
        item["business_minutes_left"] = round(left, 1)
        if paused is not None:
            item.update(state="paused", paused_since=paused)
        elif total - left >= settings.SLA_AT_RISK_RATIO * total:
            item["state"] = "at_risk"
        else:
            item["state"] = "ok"
    return result


def ticket_sla_summary(states: dict) -> dict:
    """The row badge of ticket_sla_state's result: the most pressing target's entry."""
    return min(states.values(), key=lambda item: SLA_STATE_ORDER.index(item["state"]))


def tickets_sla_summaries(tickets, *, now=None) -> None:
    """Set `ticket.sla` (ticket_sla_summary) on each ticket of a page, reading every
    calendar involved once: a constant number of queries, whatever the number of rows.
    The tickets need their team (select_related)."""
    from .calendars import ClockCache
    from .models import SlaPolicy

    tickets = list(tickets)
    now = now or timezone.now()
    policies = dict(
        SlaPolicy.objects.filter(pk__in={t.sla_policy_id for t in tickets if t.sla_policy_id}).values_list(
            "pk", "calendar_id"
        )
    )
    clocks = ClockCache()
    calendar_ids = {t.pk: policies.get(t.sla_policy_id) or (t.team.calendar_id if t.team_id else None) for t in tickets}
    timed = {t.pk for t in tickets if t.status in OPEN_STATUSES and (t.response_due_at or t.resolution_due_at)}
    if timed:
        clocks.load({calendar_ids[pk] for pk in timed})
    for ticket in tickets:
        clock = clocks.get(calendar_ids[ticket.pk]) if ticket.pk in timed else None
        ticket.sla = ticket_sla_summary(ticket_sla_state(ticket, now=now, clock=clock))


def _unmet(target: str) -> Q:
    if target == "response":
        return Q(first_response_at__isnull=True, resolved_at__isnull=True, response_due_at__isnull=False)
    return Q(resolved_at__isnull=True, resolution_due_at__isnull=False)


def sla_next_due_expression():
    """The earliest unmet due time of an open ticket (NULL otherwise): the queue's
    "nearest due time" sort, nulls last."""
    response_first = _unmet("response") & (~_unmet("resolution") | Q(response_due_at__lte=F("resolution_due_at")))
    return Case(
        When(~Q(status__in=OPEN_STATUSES), then=Value(None)),
        When(response_first, then=F("response_due_at")),
        When(_unmet("resolution"), then=F("resolution_due_at")),
        default=Value(None),
        output_field=DateTimeField(),
    )


def sla_state_annotate(queryset: QuerySet[Ticket], *, now) -> QuerySet[Ticket]:
    """Annotate `sla_state` and `sla_next_due_at` in the database. Over the open
    tickets' unmet targets: breached when a due time is before now (while paused: before
    the pause began); at_risk when a level-1 escalation of an unmet target was recorded
    or its next checkpoint has come (sla_next_check_at <= now: the sweep has not run
    yet); ok otherwise, also while paused; none without an unmet target with a due time
    (and for resolved or closed tickets)."""
    from .models import Escalation, EscalationLevel

    is_open = Q(status__in=OPEN_STATUSES)

    def breached(field: str) -> Q:
        return Q(**{f"{field}__lt": now}) & (Q(sla_paused_at__isnull=True) | Q(**{f"{field}__lt": F("sla_paused_at")}))

    def at_risk_recorded(target: str) -> Q:
        escalations = Escalation.objects.filter(ticket=OuterRef("pk"), target=target, level=EscalationLevel.AT_RISK)
        return _unmet(target) & Q(Exists(escalations))

    breached_q = is_open & (
        (_unmet("response") & breached("response_due_at")) | (_unmet("resolution") & breached("resolution_due_at"))
    )
    none_q = ~is_open | (~_unmet("response") & ~_unmet("resolution"))
    at_risk_q = Q(sla_paused_at__isnull=True) & (
        at_risk_recorded("response") | at_risk_recorded("resolution") | Q(sla_next_check_at__lte=now)
    )
    return queryset.annotate(
        sla_state=Case(
            When(breached_q, then=Value("breached")),
            When(none_q, then=Value("none")),
            When(at_risk_q, then=Value("at_risk")),
            default=Value("ok"),
            output_field=CharField(),
        ),
        sla_next_due_at=sla_next_due_expression(),
    )
