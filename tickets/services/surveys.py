"""Issue 5: surveys (being built)."""
