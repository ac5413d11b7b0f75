"""Issue 5: dispatch (being built)."""
