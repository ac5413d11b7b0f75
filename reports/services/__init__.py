"""Writes of the reports app: generation into the archive, subscriptions and their
deliveries (helper R3 implements them)."""
