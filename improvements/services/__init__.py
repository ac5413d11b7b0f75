"""Every write of the improvements app (issues' gate, analysis, actions, reviews,
verification), re-exported so callers import from `improvements.services`."""

from .actions import action_create, action_due_change, action_status_set, action_update, actions_remind
from .issues import (
    GuardRefused,
    InvalidTransition,
    allowed_transitions,
    issue_create,
    issue_evidence_link,
    issue_guard_errors,
    issue_loop_back,
    issue_plan_approve,
    issue_reopen,
    issue_transition,
    issue_update,
)
from .rca import cause_add, cause_delete, cause_recall_launch, cause_unverify, cause_update, cause_verify, why_set
from .recurrence import recurrence_watch
from .reviews import agenda_item_add, agenda_item_decide, meeting_agenda_build, meeting_create, meeting_hold
from .sources import issue_create_from_alert, issue_create_from_records
from .verification import verification_run

__all__ = [
    "GuardRefused",
    "InvalidTransition",
    "action_create",
    "action_due_change",
    "action_status_set",
    "action_update",
    "actions_remind",
    "agenda_item_add",
    "agenda_item_decide",
    "allowed_transitions",
    "cause_add",
    "cause_delete",
    "cause_recall_launch",
    "cause_unverify",
    "cause_update",
    "cause_verify",
    "issue_create",
    "issue_create_from_alert",
    "issue_create_from_records",
    "issue_evidence_link",
    "issue_guard_errors",
    "issue_loop_back",
    "issue_plan_approve",
    "issue_reopen",
    "issue_transition",
    "issue_update",
    "meeting_agenda_build",
    "meeting_create",
    "meeting_hold",
    "recurrence_watch",
    "verification_run",
    "why_set",
]
