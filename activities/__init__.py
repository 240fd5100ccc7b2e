"""Temporal activities: thin adapters over the Dintero client that make each write idempotent."""
