"""Issue 5: notifications (being built)."""
