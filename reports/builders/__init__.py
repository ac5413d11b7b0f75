"""PDF builders: each turns the figures of one report into a reportlab story and bytes."""
