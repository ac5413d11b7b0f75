"""Issue 6: failures (being built)."""
