"""Cluster add-ons: DNS, metrics and the dashboard."""
