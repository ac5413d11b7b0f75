"""Every write of the service operation, one module per concern; import from here."""

from .dispatch import (
    agent_shift_delete,
    agent_shift_save,
    dispatch_rule_delete,
    dispatch_rule_save,
    ticket_dispatch,
    ticket_team_set,
)
from .escalation import sla_sweep
from .followups import service_task_complete, ticket_resolved_followups
from .links import LinkInvalid, ticket_customer_confirm, ticket_customer_reply, ticket_links_revoke
from .notifications import (
    notification_mark_read,
    notification_send,
    notifications_deliver,
    notifications_mark_all_read,
    webhook_create,
    webhook_deliveries_retry,
)
from .sla import calendar_holidays_prefill, sla_policy_match, ticket_priority_set
from .surveys import survey_submit
from .tickets import (
    ASSIGNABLE,
    REOPEN_FROM,
    TRANSITIONS,
    InvalidTransition,
    StaleVersion,
    allowed_transitions,
    ticket_assign,
    ticket_comment,
    ticket_create,
    ticket_transition,
    transition_allowed,
)

__all__ = [
    "ASSIGNABLE",
    "REOPEN_FROM",
    "TRANSITIONS",
    "InvalidTransition",
    "LinkInvalid",
    "StaleVersion",
    "agent_shift_delete",
    "agent_shift_save",
    "allowed_transitions",
    "calendar_holidays_prefill",
    "dispatch_rule_delete",
    "dispatch_rule_save",
    "notification_mark_read",
    "notification_send",
    "notifications_deliver",
    "notifications_mark_all_read",
    "service_task_complete",
    "sla_policy_match",
    "sla_sweep",
    "survey_submit",
    "ticket_assign",
    "ticket_comment",
    "ticket_create",
    "ticket_customer_confirm",
    "ticket_customer_reply",
    "ticket_dispatch",
    "ticket_links_revoke",
    "ticket_priority_set",
    "ticket_resolved_followups",
    "ticket_transition",
    "ticket_team_set",
    "transition_allowed",
    "webhook_create",
    "webhook_deliveries_retry",
]
