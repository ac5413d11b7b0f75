"""Issue 6: recalls (being built)."""
