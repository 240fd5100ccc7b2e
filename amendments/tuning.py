"""Worker tuning, shared by the product's worker and the benchmark's Temporal-floor worker, so
that both run under the same settings.

- max_concurrent_activities: activities in flight at once per worker; each holds at most one
  pooled HTTP connection to Dintero (the client's pool is sized to match).
- max_cached_workflows: workflows kept in memory between their tasks; a cache miss costs a
  replay of the workflow's history, a hit costs memory (see the benchmark's waiting mode).
- graceful_shutdown_timeout: on SIGTERM, how long running activities may finish.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

WORKER_TUNING: dict[str, Any] = {
    "max_concurrent_activities": 200,
    "max_cached_workflows": 10_000,
    "graceful_shutdown_timeout": timedelta(seconds=10),
}
