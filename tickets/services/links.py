"""Issue 5: links (being built)."""
