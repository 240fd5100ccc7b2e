"""Temporal workflows: orchestration only, deterministic, no I/O."""
