"""Issue 5: sla (being built)."""
