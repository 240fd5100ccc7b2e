"""Worker tuning, shared by the product's worker and the benchmark's Temporal-floor worker, so
that both run under the same settings.

- max_concurrent_activities: activities in flight at once per worker; each holds at most one
  pooled HTTP connection to Dintero. Kept at what one Python process can serve well within the
  activities' 15 s start-to-close: measured at 200, a saturated worker let activities time out
  and be retried (238 timed out in one benchmark run, every write reconciled, but wasted); the
  backlog is better left in Temporal's task queue, where no activity timeout runs.
- max_concurrent_workflow_tasks: workflow tasks taken at once. They run one at a time on the
  Python side, so a task taken beyond what the worker completes within a second or two only
  waits inside the worker while its 10 s timeout runs: measured with 10,000 amendments at once
  and the default 100, 6,820 tasks took over 5 s and 657 timed out and ran again. At 20 the
  backlog waits in the server's task queue instead.
- max_cached_workflows: workflows kept in memory between their tasks. A cached workflow costs
  about 0.17 MiB (each runs in its own sandbox; measured by the benchmark's waiting mode), so
  2,000 bound the cache near 350 MiB whatever the number of amendments waiting for a top-up; a
  workflow that fell out of the cache replays its history (about 60 events) on its next task,
  which costs CPU once per signal, not memory per waiting amendment.
- graceful_shutdown_timeout: on SIGTERM, how long running activities may finish.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

WORKER_TUNING: dict[str, Any] = {
    "max_concurrent_activities": 50,
    "max_concurrent_workflow_tasks": 20,
    "max_cached_workflows": 2_000,
    "graceful_shutdown_timeout": timedelta(seconds=10),
}
