"""Business-time arithmetic on BusinessCalendar (issue 5)."""
