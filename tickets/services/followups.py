"""Issue 5: followups (being built)."""
