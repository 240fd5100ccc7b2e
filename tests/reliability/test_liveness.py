"""Never wedged: a read that cannot end leaves the workflow task, and a worker told to stop stops.

The wedge seen on a loaded machine: a worker that had stopped polling (as a worker does once it
is shutting down, or after a fatal error) kept heartbeating the workflow tasks whose read ran in
the task (a local activity), for 30 minutes, because the SDK retries a local activity without
limit and waits for it before the worker may end. Every workflow those tasks held was stuck with
it, and no other worker could take them. Here Dintero refuses one order's read for good (a
pattern that reproduces it every time), for the plan's read and for the check's:
- `python worker.py`, sent SIGTERM while the read fails, exits within its graceful shutdown and
  the read's budget (`workflows/policies.py`, `LOCAL_READ`);
- before it exits, the read leaves the task and waits in the task queue instead (a regular
  activity in the history), so the workflow task ends and any worker can take the read;
- once Dintero answers again another worker completes the amendment, every record written once.
The slot rule is tested on its own in `tests/worker/test_tuning.py`.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from amendments.api.starter import send_authorization_outcome, start_amendment
from amendments.simulator import FaultRule, Simulator
from tests.support.harness import Harness, eventually
from tests.support.processes import WorkerProcess
from tests.support.reliability import cases, problems_with

# SIGTERM to exit: the worker's graceful shutdown (10 s), the local read's budget (at most 5
# attempts of 10 s), and room for a loaded machine. Today's code never exits.
EXIT_WITHIN = 120.0


async def scheduled_activities(handle: WorkflowHandle[Any, Any]) -> list[str]:
    names: list[str] = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names.append(event.activity_task_scheduled_event_attributes.activity_type.name)
    return names


@pytest.mark.parametrize("read", ["plan", "verify"])
async def test_a_read_that_never_ends_leaves_the_task_and_the_worker_stops(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    harness: Harness,
    tmp_path: Path,
    workers: list[WorkerProcess],
    read: str,
) -> None:
    _, url = served
    [case] = cases(1)
    order_id = await harness.place(*case.items, capture=case.captured)
    task_queue = f"liveness-{uuid.uuid4()}"
    worker = WorkerProcess(env, url, task_queue, tmp_path / "worker.log")
    workers.append(worker)
    await worker.start()
    # Every read of the order fails from here on (the check's: after the plan's went through).
    refused = FaultRule(
        method="GET", path=f"*/orders/{order_id}", status=503, after=0 if read == "plan" else 1
    )
    socket_sim.add_faults([refused])
    handle = await start_amendment(
        env.client, case.request(order_id, f"liveness-{read}"), task_queue=task_queue
    )
    for payment_id, amount, success in case.outcomes:
        await send_authorization_outcome(
            env.client, order_id, {"payment_id": payment_id, "amount": amount, "success": success}
        )
    mark = len(socket_sim.requests)

    async def refused_once() -> bool | None:
        return True if any(r.get("fault") for r in socket_sim.requests[mark:]) else None

    # The read is under way and failing: the worker, told to stop now, stops (today's worker
    # heartbeats the workflow task for ever instead, and never exits).
    await eventually(refused_once, within=60)
    assert worker.process is not None
    stopped = asyncio.get_running_loop().time()
    assert await worker.stop(within=EXIT_WITHIN) == 0
    assert asyncio.get_running_loop().time() - stopped < EXIT_WITHIN
    # Before it did, the read left the workflow task: it waits in the task queue as a regular
    # activity, for any worker.
    activity = "plan_amendment" if read == "plan" else "verify_ledger"
    assert activity in await scheduled_activities(handle)
    # Dintero answers again: a new worker takes the queued read and the amendment completes.
    socket_sim.faults.clear()
    await worker.start()
    result = await asyncio.wait_for(handle.result(), timeout=120)
    assert result.outcome == "applied"
    assert await worker.stop() == 0
    assert problems_with(socket_sim, order_id, f"liveness-{read}", case) == []
