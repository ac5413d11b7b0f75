"""What this app plugs into the apps below it: the "overdue_actions" process check and
the "improvement" auto-action of alert rules, and the ticket page's panel.
(Helper H1 implements this module.)"""


def hooks_register() -> None:
    pass
