"""Warranty and reliability analytics (issue 6): Weibull, Kaplan-Meier, Nevada, forecast."""
