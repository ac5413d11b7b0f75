"""Issue 7 (being built)."""
