"""Every write of the service operation, one module per concern; import from here."""

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
    "StaleVersion",
    "allowed_transitions",
    "ticket_assign",
    "ticket_comment",
    "ticket_create",
    "ticket_transition",
    "transition_allowed",
]
