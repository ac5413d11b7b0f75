"""Issue 5: escalation (being built)."""
